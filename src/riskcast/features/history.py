"""Conflict-history features per unit: current count, lags, rolling windows, time since, decay.

Kernels work on the dense units x months array: a lag is a slice, a rolling window a difference
of cumulative sums, "time since" a running maximum of event months.
"""
from __future__ import annotations

import numpy as np

from riskcast.features.base import Feature, FeatureContext

__all__ = ["Current", "Lag", "RollingSum", "RollingShareAny", "TimeSince", "Decay"]


def _lag(x: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(x)
    if k < x.shape[1]:
        out[:, k:] = x[:, : x.shape[1] - k]
    return out


def _rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    c = np.cumsum(x, axis=1)
    out = c.copy()
    out[:, window:] = c[:, window:] - c[:, :-window]
    return out


def _months_since(x: np.ndarray, cap: int) -> np.ndarray:
    """Months since the last month with x > 0, at or before t; ``cap`` where there was none."""
    n_m = x.shape[1]
    idx = np.where(x > 0, np.arange(n_m)[None, :], -1)
    last = np.maximum.accumulate(idx, axis=1)
    since = np.arange(n_m)[None, :] - last
    return np.where(last < 0, cap, np.minimum(since, cap)).astype(float)


class Current(Feature):
    """Count in month t itself (the latest month known at the forecast origin)."""

    description = "value of the source in the origin month"

    def __init__(self, source: str = "n_target") -> None:
        self.source = source

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        return ctx.array(self.source).astype(float)


class Lag(Feature):
    """Value k months before t."""

    description = "value of the source k months before the origin"

    def __init__(self, k: int, source: str = "n_target") -> None:
        self.k, self.source = k, source

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        return _lag(ctx.array(self.source), self.k)


class RollingSum(Feature):
    """Sum over the ``window`` months ending at t (t included)."""

    description = "sum of the source over the last `window` months"

    def __init__(self, window: int, source: str = "n_target") -> None:
        self.window, self.source = window, source

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        return _rolling_sum(ctx.array(self.source), self.window)


class RollingShareAny(Feature):
    """Share of the last ``window`` months (t included) with at least one event: climatology."""

    description = "share of the last `window` months with any event"

    def __init__(self, window: int, source: str = "n_target") -> None:
        self.window, self.source = window, source

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        return _rolling_sum((ctx.array(self.source) > 0).astype(float), self.window) / self.window


class TimeSince(Feature):
    """Months since the last month with an event (0 = an event in month t), capped."""

    description = "months since the last event, capped at `cap`"

    def __init__(self, cap: int = 120, source: str = "n_target") -> None:
        self.cap, self.source = cap, source

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        return _months_since(ctx.array(self.source), self.cap)


class Decay(Feature):
    """2^(-months_since / halflife): 1 in a month with events, fading afterwards, 0 if never."""

    description = "2^(-months since last event / halflife)"

    def __init__(self, halflife: float = 6.0, source: str = "n_target") -> None:
        self.halflife, self.source = halflife, source

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        x = ctx.array(self.source)
        never = np.maximum.accumulate(x > 0, axis=1) == 0
        since = _months_since(x, cap=x.shape[1] + 1)
        return np.where(never, 0.0, np.exp2(-since / self.halflife))
