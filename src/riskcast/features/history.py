"""Conflict history per unit: the transforms that turn any feature into history: lags,
rolling windows, time since, decay, onset, change and escalation (and the product of two).

The counts they wrap (attacks, deaths, events of any type) are in :mod:`.events` and are
re-exported here; the array kernels and the event selection are in :mod:`.kernels`. Each class
says its value in words next to its ``describe()`` (``explain``), building on its inner
feature's count (:meth:`~riskcast.features.base.Feature.counts`).
"""

from __future__ import annotations

import numpy as np

from riskcast.features.base import PLAIN, ExplainContext, Feature, FeatureError
from riskcast.features.events import AllEvents, Events, Fatalities
from riskcast.features.kernels import (
    AboveZero,
    change,
    decay_since,
    lag,
    months_since,
    onset,
    positive,
    rolling_max,
    rolling_sum,
    running_total,
    whole,
    window_sum,
)
from riskcast.features.words import Count, count, halving, num, plural, since_decay

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


# --- transforms ---------------------------------------------------------------------------


class _Transform(Feature):
    """A feature of the inner feature ``of`` over time: as national as that one is."""

    family = "history"

    @property
    def national(self) -> bool:
        return self.of.national

    def _monthly(self, context: ExplainContext) -> tuple[Count, str] | None:
        """The inner feature's count when it is a count of one month, and its place as " <where>"."""
        inner = self.of.counts(context)
        if inner is None or inner.when != context.ago(0):
            return None
        return inner, f" {inner.where}" if inner.where else ""


class Indicator(_Transform):
    """1 when the inner feature is at least ``threshold`` in month t."""

    description = "whether there were at least {threshold} {of}"
    yes_no = True

    def __init__(self, threshold: float = 1, of: Feature = Events()) -> None:
        self.threshold, self.of = threshold, of

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        if (monthly := self._monthly(context)) is None:
            return super().explain(value, context)
        inner, where = monthly
        if value >= 0.5:
            text = f"at least {count(self.threshold, inner.noun)}{where} {context.ago(0)}"
        elif self.threshold <= 1:
            text = inner.say(0)  # "no attacks last month"
        else:
            text = f"fewer than {count(self.threshold, inner.noun)}{where} {context.ago(0)}"
        return text + self.national_note(context)

    def compute(self, ctx):
        x = ctx.get(self.of)
        out = np.empty(x.shape)
        np.greater_equal(x, self.threshold, out=out)  # the comparison written as 0.0 / 1.0 in one pass
        return out


class Lag(_Transform):
    """The inner feature k months before t."""

    description = "{of}, {k} month(s) earlier"

    def __init__(self, k: int, of: Feature = Events()) -> None:
        whole("k", k)
        self.k, self.of = k, of

    def counts(self, context: ExplainContext = PLAIN) -> Count | None:
        monthly = self._monthly(context)
        return None if monthly is None else Count(monthly[0].noun, monthly[0].where, context.ago(self.k))

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        return self.say_count(value, context)  # "3 attacks 2 months ago"; generic for a non-count

    def compute(self, ctx):
        return lag(ctx.get(self.of), self.k)


class Rolling(_Transform):
    """Sum, mean or max of the inner feature over the ``window`` months ending at t."""

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
        whole("window", window)
        if stat not in ("sum", "mean", "max"):
            raise FeatureError(f"stat must be 'sum', 'mean' or 'max', got {stat!r}", param="stat")
        self.window, self.stat, self.of = window, stat, of

    def counts(self, context: ExplainContext = PLAIN) -> Count | None:
        monthly = self._monthly(context)
        if self.stat != "sum" or monthly is None:
            return None
        return Count(monthly[0].noun, monthly[0].where, f"in the last {self.window} months")

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        w = self.window
        if self.stat == "sum":
            return self.say_count(value, context)  # "12 attacks in the last 3 months"
        if self.stat == "mean" and isinstance(self.of, Indicator):
            # The share of months with a hit, said as a number of months.
            if (monthly := self.of._monthly(context)) is None:
                return super().explain(value, context)
            inner, where = monthly
            at_least = "" if self.of.threshold == 1 else f"at least {num(self.of.threshold)} "
            months = "none" if num(value * w) == "0" else num(value * w)
            span = (
                f"every one of the last {w} months"
                if months == num(w)
                else f"{months} of the last {w} months"
            )
            return f"{at_least}{inner.noun[1]}{where} in {span}" + self.national_note(context)
        if (monthly := self._monthly(context)) is None:
            return super().explain(value, context)
        inner, where = monthly
        if num(value) == "0":
            text = Count(inner.noun, inner.where, f"in the last {w} months").say(0)
        elif self.stat == "max":
            text = f"up to {count(value, inner.noun)}{where} in a month over the last {w} months"
        else:
            text = f"{count(value, inner.noun)}{where} a month on average over the last {w} months"
        return text + self.national_note(context)

    def compute(self, ctx):
        x = ctx.get(self.of)
        if self.stat == "max":
            return rolling_max(x, self.window)
        return window_sum(
            _running_total(ctx, self.of), self.window, self.window if self.stat == "mean" else None
        )


def _running_total(ctx, of: Feature) -> np.ndarray:
    """The inner feature summed along the months, kept for the next window over the same inner
    feature: a set lists the windows of one count together (``window = [3, 6, 12, 24]``), and
    the running total (a sequential pass) is most of a window's cost. One slot, so at most one
    such array is held."""
    held = ctx.cache.get("__running_total")
    if held is None or held[0] != of.name:
        held = (of.name, running_total(ctx.get(of)))
        ctx.cache["__running_total"] = held
    return held[1]


class TimeSince(_Transform):
    """Months since the inner feature was last > 0 (0 = in month t), capped."""

    description = "months since the last month with {of} (capped at {cap})"

    def __init__(self, cap: int = 120, of: Feature = Events()) -> None:
        whole("cap", cap)
        self.cap, self.of = cap, of

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        if (monthly := self._monthly(context)) is None:
            return super().explain(value, context)
        (one, many), where = monthly[0].noun, monthly[1]
        text = (
            f"no {many}{where} in the last {self.cap} months"
            if value >= self.cap
            else f"last {one}{where} {context.ago(value)}"
        )
        return text + self.national_note(context)

    def absent(self, value: float) -> bool:
        return value >= self.cap  # the cap: none in the last `cap` months

    def compute(self, ctx):
        return months_since(AboveZero(ctx.get(self.of)), self.cap)


class Decay(_Transform):
    """2^(-months since the inner feature was last > 0 / halflife); 0 if never."""

    description = "fading memory of {of} (half-life {halflife} months)"

    def __init__(self, halflife: float = 6.0, of: Feature = Events()) -> None:
        positive("halflife", halflife)
        self.halflife, self.of = halflife, of

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        if (monthly := self._monthly(context)) is None:
            return super().explain(value, context)
        (one, many), where = monthly[0].noun, monthly[1]
        if value <= 0:
            text = f"no {many}{where} on record"
        else:  # the half-life tells it from TimeSince and from a decay of another half-life
            text = (
                f"last {one}{where} {context.ago(since_decay(value, self.halflife))}{halving(self.halflife)}"
            )
        return text + self.national_note(context)

    def compute(self, ctx):
        return decay_since(AboveZero(ctx.get(self.of)), self.halflife)


class Onset(_Transform):
    """1 when the inner feature is > 0 in month t after ``quiet`` months at 0."""

    description = "whether {of} resumed after {quiet} quiet months"
    yes_no = True

    def __init__(self, quiet: int = 12, of: Feature = Events()) -> None:
        whole("quiet", quiet)
        self.quiet, self.of = quiet, of

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        if (monthly := self._monthly(context)) is None:
            return super().explain(value, context)
        many, where = monthly[0].noun[1], monthly[1]
        if value >= 0.5:
            text = f"{many}{where} resumed after {self.quiet} quiet months"
        else:  # 0 both while attacks go on and while it stays quiet
            text = f"no return of {many}{where} {context.ago(0)} after {self.quiet} quiet months"
        return text + self.national_note(context)

    def compute(self, ctx):
        return onset(ctx.get(self.of), self.quiet)


class Change(_Transform):
    """Month-on-month change of the inner feature: x(t) - x(t - k) (escalation when > 0)."""

    description = "change in {of} over {k} month(s)"

    def __init__(self, k: int = 1, of: Feature = Events()) -> None:
        whole("k", k)
        self.k, self.of = k, of

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        if (monthly := self._monthly(context)) is None:
            return super().explain(value, context)
        inner, where = monthly
        if context.as_of:  # "3 more attacks in Jun 2019 than in May 2019"
            now, ref = context.ago(0), context.ago(self.k)
        else:
            now, ref = "", "the month before" if self.k == 1 else f"{self.k} months before"
        if num(abs(value)) == "0":
            text = " ".join(x for x in (f"as many {inner.noun[1]}{where}", now, f"as {ref}") if x)
        else:
            more = "more" if value > 0 else "fewer"
            text = " ".join(
                x
                for x in (
                    f"{num(abs(value))} {more} {plural(abs(value), inner.noun)}{where}",
                    now,
                    f"than {ref}",
                )
                if x
            )
        return text + self.national_note(context)

    def compute(self, ctx):
        return change(ctx.get(self.of), self.k)


class Escalation(_Transform):
    """1 when the inner feature in month t is >= 1 and above ``factor`` x its mean over the
    ``window`` months before t (months before the panel count as 0, as in every window here)."""

    description = "whether {of} rose above {factor} times its mean of the {window} months before"
    yes_no = True

    def __init__(self, factor: float = 2.0, window: int = 12, of: Feature = Events()) -> None:
        positive("factor", factor)
        whole("window", window)
        self.factor, self.window, self.of = factor, window, of

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        if (monthly := self._monthly(context)) is None:
            return super().explain(value, context)
        many, where = monthly[0].noun[1], monthly[1]
        mean = f"{num(self.factor)} times their monthly mean of the {self.window} months before"
        text = (
            f"{many}{where} {context.ago(0)} above {mean}"
            if value >= 0.5
            else f"no escalation of {many}{where} {context.ago(0)} (not above {mean})"
        )
        return text + self.national_note(context)

    def compute(self, ctx):
        x = ctx.get(self.of)
        before = rolling_sum(lag(x, 1), self.window, divide=self.window)
        np.multiply(self.factor, before, out=before)  # factor x mean, in place
        out = np.empty(x.shape)
        np.logical_and(x >= 1, x > before, out=out)
        return out


class Interaction(Feature):
    """The product of two features in month t, e.g. a force still present while its withdrawal
    has been announced: ``Interaction(of=Present(force="France"), by=PostShock(kind="withdrawal_announced", months=12))``."""

    family = "history"
    description = "{of}, while {by}"

    def __init__(self, of: Feature = Events(), by: Feature = Events()) -> None:
        self.of, self.by = of, by

    @property
    def yes_no(self) -> bool:
        return self.of.yes_no and self.by.yes_no

    @property
    def national(self) -> bool:
        return self.of.national and self.by.national

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        if not self.yes_no or value not in (0.0, 1.0):
            return super().explain(value, context)  # only a product of two yes/no features reads as "both"
        a, b = self.of.explain(1.0, context.plain()), self.by.explain(1.0, context.plain())
        return f"{a}, and {b}" if value == 1.0 else f"not both: {a}; {b}"

    def compute(self, ctx):
        return ctx.get(self.of) * ctx.get(self.by)
