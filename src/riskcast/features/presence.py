"""Foreign troop presence per unit and month: troops, bases, arrival and withdrawal.

:func:`place_presence` puts each PRESENCE row on the run's units and months; the features
read the placed table through a coverage grid (units x months, number of rows covering the
cell), so a row contributes only to the months it covers. That makes them causal: the value
at month t depends on which rows cover months <= t, never on how long a row will last after
t nor on rows that start after t ("departure" is only known once a month without presence
has passed).

Months since arrival and since departure need the history before the panel (a force that
left a year before the panel starts has departed 12 months before month 0), so rows that
end before the panel are kept (with an empty clipped interval) and the grid is padded back
to the earliest start.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.features._presence_rows import PLACED_COLUMNS, check_presence_overlaps, place_presence
from riskcast.features.base import PLAIN, ExplainContext, Feature, FeatureContext
from riskcast.features.kernels import decay_head, months_since, positive, since_lookup, whole
from riskcast.features.words import count, halving, num, since_decay

__all__ = [
    "place_presence",
    "check_presence_overlaps",
    "Troops",
    "Present",
    "Bases",
    "MonthsSinceArrival",
    "MonthsSinceDeparture",
    "Withdrawal",
]

# --- grids ----------------------------------------------------------------------------------


def _rows(ctx: FeatureContext, force: str | None) -> pd.DataFrame:
    t = ctx.presence
    if t is None or len(t) == 0:
        return pd.DataFrame(columns=PLACED_COLUMNS)
    if "force_key" not in t.columns:
        raise ValueError("ctx.presence is not placed; build the context with build_context (place_presence)")
    return t if force is None else t[t["force_key"] == force.casefold()]


def _interval_rows(
    n_cols: int, row: np.ndarray, start: np.ndarray, end: np.ndarray, values
) -> tuple[np.ndarray, np.ndarray]:
    """(the grid rows that have intervals, their sums of ``values`` over the intervals start..end
    inclusive): difference arrays + cumsum, on those rows only (a few hundred of 10,000 cells);
    every other row sums to 0."""
    rows, local = np.unique(np.asarray(row, dtype=np.intp), return_inverse=True)
    diff = np.zeros((len(rows), n_cols + 1))
    np.add.at(diff, (local, start), values)
    np.add.at(diff, (local, end + 1), -np.asarray(values, dtype=float))
    return rows, np.cumsum(diff[:, :-1], axis=1)


def _interval_sum(
    n_rows: int, n_cols: int, row: np.ndarray, start: np.ndarray, end: np.ndarray, values
) -> np.ndarray:
    """Sum of ``values`` over intervals start..end (inclusive) per grid row."""
    out = np.zeros((n_rows, n_cols))
    rows, sums = _interval_rows(n_cols, row, start, end, values)
    out[rows] = sums
    return out


def _coverage(ctx: FeatureContext, force: str | None) -> tuple[np.ndarray, np.ndarray, int]:
    """(the units the force's rows name, whether those rows cover each of their padded months,
    the pad). Every other unit is never covered: the features compute on these few rows and
    give the others their "never present" value (:func:`_spread`)."""
    key = f"__presence_cover_{force!r}"
    if key not in ctx.cache:
        t = _rows(ctx, force)
        pad = int(max(0, -t["start_at"].min())) if len(t) else 0
        units, sums = _interval_rows(
            pad + ctx.shape[1],
            t["unit_ix"].to_numpy(int),
            t["start_at"].to_numpy(int) + pad,
            t["end_at"].to_numpy(int) + pad,
            1.0,
        )
        ctx.cache[key] = (units, sums > 0.5, pad)  # the number of rows covering it, a whole number
    return ctx.cache[key]


def _spread(ctx: FeatureContext, units: np.ndarray, values: np.ndarray, other: float) -> np.ndarray:
    """The units x months array: ``values`` on the rows of ``units``, ``other`` elsewhere."""
    out = np.zeros(ctx.shape) if other == 0 and not np.signbit(other) else np.full(ctx.shape, float(other))
    out[units] = values
    return out


class _Presence(Feature):
    family = "presence"
    name_prefix = {"force": "force"}

    @staticmethod
    def _who(force: str | None) -> str:
        return "any foreign force" if force is None else force


class Troops(_Presence):
    """Troops of a force (all forces when None) in the unit in month t; unknown numbers count 0."""

    def __init__(self, force: str | None = None) -> None:
        self.force = force

    def describe(self) -> str:
        return (
            f"troops of {self._who(self.force)} in the unit in the month (0 where the number is not reported)"
        )

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        who, unit = context.force(self.force), context.unit_word
        if num(value) == "0":  # unreported numbers count 0 too: "none reported", not "none there"
            return f"no troops of {who} reported in the {unit}"
        return f"{count(value, ('troop', 'troops'))} of {who} reported in the {unit}"

    def compute(self, ctx):
        t = _rows(ctx, self.force)
        t = t[t["end_ix"] >= t["start_ix"]]
        return _interval_sum(
            *ctx.shape,
            t["unit_ix"].to_numpy(int),
            t["start_ix"].to_numpy(int),
            t["end_ix"].to_numpy(int),
            t["troops"].to_numpy(float),
        )


class Present(_Presence):
    """1 when a row of the force covers the unit in month t."""

    yes_no = True

    def __init__(self, force: str | None = None) -> None:
        self.force = force

    def describe(self) -> str:
        return f"1 if {self._who(self.force)} is present in the unit in the month"

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        return f"{context.force(self.force)} {'present' if value >= 0.5 else 'not present'}"

    def compute(self, ctx):
        units, cov, pad = _coverage(ctx, self.force)
        return _spread(ctx, units, cov[:, pad:], 0.0)


class Bases(_Presence):
    """Number of distinct locations (bases) of the force in the unit in month t."""

    def __init__(self, force: str | None = None) -> None:
        self.force = force

    def describe(self) -> str:
        return f"number of distinct places where {self._who(self.force)} is based in the unit in the month"

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        who, unit = context.force(self.force), context.unit_word
        bases = "no base" if num(value) == "0" else count(value, ("base", "bases"))
        return f"{bases} of {who} in the {unit}"

    def compute(self, ctx):
        t = _rows(ctx, self.force)
        t = t[t["end_ix"] >= t["start_ix"]]
        out = np.zeros(ctx.shape)
        if len(t):
            # Two forces at one town, or two rows of one place, are one base.
            grp, pairs = pd.factorize(pd.MultiIndex.from_arrays([t["unit_ix"], t["place_key"]]))
            per_place = (
                _interval_sum(
                    len(pairs), ctx.shape[1], grp, t["start_ix"].to_numpy(int), t["end_ix"].to_numpy(int), 1.0
                )
                > 0.5
            )
            np.add.at(out, pairs.get_level_values(0).to_numpy(int), per_place)
        return out


class MonthsSinceArrival(_Presence):
    """Months since the start of the force's current continuous presence in the unit (0 in the
    arrival month); ``cap`` when the force is not present. Back-to-back rows are one presence."""

    def __init__(self, force: str | None = None, cap: int = 120) -> None:
        whole("cap", cap)
        self.force, self.cap = force, cap

    def describe(self) -> str:
        return f"months since {self._who(self.force)} arrived in the unit (capped at {self.cap}; {self.cap} when absent)"

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        who = context.force(self.force)
        # Not "not present": that is Present's sentence, and the two would print the same.
        return (
            f"{who} not stationed in the {context.unit_word}"
            if value >= self.cap
            else f"{who} arrived {context.ago(value)}"
        )

    def absent(self, value: float) -> bool:
        return value >= self.cap  # the cap: the force is not there

    def compute(self, ctx):
        units, cov, pad = _coverage(ctx, self.force)
        arrived = cov & ~np.concatenate([np.zeros((cov.shape[0], 1), bool), cov[:, :-1]], axis=1)
        since = np.where(cov, months_since(arrived, self.cap), self.cap)[:, pad:]
        return _spread(ctx, units, since, self.cap)


def _since_departure(ctx, force, head: np.ndarray, other: float) -> np.ndarray:
    """``head[months since the last month of presence]`` where the force has left and is absent
    at t (those months are >= 1), ``other`` while it is present (0 months) or was never there."""
    units, cov, pad = _coverage(ctx, force)
    table = np.asarray(head, dtype=float).copy()
    table[:1] = other
    return _spread(ctx, units, since_lookup(cov, table, other, start=pad), other)


class MonthsSinceDeparture(_Presence):
    """Months since the force's last month of presence in the unit: 1 in the first month without
    it. ``cap`` while the force is present and where it has never been (nothing has ended)."""

    def __init__(self, force: str | None = None, cap: int = 120) -> None:
        whole("cap", cap)
        self.force, self.cap = force, cap

    def describe(self) -> str:
        return (
            f"months since {self._who(self.force)} was last present in the unit (1 = the month after it left; "
            f"{self.cap} while present or if never present)"
        )

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        who = context.force(self.force)
        return (
            f"{who} has not left (present, or never was)"
            if value >= self.cap
            else f"{who} left {context.ago(value)}"
        )

    def absent(self, value: float) -> bool:
        return value >= self.cap  # the cap: no departure (present, or never was)

    def compute(self, ctx):
        n = ctx.shape[1] + _coverage(ctx, self.force)[2]
        return _since_departure(ctx, self.force, np.minimum(np.arange(n, dtype=float), self.cap), self.cap)


class Withdrawal(_Presence):
    """2^(-months since departure / halflife) while the force has left the unit and is absent, else 0."""

    def __init__(self, force: str | None = None, halflife: float = 6.0) -> None:
        positive("halflife", halflife)
        self.force, self.halflife = force, halflife

    def describe(self) -> str:
        return (
            f"fading signal of {self._who(self.force)} having left the unit (1/2 after {self.halflife} months "
            "without it; 0 while present or if never present)"
        )

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        who = context.force(self.force)
        if value <= 0:
            return f"{who} has not left (present, or never was)"
        # The half-life tells it from MonthsSinceDeparture and from a withdrawal of another half-life.
        return f"{who} left {context.ago(since_decay(value, self.halflife))}{halving(self.halflife)}"

    def compute(self, ctx):
        n = ctx.shape[1] + _coverage(ctx, self.force)[2]
        return _since_departure(ctx, self.force, decay_head(n, self.halflife), 0.0)
