"""MLflow tracking, the pyfunc scoring bundle and the model registry.

Importing this package first switches MLflow's telemetry off (before ``mlflow`` itself is
imported by a submodule), so riskcast never makes a network call it was not told to make.
"""

from __future__ import annotations

from riskcast.tracking.offline import disable_network

__all__: list[str] = []

disable_network()
