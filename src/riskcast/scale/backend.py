"""The interface every backend implements: build features, run the backtest's tasks, fit the
final model, score a month (see the package's docstring for the backends)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from riskcast.features.base import Feature, FeatureContext

__all__ = ["Backend"]


class Backend(Protocol):
    """Where features, backtest tasks, final fits and scoring run; the results do not depend on it."""

    def features(self, features: Sequence[Feature], ctx: FeatureContext) -> pd.DataFrame:
        """Every feature's column over the whole panel."""

    def backtest(
        self, panel: pd.DataFrame, feature_cols: list[str], models: dict, horizons: tuple[int, ...], **kwargs
    ) -> pd.DataFrame:
        """``riskcast.evaluation.backtest.run_backtest``'s predictions."""

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
        """``model`` fitted for one horizon on every known row (the final fit)."""

    def scorer(self, bundle, uri: str | None, rows: pd.DataFrame, top_k: int):
        """What scores ``rows``: the loaded ``bundle``, or a stand-in that scores the registered ``uri`` elsewhere."""
