"""LightGBM boosters trained outside scikit-learn's wrappers (on a Dask cluster, from block
files) in the two roles :class:`~riskcast.models.gbm.LGBMHurdle` gives its ensembles.

``LGBMClassifier.predict_proba`` of a binary model is ``booster.predict`` beside its complement,
and ``LGBMRegressor.predict`` is ``booster.predict``: these wrappers return the same numbers, so
a hurdle holding them predicts, explains and pickles like one fitted in process.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

__all__ = ["BoosterClassifier", "BoosterRegressor"]


class BoosterClassifier:
    """A binary ``lightgbm.Booster`` as the hurdle's classifier."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster_ = booster

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        p = self.booster_.predict(x)
        return np.column_stack([1 - p, p])

    def predict(self, x: np.ndarray, pred_contrib: bool = False) -> np.ndarray:
        if pred_contrib:
            return self.booster_.predict(x, pred_contrib=True)
        return (self.booster_.predict(x) >= 0.5).astype(float)


class BoosterRegressor:
    """A count ``lightgbm.Booster`` (Poisson or Tweedie) as the hurdle's excess-count regressor."""

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster_ = booster

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.booster_.predict(x)
