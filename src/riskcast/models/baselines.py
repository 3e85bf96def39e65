"""Honest baselines: climatology and persistence, in the scikit-learn estimator contract.

They read named feature columns (built by the feature pipeline) and know nothing else.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

__all__ = ["Climatology", "Persistence"]


class Climatology(ClassifierMixin, BaseEstimator):
    """P(attack) = the unit's share of the last k months with an attack (k = 12 by default).

    Clipped to [floor, 1 - floor] so that log loss stays finite. Expected count = the mean
    monthly count over the same window.
    """

    def __init__(self, share_column: str = "rolling_share_any_window12", sum_column: str = "rolling_sum_window12", window: int = 12, floor: float = 0.01) -> None:
        self.share_column = share_column
        self.sum_column = sum_column
        self.window = window
        self.floor = floor

    def fit(self, X: pd.DataFrame, y=None) -> "Climatology":
        self.classes_ = np.array([0.0, 1.0])
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = np.clip(X[self.share_column].to_numpy(dtype=float), self.floor, 1 - self.floor)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)

    def predict_count(self, X: pd.DataFrame) -> np.ndarray:
        return X[self.sum_column].to_numpy(dtype=float) / self.window


class Persistence(ClassifierMixin, BaseEstimator):
    """Calibrated persistence: P(attack at t+h | attack at t) and P(attack | none at t).

    The two rates are learned on the training rows with add-one smoothing, so "same as now"
    becomes a probability. Expected count = the count in month t.
    """

    def __init__(self, column: str = "current") -> None:
        self.column = column

    def fit(self, X: pd.DataFrame, y) -> "Persistence":
        now = X[self.column].to_numpy(dtype=float) > 0
        y = np.asarray(y, dtype=float)
        self.rate_ = np.array([(y[~now].sum() + 1) / ((~now).sum() + 2), (y[now].sum() + 1) / (now.sum() + 2)])
        self.classes_ = np.array([0.0, 1.0])
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.rate_[(X[self.column].to_numpy(dtype=float) > 0).astype(int)]
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)

    def predict_count(self, X: pd.DataFrame) -> np.ndarray:
        return X[self.column].to_numpy(dtype=float)
