"""MLflow tracking and registry: where runs, metrics, hashes and the registered bundle go.

Default store: SQLite in the output folder (``sqlite:///<out>/mlflow.db``) with artifacts
beside it; a tracking server when ``tracking.uri`` says so. MLflow makes no network call of
its own: :func:`disable_network` (run when ``riskcast.tracking`` is imported) turns off its
telemetry before ``mlflow`` is imported.
"""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import mlflow

from riskcast.tracking.offline import disable_network
from riskcast.tracking.portable import build_wheel, pinned_requirements
from riskcast.tracking.provenance import TAG_COMMIT, TAG_VERSION, provenance_tags
from riskcast.tracking.registry import set_version_tags

__all__ = [
    "tracking_uri",
    "setup_mlflow",
    "log_bundle",
    "load_registered",
    "model_uri",
    "BUNDLE_ARTIFACT",
    "WHEEL_ARTIFACT",
]

#: Artifact path of the bundle inside its run (``runs:/<run_id>/forecast_bundle``).
BUNDLE_ARTIFACT = "forecast_bundle"
#: The pyfunc artifact key of riskcast's wheel; MLflow stores it as ``artifacts/<wheel file>``.
WHEEL_ARTIFACT = "riskcast_wheel"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def tracking_uri(configured: str | None, out: Path) -> str:
    if configured:
        return configured
    return f"sqlite:///{(Path(out).resolve() / 'mlflow.db').as_posix()}"


def setup_mlflow(uri: str, experiment: str, out: Path, registry_uri: str | None = None):
    """Point MLflow at the store and return the experiment id (artifacts in <out>/mlartifacts)."""
    disable_network()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(registry_uri or uri)
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        location = None
        if uri.startswith("sqlite:///"):
            # artifacts beside the database, wherever the run's output folder is
            location = (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
        elif uri.split("://", 1)[0].split("+", 1)[0] in ("postgresql", "mysql", "mssql"):
            # a database store without a server: MLflow would put artifacts in ./mlruns of the
            # current directory, wherever cron happens to start the job
            location = (Path(out).resolve() / "mlartifacts").as_uri()
        exp_id = mlflow.create_experiment(experiment, artifact_location=location)
    else:
        exp_id = exp.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def log_bundle(
    bundle,
    registered_name: str,
    input_example=None,
    *,
    window: str | None = None,
    metrics: Mapping[str, float] | None = None,
    data_hash: str | None = None,
    config_hash: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """Log the pyfunc bundle with its signature in the active run, register it and tag the version.

    The logged model carries what it needs to load in a fresh environment: riskcast's wheel
    (``artifacts/riskcast-<version>-py3-none-any.whl``) and a ``requirements.txt`` of pinned
    distributions plus that wheel, by a path relative to the model's folder (``pip install -r
    requirements.txt`` run there, as MLflow's own virtualenv manager does, installs both).

    Args:
        bundle: a :class:`~riskcast.tracking.bundle.ForecastBundle`.
        registered_name: the registered model name.
        input_example: a few panel rows holding the feature columns (and ``unit_id``/``month``,
            which the example then shows); the signature is inferred from them and from the
            bundle's output on them.
        window: the backtest window the ``metrics`` were computed on (tag
            ``riskcast.backtest_window``).
        metrics: backtest metrics to store as ``riskcast.metric.<key>`` tags, e.g. the
            promotion metric and the calibration metric.
        data_hash, config_hash: provenance tags (``data_hash`` defaults to the bundle's).
        tags: any other version tags.

    Returns:
        ``(registered_name, version)``.
    """
    disable_network()
    if input_example is None:
        raise ValueError(
            "log_bundle needs an input_example (rows of the feature columns) to infer the signature"
        )
    example = bundle.model_input(input_example)
    # MLflow warns that a Python object is pickled: riskcast loads bundles only from the
    # configured registry, which is the trust boundary, so the warning is noise here.
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="riskcast-wheel-") as tmp:
        wheel = build_wheel(Path(tmp))
        info = mlflow.pyfunc.log_model(
            name=BUNDLE_ARTIFACT,
            python_model=bundle,
            artifacts={WHEEL_ARTIFACT: str(wheel)},
            registered_model_name=registered_name,
            signature=bundle.signature(example),
            input_example=example,
            metadata=bundle.metadata(),
            # Explicit and pinned (see riskcast.tracking.portable); MLflow's inference would load
            # the model again in a subprocess and leave riskcast itself unpinned and uninstallable.
            pip_requirements=[*pinned_requirements(bundle), f"artifacts/{wheel.name}"],
        )
    version = str(info.registered_model_version)
    set_version_tags(
        mlflow.MlflowClient(),
        registered_name,
        version,
        window=window,
        metrics=metrics,
        data_hash=data_hash or getattr(bundle, "data_hash", "") or None,
        config_hash=config_hash,
        extra={
            "riskcast.model_name": bundle.model_name,
            "riskcast.feature_spec_sha256": getattr(bundle, "feature_spec_sha256", ""),
            # which riskcast made the version (the wheel beside it is that code)
            **{k: v for k, v in provenance_tags().items() if k in (TAG_VERSION, TAG_COMMIT)},
            **(tags or {}),
        },
    )
    return registered_name, version


def model_uri(
    name: str | None = None,
    version: str | int | None = None,
    alias: str | None = None,
    run_id: str | None = None,
) -> str:
    """The ``models:/`` or ``runs:/`` URI of a bundle; anything that could name a path is refused.

    Exactly one of ``version``, ``alias`` or ``run_id`` may be given; with none, the
    ``champion`` alias of ``name``.
    """
    if sum(x is not None for x in (version, alias, run_id)) > 1:
        raise ValueError("give one of version, alias or run_id, not several")
    if run_id is not None:
        if not _RUN_ID.match(str(run_id)):
            raise ValueError(f"not an MLflow run id (32 hex digits): {run_id!r}")
        return f"runs:/{run_id}/{BUNDLE_ARTIFACT}"
    if not name or not _NAME.match(name) or ".." in name:
        raise ValueError(
            f"not a registered model name: {name!r} (bundles load from the registry only, never from a path)"
        )
    if version is not None:
        if not str(version).isdigit():
            raise ValueError(f"not a model version number: {version!r}")
        return f"models:/{name}/{int(version)}"
    alias = "champion" if alias is None else alias
    if not _ALIAS.match(alias):
        raise ValueError(f"not a model alias: {alias!r}")
    return f"models:/{name}@{alias}"


def load_registered(
    name: str | None = None,
    version: str | int | None = None,
    alias: str | None = None,
    run_id: str | None = None,
):
    """Load a bundle through the configured registry or tracking store only.

    ``models:/name/3``, ``models:/name@champion`` (the default) or ``runs:/<run_id>/forecast_bundle``
    in the current tracking store; a file path or any other URI is refused (see :func:`model_uri`).
    Call :func:`setup_mlflow` (or ``mlflow.set_tracking_uri``/``set_registry_uri``) first.
    """
    uri = model_uri(name, version=version, alias=alias, run_id=run_id)
    disable_network()
    if run_id is not None:
        mlflow.MlflowClient().get_run(run_id)  # fails clearly when the run is not in this store
    return mlflow.pyfunc.load_model(uri)
