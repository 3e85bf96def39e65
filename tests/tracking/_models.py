"""Tiny seeded data and estimators for the tracking and scoring tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import poisson
from sklearn.base import BaseEstimator, ClassifierMixin

FEATURES = ["a", "b", "c", "rolling_share_any_window12", "rolling_sum_window12"]


def tiny_panel(seed: int = 0, n_units: int = 6, n_months: int = 24) -> pd.DataFrame:
    """A seeded unit x month panel with ids, five numeric features and binary/count targets."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2020-01", periods=n_months, freq="MS")
    df = pd.DataFrame([(f"U{u}", m) for m in months for u in range(n_units)], columns=["unit_id", "month"])
    df["unit_name"] = "Unit " + df["unit_id"]
    df["country"] = np.where(df["unit_id"].isin(["U0", "U1", "U2"]), "MLI", "BFA")
    n = len(df)
    df["a"], df["b"], df["c"] = rng.normal(size=n), rng.normal(size=n), rng.poisson(2.0, size=n).astype(float)
    df["rolling_share_any_window12"] = rng.uniform(0, 1, n)
    df["rolling_sum_window12"] = rng.poisson(6.0, size=n).astype(float)
    logit = 1.2 * df["a"] - 0.6 * df["b"]
    df["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    df["y_count"] = rng.poisson(np.exp(0.5 * df["a"]))
    return df


class ContractModel(ClassifierMixin, BaseEstimator):
    """A linear model implementing the whole model contract (quantiles and contributions too)."""

    def __init__(self, columns: tuple[str, ...] | None = None, scale: float = 1.0) -> None:
        self.columns = columns
        self.scale = scale

    def _x(self, X: pd.DataFrame) -> pd.DataFrame:
        return X[list(self.columns) if self.columns else list(X.columns)].astype(float)

    def fit(self, X, y, y_count=None, months=None):
        x = self._x(X)
        y = np.asarray(y, dtype=float)
        # Difference of class means: a crude but deterministic direction.
        self.coef_ = self.scale * (x[y == 1].mean() - x[y == 0].mean()).to_numpy()
        self.bias_ = float(np.log((y.mean() + 1e-3) / (1 - y.mean() + 1e-3)))
        self.classes_ = np.array([0.0, 1.0])
        return self

    def _score(self, X):
        return self._x(X).to_numpy() @ self.coef_ + self.bias_

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-self._score(X)))
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)

    def predict_count(self, X):
        return np.exp(0.5 * self._score(X))

    def predict_quantiles(self, X, q=(0.1, 0.5, 0.9)):
        mu = self.predict_count(X)
        return np.column_stack([poisson.ppf(qq, mu) for qq in q]).astype(float)

    def contributions(self, X):
        x = self._x(X)
        out = pd.DataFrame(x.to_numpy() * self.coef_, index=X.index, columns=x.columns)
        out["bias"] = self.bias_
        return out


class BareModel(ClassifierMixin, BaseEstimator):
    """Only predict_proba: the bundle must give NaN counts/quantiles and empty top_features."""

    def __init__(self, p: float = 0.3) -> None:
        self.p = p

    def fit(self, X, y=None):
        self.classes_ = np.array([0.0, 1.0])
        return self

    def predict_proba(self, X):
        return np.column_stack([np.full(len(X), 1 - self.p), np.full(len(X), self.p)])
