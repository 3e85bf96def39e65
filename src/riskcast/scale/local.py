"""The local backend: this process, and joblib workers for the backtest's tasks (the default)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from riskcast.evaluation.backtest import fit_model, run_backtest
from riskcast.features.base import Feature, FeatureContext, compute_features

__all__ = ["LocalBackend"]


class LocalBackend:
    """This process; the backtest's (horizon, model) tasks in ``n_jobs`` joblib workers."""

    def __init__(self, n_jobs: int = -1) -> None:
        self.n_jobs = n_jobs

    def features(self, features: Sequence[Feature], ctx: FeatureContext) -> pd.DataFrame:
        return compute_features(list(features), ctx)

    def backtest(
        self, panel: pd.DataFrame, feature_cols: list[str], models: dict, horizons: tuple[int, ...], **kwargs
    ) -> pd.DataFrame:
        return run_backtest(panel, feature_cols, models, horizons, n_jobs=self.n_jobs, **kwargs)

    def fit(
        self,
        model,
        X: pd.DataFrame,
        y: np.ndarray,
        y_count: np.ndarray,
        months,
        horizon: int,
        *,
        target: str = "any",
    ):
        with threadpool_limits(limits=1):  # small fits: see evaluation/backtest.py
            return fit_model(model, X, y, y_count, months, horizon)

    def scorer(self, bundle, uri: str | None, rows: pd.DataFrame, top_k: int):
        return bundle
