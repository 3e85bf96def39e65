"""Forecast models in the scikit-learn contract: baselines, GLMs, boosting, calibration, ensemble.

Models know nothing of features: each reads the columns it is given (``columns``) and sees
``fit(X, y, y_count=None, months=None)``; see ``riskcast.models.spec`` for sets declared in
``models/*.toml``.
"""

from riskcast.models.baselines import Climatology, LastValue, Persistence, ZeroCount
from riskcast.models.calibration import Calibrated
from riskcast.models.ensemble import Ensemble
from riskcast.models.gbm import LGBMHurdle
from riskcast.models.glm import CountGLM
from riskcast.models.linear import LogisticCount

__all__ = [
    "Climatology",
    "Persistence",
    "ZeroCount",
    "LastValue",
    "LogisticCount",
    "CountGLM",
    "LGBMHurdle",
    "Calibrated",
    "Ensemble",
]
