"""One splitter for every rolling-origin fold, by month.

At origin month ``o`` (data known through the end of ``o``) a model forecasting ``h`` months
ahead may train only on rows ``t <= o - h``: their targets (month ``t + h <= o``) are already
observed. That gap of ``h`` months is what keeps the backtest honest. The test rows are the
units at month ``o``; their targets are month ``o + h``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

__all__ = ["RollingOriginSplit", "SplitError"]


class SplitError(ValueError):
    """A backtest window that would leak or is too short."""


class RollingOriginSplit:
    """Expanding (or sliding) training window, a gap equal to the horizon, monthly origins.

    Follows scikit-learn's splitter interface: ``split(X, y, groups)`` where ``groups`` holds
    each row's month, and ``get_n_splits``.
    """

    def __init__(
        self,
        horizon: int,
        min_train_months: int = 36,
        eval_months: int = 24,
        window: str = "expanding",
        sliding_months: int = 60,
        eval_start=None,
    ) -> None:
        self.horizon = horizon
        # eval_start ("YYYY-MM"): the first origin; when set it replaces eval_months, so a
        # fixed window (e.g. 2017-01 to the end) is compared across horizons and runs.
        self.eval_start = eval_start
        self.min_train_months = min_train_months
        self.eval_months = eval_months
        self.window = window
        self.sliding_months = sliding_months

    def origins(self, months) -> list[pd.Timestamp]:
        """The evaluation origins: the last ``eval_months`` months whose target is observed."""
        if self.horizon < 1:
            raise SplitError(
                f"horizon must be >= 1 month (got {self.horizon}): a horizon of 0 would train on the month it forecasts"
            )
        if self.window not in ("expanding", "sliding"):
            raise SplitError(f"window must be 'expanding' or 'sliding', not {self.window!r}")
        months = pd.DatetimeIndex(sorted(pd.unique(pd.DatetimeIndex(months))))
        usable = months[: max(len(months) - self.horizon, 0)]  # origins whose o + h is in the panel
        if self.eval_start is not None:
            origins = list(usable[usable >= pd.Timestamp(self.eval_start)])
        else:
            origins = list(usable[-self.eval_months :])
        if not origins:
            since = f" from {self.eval_start}" if self.eval_start is not None else ""
            raise SplitError(
                f"no origin{since} for horizon {self.horizon}: the panel has {len(months)} months"
            )
        first = origins[0]
        n_train = int(np.sum(months <= first - pd.DateOffset(months=self.horizon)))
        if self.window == "sliding":
            n_train = min(n_train, self.sliding_months)
        if n_train < self.min_train_months:
            need = self.min_train_months + self.horizon + self.eval_months
            raise SplitError(
                f"backtest window too short for horizon {self.horizon}: the first origin {first:%Y-%m} has "
                f"{n_train} training months, at least {self.min_train_months} are required "
                f"(the panel needs >= {need} months; it has {len(months)}). "
                "Lower backtest.eval_months or backtest.min_train_months, or start the panel earlier."
            )
        return origins

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return len(self.origins(groups))

    def split(self, X, y=None, groups=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (train row positions, test row positions) per origin; ``groups`` = row months."""
        if groups is None:
            raise SplitError("RollingOriginSplit needs groups= the month of every row")
        month = pd.DatetimeIndex(groups)
        for o in self.origins(month):
            last_train = o - pd.DateOffset(months=self.horizon)
            train = month <= last_train
            if self.window == "sliding":
                train &= month > last_train - pd.DateOffset(months=self.sliding_months)
            yield np.flatnonzero(train), np.flatnonzero(month == o)
