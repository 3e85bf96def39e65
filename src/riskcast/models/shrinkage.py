"""Shrinkage towards the unit's climatology, more at longer horizons: ``Shrunk(estimator)``.

A forecast of month t + h carries less information about that month the larger h is, and the
unit's own climatology (its share of the last 12 months with an attack) is the honest fallback.
``Shrunk`` therefore forecasts

    P = (1 - lam(h)) * P_model + lam(h) * P_climatology,   lam(h) = h / (h + half_horizon)

so with ``half_horizon = 12`` the climatology weighs 0.08 at h = 1, 0.2 at h = 3, 0.33 at h = 6
and 0.5 at h = 12. Counts and count quantiles are blended with the same weights.

Why a schedule and not weights learned on a hold-out. Measured on the real panels (Brier skill
vs climatology at h = 1/3/6/12, identical folds, Burkina provinces the trending case):

    logistic alone                        Mali cercles 0.079/0.050/0.060/0.094  Burkina 0.068/0.056/0.014/-0.045
    Ensemble with climatology as a member
      (convex weights learned on the last
      12 months of each training window)  Mali cercles 0.071/0.042/0.050/0.098  Burkina 0.024/0.020/0.020/0.003
    weight re-learned at every origin on
      the last 12 scored origins          Mali cercles 0.077/0.042/0.056/0.106  Burkina 0.068/0.063/0.032/-0.016
    this schedule (half_horizon = 12)     Mali cercles 0.078/0.052/0.067/0.104  Burkina 0.070/0.068/0.061/0.058

Where violence trends, the weight that was best on the recent past is not the best for the
next months (Burkina's violence tripled in 2018-2020), so learned weights overfit the hold-out;
the schedule costs at most 0.001 at h = 1 and is above climatology at every horizon on both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from riskcast.models._dist import ParamNames
from riskcast.models.baselines import Climatology
from riskcast.models.calibration import delegate, fit_estimator
from riskcast.models.outputs import QUANTILES, predict_outputs

__all__ = ["Shrunk", "climatology_weight"]


def climatology_weight(horizon: int, half_horizon: float) -> float:
    """The climatology's weight at ``horizon``: h / (h + half_horizon), 0 when half_horizon is inf."""
    if half_horizon <= 0:
        raise ValueError(f"half_horizon must be > 0 (months), not {half_horizon!r}")
    return float(horizon / (horizon + half_horizon))


class Shrunk(ParamNames, ClassifierMixin, BaseEstimator):
    """``estimator`` shrunk towards the unit's climatology by ``h / (h + half_horizon)``.

    The climatology reads the run's share and sum columns (the run fills ``share_column``,
    ``sum_column`` and ``window``, as for :class:`~riskcast.models.baselines.Climatology`).
    Contributions are the estimator's own (the climatology's part has no features to name).
    """

    def __init__(
        self,
        estimator=None,
        half_horizon: float = 12.0,
        horizon: int = 1,
        share_column: str = "rolling_share_any_window12",
        sum_column: str = "rolling_sum_window12",
        window: int = 12,
    ) -> None:
        self.estimator = estimator
        self.half_horizon = half_horizon
        self.horizon = horizon
        self.share_column = share_column
        self.sum_column = sum_column
        self.window = window

    def fit(self, X: pd.DataFrame, y, y_count=None, months=None) -> "Shrunk":
        if self.estimator is None:
            raise ValueError('Shrunk needs an estimator (base = "<model name>")')
        return self.fit_on(
            fit_estimator(clone(self.estimator), X, y, y_count, months, self.horizon), X, y, y_count
        )

    def fit_on(self, fitted_estimator, X: pd.DataFrame, y, y_count=None) -> "Shrunk":
        """Complete the fit around ``fitted_estimator``, this model's estimator already fitted on the same rows.

        The backtest fits a model and its shrunk twin once (:func:`riskcast.evaluation.backtest.run_backtest`):
        the result is the one :meth:`fit` gives, because every fit is deterministic.
        """
        self.weight_ = climatology_weight(self.horizon, float(self.half_horizon))
        self.classes_ = np.array([0.0, 1.0])
        self.n_features_in_ = X.shape[1]
        self.estimator_ = fitted_estimator
        self.climatology_ = Climatology(self.share_column, self.sum_column, self.window).fit(
            X, y, y_count=y_count
        )
        return self

    def _blend(self, model: np.ndarray, clim: np.ndarray) -> np.ndarray:
        return (1.0 - self.weight_) * np.asarray(model, dtype=float) + self.weight_ * np.asarray(
            clim, dtype=float
        )

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self._blend(self.estimator_.predict_proba(X)[:, 1], self.climatology_.predict_proba(X)[:, 1])
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)

    def predict_count(self, X: pd.DataFrame) -> np.ndarray:
        return self._blend(delegate(self.estimator_, "predict_count", X), self.climatology_.predict_count(X))

    def predict_quantiles(self, X: pd.DataFrame, q=(0.1, 0.5, 0.9)) -> np.ndarray:
        # The weighted mean of the two quantile sets ("Vincentization", as in Ensemble), in whole counts.
        return np.round(
            self._blend(
                delegate(self.estimator_, "predict_quantiles", X, q),
                self.climatology_.predict_quantiles(X, q),
            )
        )

    def predict_outputs(self, X: pd.DataFrame, q=QUANTILES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.predict_on(predict_outputs(self.estimator_, X, q), X, q)

    def predict_on(self, estimator_outputs: tuple, X: pd.DataFrame, q=QUANTILES) -> tuple:
        """``predict_outputs`` given the fitted estimator's own outputs on X (the backtest has them
        already: the twin of :meth:`fit_on`)."""
        p, count, quantiles = estimator_outputs
        clim_p, clim_count, clim_quantiles = self.climatology_.predict_outputs(X, q)
        return (
            self._blend(p, clim_p),
            self._blend(count, clim_count),
            np.round(self._blend(quantiles, clim_quantiles)),
        )

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        return delegate(self.estimator_, "contributions", X)
