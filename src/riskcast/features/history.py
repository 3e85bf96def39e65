"""Conflict history per unit: event and fatality counts (by type and actor group) and the
transforms that turn any feature into history: lags, rolling windows, time since, decay,
onset and escalation.

Kernels work on the dense units x months array: a lag is a slice, a rolling window a
difference of cumulative sums (or a sliding-window view for the max), "time since" a running
maximum of event months.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from riskcast.features.base import Feature, FeatureContext, FeatureError

__all__ = [
    "Events",
    "Fatalities",
    "AllEvents",
    "Indicator",
    "Lag",
    "Rolling",
    "TimeSince",
    "Decay",
    "Onset",
    "Change",
    "Escalation",
    "Interaction",
    "lag",
    "rolling_sum",
    "months_since",
]


# --- kernels ------------------------------------------------------------------------------


def lag(x: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros_like(x)
    if k < x.shape[1]:
        out[:, k:] = x[:, : x.shape[1] - k]
    return out


def rolling_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum over the ``window`` months ending at t; months before the panel count as 0."""
    c = np.cumsum(x, axis=1)
    out = c.copy()
    out[:, window:] = c[:, window:] - c[:, :-window]
    return out


def rolling_max(x: np.ndarray, window: int) -> np.ndarray:
    pad = np.concatenate([np.full((x.shape[0], window - 1), -np.inf), x], axis=1)
    out = sliding_window_view(pad, window, axis=1).max(axis=2)
    return np.where(np.isneginf(out), 0.0, out)


def months_since(hit: np.ndarray, cap: int) -> np.ndarray:
    """Months since the last True at or before t; ``cap`` where there was none (or longer ago)."""
    n_m = hit.shape[1]
    idx = np.where(hit, np.arange(n_m)[None, :], -1)
    last = np.maximum.accumulate(idx, axis=1)
    since = np.arange(n_m)[None, :] - last
    return np.where(last < 0, cap, np.minimum(since, cap)).astype(float)


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise FeatureError(f"{name} must be > 0, got {value!r}", param=name)


def _whole(name: str, value: int, low: int = 1) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise FeatureError(f"{name} must be a whole number >= {low}, got {value!r}", param=name)


# --- sources ------------------------------------------------------------------------------


def _codes(ctx: FeatureContext, key: str, make) -> tuple[np.ndarray, pd.Series]:
    """Per-event integer codes into a small table of distinct values, computed once per context.

    Event tables have millions of rows but few distinct event types and actor pairs: string
    work (casefold, substring search) runs on the distinct values, then maps back by code.
    """
    if key not in ctx.cache:
        ctx.cache[key] = make()
    return ctx.cache[key]


def _event_type_codes(ev: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
    codes, uniques = pd.factorize(ev["event_type"].astype(str))
    return codes, pd.Series(uniques, dtype=object).str.casefold()


def _actor_pair_codes(ev: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
    c1, u1 = pd.factorize(ev["actor1"].fillna("").astype(str))
    c2, u2 = pd.factorize(ev["actor2"].fillna("").astype(str))
    n2 = max(len(u2), 1)
    pairs, codes = np.unique(c1.astype(np.int64) * n2 + c2, return_inverse=True)
    a1 = pd.Series(np.asarray(u1, dtype=object)[pairs // n2], dtype=object)
    a2 = pd.Series(np.asarray(u2, dtype=object)[pairs % n2], dtype=object)
    return codes.ravel(), (a1 + " | " + a2).str.casefold()


def _sub_event_type_codes(ev: pd.DataFrame) -> tuple[np.ndarray, pd.Series]:
    column = ev["sub_event_type"] if "sub_event_type" in ev else pd.Series("", index=ev.index)
    codes, uniques = pd.factorize(column.fillna("").astype(str))
    return codes, pd.Series(uniques, dtype=object).str.casefold()


def _event_mask(
    ctx: FeatureContext, event_type: str | None, actor_group: str | None, sub_event_type: str | None = None
) -> np.ndarray:
    ev = ctx.events
    if (
        sub_event_type is not None
    ):  # a sub-event type (ACLED's "Remote explosive/landmine/IED") of any event type
        codes, subs = _codes(ctx, "__sub_event_type_codes", lambda: _sub_event_type_codes(ev))
        mask = (subs == sub_event_type.casefold()).to_numpy()[codes]
    elif event_type is not None:
        codes, types = _codes(ctx, "__event_type_codes", lambda: _event_type_codes(ev))
        mask = (types == event_type.casefold()).to_numpy()[codes]
    else:
        mask = ev["is_target"].to_numpy()
    if actor_group is not None:
        if actor_group not in ctx.actor_groups:
            raise FeatureError(
                f"unknown actor group {actor_group!r}; declared: {sorted(ctx.actor_groups)}",
                param="actor_group",
            )
        codes, actors = _codes(ctx, "__actor_pair_codes", lambda: _actor_pair_codes(ev))
        hit = np.zeros(len(actors), dtype=bool)
        for pattern in ctx.actor_groups[actor_group]:
            hit |= actors.str.contains(pattern.casefold(), regex=False).to_numpy(dtype=bool)
        mask = mask & hit[codes]
    return mask


class Events(Feature):
    """Number of events in month t: target events by default, or one event type, sub-event type
    (e.g. ACLED's "Remote explosive/landmine/IED", "Abduction/forced disappearance") or actor group."""

    family = "history"
    description = "number of {event_type} events involving {actor_group} in the month"
    name_prefix = {"event_type": "type", "actor_group": "actor", "sub_event_type": "sub"}

    def __init__(
        self, event_type: str | None = None, actor_group: str | None = None, sub_event_type: str | None = None
    ) -> None:
        self.event_type, self.actor_group, self.sub_event_type = event_type, actor_group, sub_event_type

    def describe(self) -> str:
        what = (
            f"{self.sub_event_type} events"
            if self.sub_event_type
            else f"{self.event_type} events"
            if self.event_type
            else "attacks"
        )
        return what + (f" involving {self.actor_group}" if self.actor_group else "")

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        if self.event_type is None and self.actor_group is None and self.sub_event_type is None:
            return ctx.array("n_target")
        ev = ctx.events
        return ctx.grid(
            ev.loc[
                _event_mask(ctx, self.event_type, self.actor_group, self.sub_event_type),
                ["unit_ix", "month_ix"],
            ]
        )


class Fatalities(Feature):
    """Fatalities of target events in month t (or of one event type, sub-event type or actor group)."""

    family = "history"
    name_prefix = {"event_type": "type", "actor_group": "actor", "sub_event_type": "sub"}

    def __init__(
        self, event_type: str | None = None, actor_group: str | None = None, sub_event_type: str | None = None
    ) -> None:
        self.event_type, self.actor_group, self.sub_event_type = event_type, actor_group, sub_event_type

    def describe(self) -> str:
        what = (
            f"{self.sub_event_type} events"
            if self.sub_event_type
            else f"{self.event_type} events"
            if self.event_type
            else "attacks"
        )
        return f"deaths in {what}" + (f" involving {self.actor_group}" if self.actor_group else "")

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        if self.event_type is None and self.actor_group is None and self.sub_event_type is None:
            return ctx.array("n_fatalities")
        ev = ctx.events
        mask = _event_mask(ctx, self.event_type, self.actor_group, self.sub_event_type)
        return ctx.grid(
            ev.loc[mask, ["unit_ix", "month_ix"]], ev.loc[mask, "fatalities"].to_numpy(dtype=float)
        )


class AllEvents(Feature):
    """Number of events of any type in month t (protests and riots included)."""

    family = "history"
    description = "events of any type (protests and riots included)"

    def __init__(self) -> None:
        pass

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        return ctx.array("n_all")


# --- transforms ---------------------------------------------------------------------------


class Indicator(Feature):
    """1 when the inner feature is at least ``threshold`` in month t."""

    family = "history"
    description = "whether there were at least {threshold} {of}"

    def __init__(self, threshold: float = 1, of: Feature = Events()) -> None:
        self.threshold, self.of = threshold, of

    def compute(self, ctx):
        return (ctx.get(self.of) >= self.threshold).astype(float)


class Lag(Feature):
    """The inner feature k months before t."""

    family = "history"
    description = "{of}, {k} month(s) earlier"

    def __init__(self, k: int, of: Feature = Events()) -> None:
        _whole("k", k)
        self.k, self.of = k, of

    def compute(self, ctx):
        return lag(ctx.get(self.of), self.k)


class Rolling(Feature):
    """Sum, mean or max of the inner feature over the ``window`` months ending at t."""

    family = "history"

    def describe(self) -> str:
        of = self.of.describe()
        if self.stat == "mean" and isinstance(self.of, Indicator):
            return f"share of the last {self.window} months with at least {self.of.threshold} {self.of.of.describe()}"
        return {
            "sum": f"{of} over the last {self.window} months",
            "mean": f"monthly mean of {of} over the last {self.window} months",
            "max": f"highest monthly {of} in the last {self.window} months",
        }[self.stat]

    def __init__(self, window: int, stat: str = "sum", of: Feature = Events()) -> None:
        _whole("window", window)
        if stat not in ("sum", "mean", "max"):
            raise FeatureError(f"stat must be 'sum', 'mean' or 'max', got {stat!r}", param="stat")
        self.window, self.stat, self.of = window, stat, of

    def compute(self, ctx):
        x = ctx.get(self.of)
        if self.stat == "max":
            return rolling_max(x, self.window)
        s = rolling_sum(x, self.window)
        return s / self.window if self.stat == "mean" else s


class TimeSince(Feature):
    """Months since the inner feature was last > 0 (0 = in month t), capped."""

    family = "history"
    description = "months since the last month with {of} (capped at {cap})"

    def __init__(self, cap: int = 120, of: Feature = Events()) -> None:
        _whole("cap", cap)
        self.cap, self.of = cap, of

    def compute(self, ctx):
        return months_since(ctx.get(self.of) > 0, self.cap)


class Decay(Feature):
    """2^(-months since the inner feature was last > 0 / halflife); 0 if never."""

    family = "history"
    description = "fading memory of {of} (half-life {halflife} months)"

    def __init__(self, halflife: float = 6.0, of: Feature = Events()) -> None:
        _positive("halflife", halflife)
        self.halflife, self.of = halflife, of

    def compute(self, ctx):
        hit = ctx.get(self.of) > 0
        never = ~np.maximum.accumulate(hit, axis=1)
        since = months_since(hit, cap=hit.shape[1] + 1)
        return np.where(never, 0.0, np.exp2(-since / self.halflife))


class Onset(Feature):
    """1 when the inner feature is > 0 in month t after ``quiet`` months at 0."""

    family = "history"
    description = "whether {of} resumed after {quiet} quiet months"

    def __init__(self, quiet: int = 12, of: Feature = Events()) -> None:
        _whole("quiet", quiet)
        self.quiet, self.of = quiet, of

    def compute(self, ctx):
        x = ctx.get(self.of)
        before = rolling_sum(
            lag((x != 0).astype(float), 1), self.quiet
        )  # quiet = exactly zero, whatever the sign
        return ((x > 0) & (before == 0)).astype(float)


class Change(Feature):
    """Month-on-month change of the inner feature: x(t) - x(t - k) (escalation when > 0)."""

    family = "history"
    description = "change in {of} over {k} month(s)"

    def __init__(self, k: int = 1, of: Feature = Events()) -> None:
        _whole("k", k)
        self.k, self.of = k, of

    def compute(self, ctx):
        x = ctx.get(self.of)
        return x - lag(x, self.k)


class Escalation(Feature):
    """1 when the inner feature in month t is >= 1 and above ``factor`` x its mean over the
    ``window`` months before t (months before the panel count as 0, as in every window here)."""

    family = "history"
    description = "whether {of} rose above {factor} times its mean of the {window} months before"

    def __init__(self, factor: float = 2.0, window: int = 12, of: Feature = Events()) -> None:
        _positive("factor", factor)
        _whole("window", window)
        self.factor, self.window, self.of = factor, window, of

    def compute(self, ctx):
        x = ctx.get(self.of)
        before = rolling_sum(lag(x, 1), self.window) / self.window
        return ((x >= 1) & (x > self.factor * before)).astype(float)


class Interaction(Feature):
    """The product of two features in month t, e.g. a force still present while its withdrawal
    has been announced: ``Interaction(of=Present(force="France"), by=PostShock(kind="withdrawal_announced", months=12))``."""

    family = "history"
    description = "{of}, while {by}"

    def __init__(self, of: Feature = Events(), by: Feature = Events()) -> None:
        self.of, self.by = of, by

    def compute(self, ctx):
        return ctx.get(self.of) * ctx.get(self.by)
