"""riskcast never lets MLflow make a network call it was not told to make: telemetry off.

MLflow creates its telemetry client on import, so the environment is set before ``mlflow`` is
imported anywhere in riskcast: ``riskcast.tracking`` calls :func:`disable_network` first thing.
"""

from __future__ import annotations

import os
import sys

__all__ = ["OFFLINE_ENV", "disable_network"]

#: Environment MLflow 3.x reads; each is only a default, so a user who sets one wins.
OFFLINE_ENV = {
    # mlflow.telemetry: no usage records and no config fetch from mlflow.org.
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # The cross-tool opt-out, also honoured by MLflow's telemetry check.
    "DO_NOT_TRACK": "true",
    # Not network, but progress bars would fill job logs.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # mlflow.agent.hint prints advice on import when it detects a coding agent.
    "MLFLOW_DISABLE_AGENT_HINT": "true",
}


def disable_network() -> None:
    """Set :data:`OFFLINE_ENV` defaults; if mlflow is already imported, stop its telemetry client.

    MLflow creates its telemetry client on import, so the variables must be set first; the
    package ``riskcast.tracking`` calls this in its ``__init__``. When something imported
    mlflow earlier, the client is terminated and re-created under the new environment
    (which, with telemetry disabled, sets it to None).
    """
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    if "mlflow.telemetry" in sys.modules:
        # local by design: this module runs before mlflow is imported (mlflow reads the environment
        # on import) and touches mlflow only when something else has already imported it
        from mlflow.telemetry.client import get_telemetry_client, set_telemetry_client

        client = get_telemetry_client()
        if client is not None:
            client.flush(terminate=True)
        set_telemetry_client()
