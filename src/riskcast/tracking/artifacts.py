"""Where a registered bundle's artifact lives, and loading it once per process.

Used where the model travels to other processes (Dask workers): the driver resolves a
``models:/`` or ``runs:/`` URI to the artifact location once, and each worker loads from there.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import mlflow
import mlflow.pyfunc

__all__ = ["resolve_model_location", "load_pyfunc_once"]


def resolve_model_location(uri: str) -> str:
    """The artifact location of a registered bundle, read from MLflow on the driver.

    Args:
        uri: ``models:/<name>/<version>``, ``models:/<name>@<alias>`` (the alias is read now,
            once) or ``runs:/<run_id>/<path>``, in the current tracking and registry store.

    Returns:
        The location workers load from (``file:///...``, ``s3://...``).

    Raises:
        ValueError: any other URI; a bare path is refused, as bundles come from the registry
            only (see :func:`riskcast.tracking.runs.model_uri`).
    """
    client = mlflow.MlflowClient()
    if uri.startswith("models:/"):
        rest = uri[len("models:/") :].strip("/")
        if "@" in rest:
            name, alias = rest.split("@", 1)
            return client.get_model_version_download_uri(
                name, client.get_model_version_by_alias(name, alias).version
            )
        if "/" in rest:
            return client.get_model_version_download_uri(*rest.rsplit("/", 1))
        raise ValueError(
            f"not a registered model URI (models:/<name>/<version> or models:/<name>@<alias>): {uri!r}"
        )
    if uri.startswith("runs:/"):
        info = mlflow.models.get_model_info(uri)
        if getattr(info, "model_id", None):  # MLflow 3: a logged model of the run
            return client.get_logged_model(info.model_id).artifact_location
        run_id, _, path = uri[len("runs:/") :].partition("/")
        return f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{path}"
    raise ValueError(
        f"not a models:/ or runs:/ URI: {uri!r} (bundles load from the registry only, never from a path)"
    )


_LOAD_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _load_cached(location: str):
    return mlflow.pyfunc.load_model(location)


def load_pyfunc_once(location: str):
    """The pyfunc at ``location``, loaded once per process; the lock keeps a worker's threads
    from loading it side by side."""
    with _LOAD_LOCK:
        return _load_cached(location)
