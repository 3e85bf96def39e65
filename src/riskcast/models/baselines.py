"""Honest baselines: climatology, persistence and two count baselines, in the model contract.

They read named feature columns (built by the feature pipeline) and know nothing else. Each
learns only what it must from the training rows (a rate, an NB dispersion) so that its
probabilities, counts and count quantiles are as honest as its single idea allows. On plain
arrays (scikit-learn's checks) the column names are integer positions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from riskcast.models._dist import (
    SIZE_MAX,
    NBCountMixin,
    column,
    fit_input,
    fit_nb_size,
    index_of,
    logit,
    nb_quantiles,
    predict_input,
)
from riskcast.models.outputs import QUANTILES

__all__ = ["Climatology", "Persistence", "ZeroCount", "LastValue"]


class _Baseline(NBCountMixin, ClassifierMixin, BaseEstimator):
    """Shared plumbing. Subclasses define ``_learn``, ``_p``, ``_mu`` and ``_contrib`` on validated input."""

    _allow_nan = True
    #: the backtest refits a baseline at every origin whatever its refit cadence: a fit costs
    #: next to nothing, and the reference every skill is measured against stays the same
    always_refit = True

    def _columns(self) -> list[str]:
        """The columns the baseline reads (named by its ``*column`` parameters)."""
        return [v for k, v in self.get_params(deep=False).items() if k.endswith("column")]

    def _own(self, X):
        """Only the columns the baseline reads, of a DataFrame X: validating the other 60-odd
        feature columns was two thirds of a baseline's backtest time (sklearn's per-column
        dtype checks, measured: 2.3 of 4.2 s for two baselines over the demo's folds)."""
        return X[self._columns()] if isinstance(X, pd.DataFrame) else X

    def fit(self, X: pd.DataFrame, y=None, y_count=None, months=None):
        """Learn the baseline's rate(s) from ``y`` and its NB size from ``y_count``; ``months`` is unused."""
        X = self._own(X)
        x, y = fit_input(self, X, y, allow_nan=True)
        self._learn(X, x, y)
        self.nb_size_ = SIZE_MAX if y_count is None else fit_nb_size(y_count, self._mu(X, x))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        X = self._own(X)
        p = self._p(X, predict_input(self, X, allow_nan=True))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)

    def predict_count(self, X: pd.DataFrame) -> np.ndarray:
        X = self._own(X)
        return self._mu(X, predict_input(self, X, allow_nan=True))

    def predict_outputs(self, X: pd.DataFrame, q=QUANTILES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(any), expected count and count quantiles from one validation of X (``riskcast.models.outputs``)."""
        X = self._own(X)
        x = predict_input(self, X, allow_nan=True)
        mu = self._mu(X, x)
        return self._p(X, x), mu, nb_quantiles(mu, getattr(self, "nb_size_", SIZE_MAX), q)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Log-odds of P(any) split into the one column the baseline reads and a bias."""
        X = self._own(X)
        x = predict_input(self, X, allow_nan=True)
        name, value, bias = self._contrib(X, x)
        return pd.DataFrame({str(name): value, "bias": bias}, index=index_of(X))


class Climatology(_Baseline):
    """P(attack) = the unit's share of the last k months with an attack (k = 12 by default).

    Clipped to [floor, 1 - floor] so that log loss stays finite. Expected count = the mean
    monthly count over the same window; its quantiles come from a negative binomial whose size
    is fitted on the training rows (the only thing the model learns; ``y`` may be None).
    """

    def __init__(
        self,
        share_column: str = "rolling_share_any_window12",
        sum_column: str = "rolling_sum_window12",
        window: int = 12,
        floor: float = 0.01,
    ) -> None:
        self.share_column = share_column
        self.sum_column = sum_column
        self.window = window
        self.floor = floor

    _requires_y = False

    def _learn(self, X, x, y) -> None:
        pass

    def _p(self, X, x) -> np.ndarray:
        return np.clip(column(X, x, self.share_column), self.floor, 1 - self.floor)

    def _mu(self, X, x) -> np.ndarray:
        return column(X, x, self.sum_column) / self.window

    def _contrib(self, X, x):
        # The whole log-odds is the share column's.
        return self.share_column, logit(self._p(X, x)), 0.0


class Persistence(_Baseline):
    """Calibrated persistence: P(attack at t+h | attack at t) and P(attack | none at t).

    The two rates are learned on the training rows with add-one smoothing, so "same as now"
    becomes a probability. Expected count = the count in month t, with NB quantiles around it.
    """

    def __init__(self, column: str = "current") -> None:
        self.column = column

    def _learn(self, X, x, y) -> None:
        if y is None:
            raise ValueError("Persistence needs y to learn its two rates")
        now = column(X, x, self.column) > 0
        self.rate_ = np.array(
            [(y[~now].sum() + 1) / ((~now).sum() + 2), (y[now].sum() + 1) / (now.sum() + 2)]
        )

    def _p(self, X, x) -> np.ndarray:
        return self.rate_[(column(X, x, self.column) > 0).astype(int)]

    def _mu(self, X, x) -> np.ndarray:
        return column(X, x, self.column)

    def _contrib(self, X, x):
        # Bias = log-odds with no attack now; the column adds the jump when there is one.
        base = float(logit(self.rate_[0]))
        return self.column, logit(self._p(X, x)) - base, base


class _RateBaseline(_Baseline):
    """P(any) = the training base rate (add-one smoothed); the count comes from the subclass."""

    def __init__(self, column: str = "current") -> None:
        self.column = column

    def _learn(self, X, x, y) -> None:
        if y is None:
            raise ValueError(f"{type(self).__name__} needs y to learn its base rate")
        self.rate_ = (y.sum() + 1) / (len(y) + 2)

    def _p(self, X, x) -> np.ndarray:
        return np.full(len(x), self.rate_)

    def _contrib(self, X, x):
        # A constant model: everything is bias.
        return self.column, np.zeros(len(x)), float(logit(self.rate_))


class ZeroCount(_RateBaseline):
    """Count baseline "nothing happens": expected count 0, P(any) = the training base rate.

    ``column`` is read by nothing (its contribution is 0); it is kept so every baseline names one.
    """

    def _mu(self, X, x) -> np.ndarray:
        return np.zeros(len(x))


class LastValue(_RateBaseline):
    """Count baseline "same as now": expected count = ``column`` (month t), P(any) = base rate."""

    def _mu(self, X, x) -> np.ndarray:
        return column(X, x, self.column)
