"""MLflow tracking and registry: where runs, metrics, hashes and the registered bundle go.

Default store: SQLite in the output folder (``sqlite:///<out>/mlflow.db``) with artifacts
beside it; a tracking server when ``tracking.uri`` says so.
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

__all__ = ["tracking_uri", "setup_mlflow", "file_sha256", "log_bundle", "load_registered"]


def tracking_uri(configured: str | None, out: Path) -> str:
    if configured:
        return configured
    return f"sqlite:///{(Path(out).resolve() / 'mlflow.db').as_posix()}"


def setup_mlflow(uri: str, experiment: str, out: Path, registry_uri: str | None = None):
    """Point MLflow at the store and return the experiment id (artifacts in <out>/mlartifacts)."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(registry_uri or uri)
    exp = mlflow.get_experiment_by_name(experiment)
    if exp is None:
        location = None
        if uri.startswith("sqlite:"):
            location = (Path(out).resolve() / "mlartifacts").as_uri()
        exp_id = mlflow.create_experiment(experiment, artifact_location=location)
    else:
        exp_id = exp.experiment_id
    mlflow.set_experiment(experiment_id=exp_id)
    return exp_id


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def log_bundle(bundle, registered_name: str, input_example=None):
    """Log the pyfunc bundle in the active run and register it; returns (name, version)."""
    import mlflow

    # MLflow warns that a Python object is pickled: riskcast loads bundles only from the
    # configured registry, which is the trust boundary, so the warning is noise here.
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
    info = mlflow.pyfunc.log_model(
        name="forecast_bundle",
        python_model=bundle,
        registered_model_name=registered_name,
        input_example=input_example,
        pip_requirements=["riskcast", "mlflow", "scikit-learn", "pandas", "numpy"],
    )
    return registered_name, str(info.registered_model_version)


def load_registered(name: str, version: str | None = None, alias: str | None = None):
    """Load a bundle from the configured registry only (``models:/`` URIs)."""
    import mlflow

    ref = f"@{alias}" if alias else f"/{version}" if version else "/latest"
    return mlflow.pyfunc.load_model(f"models:/{name}{ref}")
