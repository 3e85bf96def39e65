"""Tune one hyper-parameter per fit on a temporal hold-out, then refit on every row.

Regularisation that suits one panel does not suit another: on the embedded demo the full
logistic is best at C = 0.05, on real Mali cercles at C = 0.003 (backtest Brier skill 0.081
against 0.058 at h = 1). A fixed default is therefore wrong somewhere; choosing the value on
the last months of each training window (never on the evaluation months) is what a careful
analyst would do by hand.

The search costs one fit per grid value; in a rolling-origin backtest it need not be repeated
at every origin. With ``search_every = k`` months, a fit that follows an earlier origin's fit of
the same spec (``follow``, as the backtest does) keeps that fit's chosen value while its newest
training month is fewer than k months past the month the search was made, and searches again
after. Only the value travels forward, never rows: an older origin's choice used less data.
A fit with nothing to follow (the final fit) always searches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from riskcast.models._dist import ParamNames
from riskcast.models.calibration import delegate, fit_estimator, fit_grid, temporal_holdout
from riskcast.models.outputs import QUANTILES, predict_outputs

__all__ = ["Tuned"]


class Tuned(ParamNames, ClassifierMixin, BaseEstimator):
    """``estimator`` with ``param`` chosen from ``grid`` by Brier score on a temporal hold-out.

    The hold-out is the last ``holdout_months`` origin months of the training rows; candidates
    are fitted on rows at least ``horizon`` months earlier (the same gap rule as the backtest).
    Ties go to the first grid value, so list the grid from most to least regularised. When no
    hold-out is possible (too few months or rows, one class), the estimator's own value is kept
    and ``tuning_note_`` says why. Then the estimator is refitted on every row.
    ``search_every`` (months) lets a fit reuse the value an earlier origin's fit chose (see the
    module's docstring); ``searched_at_`` is the newest training month of the search used.
    """

    def __init__(
        self,
        estimator=None,
        param: str = "C",
        grid: tuple = (),
        holdout_months: int = 12,
        horizon: int = 1,
        search_every: int = 1,
    ) -> None:
        self.estimator = estimator
        self.param = param
        self.grid = grid
        self.holdout_months = holdout_months
        self.horizon = horizon
        self.search_every = search_every

    def follow(self, previous: "Tuned") -> "Tuned":
        """Let the next ``fit`` reuse ``previous``'s choice (a fit of the same spec at an earlier origin)."""
        self._previous = previous
        return self

    def _reusable(self, newest: pd.Period | None):
        """The earlier search to reuse, or None when a new search is due."""
        previous = self.__dict__.pop(
            "_previous", None
        )  # never kept: a chain of fits would pin them all in memory
        if (
            previous is None
            or self.search_every <= 1
            or newest is None
            or getattr(previous, "searched_at_", None) is None
        ):
            return None
        age = (newest - previous.searched_at_).n
        return previous if 0 <= age < self.search_every else None

    def fit(self, X: pd.DataFrame, y, y_count=None, months=None) -> "Tuned":
        if self.estimator is None or not self.grid:
            raise ValueError("Tuned needs an estimator and a non-empty grid")
        if self.param not in self.estimator.get_params(deep=False):
            raise ValueError(f"{type(self.estimator).__name__} has no parameter {self.param!r}")
        y = np.asarray(y, dtype=float)
        self.classes_ = np.array([0.0, 1.0])
        self.n_features_in_ = X.shape[1]
        if self.search_every < 1:
            raise ValueError(f"search_every must be >= 1 month, not {self.search_every!r}")
        newest = (
            None
            if months is None or len(months) == 0
            else pd.Period(pd.Timestamp(np.max(np.asarray(months))), "M")
        )
        previous = self._reusable(newest)
        if previous is not None:
            self.chosen_, self.scores_, self.searched_at_ = (
                previous.chosen_,
                previous.scores_,
                previous.searched_at_,
            )
            self.tuning_note_ = f"{previous.tuning_note_} (search of {previous.searched_at_}, reused: searched every {self.search_every} months)"
            self.best_estimator_ = fit_estimator(
                clone(self.estimator).set_params(**{self.param: self.chosen_}),
                X,
                y,
                y_count,
                months,
                self.horizon,
            )
            return self
        self.searched_at_ = newest
        fit_idx, held_idx, reason = temporal_holdout(months, self.holdout_months, self.horizon)
        if reason is None and len(np.unique(y[held_idx])) < 2:
            reason = "one class only in the hold-out rows"
        chosen = self.estimator.get_params(deep=False)[self.param]
        self.scores_ = {}
        if reason is None:
            fits = fit_grid(
                self.estimator, self.param, self.grid, X, y, y_count, months, self.horizon, fit_idx
            )
            held = X.iloc[held_idx]
            for value, est in zip(self.grid, fits):
                p = est.predict_proba(held)[:, 1]
                self.scores_[value] = float(np.mean((p - y[held_idx]) ** 2))
            chosen = min(self.grid, key=lambda v: self.scores_[v])  # first of equals wins
            self.tuning_note_ = f"{self.param}={chosen!r}: lowest Brier on {len(held_idx)} hold-out rows"
        else:
            self.tuning_note_ = f"{self.param}={chosen!r} (not tuned: {reason})"
        self.chosen_ = chosen
        self.best_estimator_ = fit_estimator(
            clone(self.estimator).set_params(**{self.param: chosen}), X, y, y_count, months, self.horizon
        )
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.best_estimator_.predict_proba(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)

    def predict_count(self, X: pd.DataFrame) -> np.ndarray:
        return delegate(self.best_estimator_, "predict_count", X)

    def predict_quantiles(self, X: pd.DataFrame, q=(0.1, 0.5, 0.9)) -> np.ndarray:
        return delegate(self.best_estimator_, "predict_quantiles", X, q)

    def predict_outputs(self, X: pd.DataFrame, q=QUANTILES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return predict_outputs(self.best_estimator_, X, q)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        return delegate(self.best_estimator_, "contributions", X)
