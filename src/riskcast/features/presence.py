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

from riskcast.errors import InputError
from riskcast.features import _places
from riskcast.features.base import PLAIN, ExplainContext, Feature, FeatureContext
from riskcast.features.kernels import months_since, positive, whole
from riskcast.features.words import count, halving, num, since_decay
from riskcast.regions import Gazetteer, normalise_name

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

_COLUMNS = [
    "force",
    "force_key",
    "unit_ix",
    "start_ix",
    "end_ix",
    "start_at",
    "end_at",
    "troops",
    "location",
    "place_key",
    "line",
]


def _key(v: object) -> str:
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else normalise_name(v)


def _month_offset(s: pd.Series, m0: pd.Timestamp) -> np.ndarray:
    s = pd.to_datetime(s)
    return ((s.dt.year - m0.year) * 12 + (s.dt.month - m0.month)).to_numpy(dtype=float)


def check_presence_overlaps(presence: pd.DataFrame, file: str = "presence") -> None:
    """Raise :class:`InputError` when one force's rows at one place overlap in time.

    A place is (country, region, location), compared as normalised names; the force is
    compared case-folded. Rows are named by their CSV line (the header is line 1).
    """
    p = presence.reset_index(drop=True)
    end = p["end_month"].fillna(pd.Timestamp.max.normalize())
    keys = pd.DataFrame(
        {
            "f": p["force"].astype(str).str.casefold(),
            "c": p["country"].map(_places.country_key),
            "r": p["region"].map(_key),
            "l": p["location"].map(_key),
            "s": p["start_month"],
            "e": end,
        }
    ).sort_values(["f", "c", "r", "l", "s"], kind="stable")
    same = (keys[["f", "c", "r", "l"]] == keys[["f", "c", "r", "l"]].shift()).all(axis=1)
    # The latest end so far within the place: a row overlaps any earlier one iff it starts
    # on or before that running maximum.
    run_end = keys.groupby(["f", "c", "r", "l"], sort=False)["e"].cummax().shift()
    bad = same & (keys["s"] <= run_end)
    if not bad.any():
        return
    j = bad.idxmax()
    group = keys.loc[:j].iloc[:-1]
    group = group[
        (group[["f", "c", "r", "l"]] == keys.loc[j, ["f", "c", "r", "l"]]).all(axis=1)
        & (group["e"] >= keys.loc[j, "s"])
    ]
    i = group.index[0]

    def span(k: int) -> str:
        e = p.loc[k, "end_month"]
        return f"{p.loc[k, 'start_month']:%Y-%m}..{'ongoing' if pd.isna(e) else format(e, '%Y-%m')}"

    place = p.loc[j, "location"] if _key(p.loc[j, "location"]) else p.loc[j, "region"]
    a, b = sorted((i, j))
    raise InputError(
        f"presence rows {a + 2} and {b + 2} overlap for force {p.loc[j, 'force']!r} at {place!r} "
        f"({span(a)} and {span(b)}): start_month..end_month of one force at one place must not overlap",
        file=file,
        row=b + 2,
        column="start_month/end_month",
    )


def place_presence(presence: pd.DataFrame, units: pd.DataFrame, months: pd.DatetimeIndex) -> pd.DataFrame:
    """Put each presence row on units and months.

    Returns one row per (presence row, unit) with: ``force``, ``force_key`` (case-folded),
    ``unit_ix``; ``start_ix`` / ``end_ix`` (month indices clipped to the panel; an ongoing
    row ends at the last month; a row that ended before the panel has the empty interval
    0..-1); ``start_at`` / ``end_at`` (the same, not clipped at the panel start: negative before it);
    ``troops`` (NaN -> 0, split equally when a region-only row covers several cercles);
    ``location``; ``place_key`` (normalised location, else region); ``line`` (CSV line).

    Units: a region name resolves through the run's admin-1 gazetteer; admin-2 and PRIO-GRID
    use coordinates (see :func:`riskcast.features._places.resolve_presence_row`). Rows that start after the panel or cannot be
    placed are counted by reason in ``attrs["unplaced"]``.

    Raises:
        InputError: one force's rows at one place overlap (:func:`check_presence_overlaps`).
    """
    check_presence_overlaps(presence)
    p = presence.reset_index(drop=True)
    units = units.reset_index(drop=True)
    n = len(months)
    level = _places.unit_level(units)
    start_at = _month_offset(p["start_month"], months[0])
    end_at = np.where(
        p["end_month"].isna(), n - 1, _month_offset(p["end_month"].fillna(months[0]), months[0])
    )
    # Nothing after the panel's last month is needed, and an ongoing row ends there.
    end_at = np.minimum(end_at, n - 1)
    unplaced: dict[str, int] = {}
    gaz = None
    if level == "admin1":
        gaz = Gazetteer(units, file="units")
    geo = _places.unit_geography(units)
    rows, unit_ix = [], []
    for i, row in enumerate(p.itertuples(index=False)):  # tens to thousands of rows
        if start_at[i] > n - 1:
            unplaced["starts after the panel end"] = unplaced.get("starts after the panel end", 0) + 1
            continue
        ix, why = _places.resolve_presence_row(row, level, units, gaz, geo)
        if not ix:
            unplaced[why] = unplaced.get(why, 0) + 1
        rows += [i] * len(ix)
        unit_ix += ix
    rows = np.asarray(rows, dtype=int)
    share = 1.0 / np.bincount(rows, minlength=len(p))[rows] if len(rows) else np.zeros(0)
    s, e = start_at[rows], end_at[rows]
    place = [
        _key(loc) or _key(reg) or f"row{r}"
        for loc, reg, r in zip(p["location"].to_numpy()[rows], p["region"].to_numpy()[rows], rows)
    ]
    out = pd.DataFrame(
        {
            "force": p["force"].astype(str).to_numpy()[rows],
            "force_key": p["force"].astype(str).str.casefold().to_numpy()[rows],
            "unit_ix": np.asarray(unit_ix, dtype=int),
            "start_ix": np.clip(s, 0, n - 1).astype(int),
            "end_ix": np.where(e < 0, -1, e).astype(int),
            "start_at": s.astype(int),
            "end_at": e.astype(int),
            "troops": p["troops"].astype(float).fillna(0.0).to_numpy()[rows] * share,
            "location": p["location"].to_numpy()[rows],
            "place_key": place,
            "line": rows + 2,
        },
        columns=_COLUMNS,
    )
    out.attrs["unplaced"] = unplaced
    return out


# --- grids ----------------------------------------------------------------------------------


def _rows(ctx: FeatureContext, force: str | None) -> pd.DataFrame:
    t = ctx.presence
    if t is None or len(t) == 0:
        return pd.DataFrame(columns=_COLUMNS)
    if "force_key" not in t.columns:
        raise ValueError("ctx.presence is not placed; build the context with build_context (place_presence)")
    return t if force is None else t[t["force_key"] == force.casefold()]


def _interval_sum(
    n_rows: int, n_cols: int, row: np.ndarray, start: np.ndarray, end: np.ndarray, values
) -> np.ndarray:
    """Sum of ``values`` over intervals start..end (inclusive) per grid row: difference arrays + cumsum."""
    diff = np.zeros((n_rows, n_cols + 1))
    np.add.at(diff, (row, start), values)
    np.add.at(diff, (row, end + 1), -np.asarray(values, dtype=float))
    return np.cumsum(diff[:, :-1], axis=1)


def _coverage(ctx: FeatureContext, force: str | None) -> tuple[np.ndarray, int]:
    """Padded grid of the number of the force's rows covering each unit-month, and the pad."""
    key = f"__presence_cover_{force!r}"
    if key not in ctx.cache:
        t = _rows(ctx, force)
        pad = int(max(0, -t["start_at"].min())) if len(t) else 0
        n_u, n_m = ctx.shape
        cov = _interval_sum(
            n_u,
            pad + n_m,
            t["unit_ix"].to_numpy(int),
            t["start_at"].to_numpy(int) + pad,
            t["end_at"].to_numpy(int) + pad,
            1.0,
        )
        ctx.cache[key] = (cov > 0.5, pad)
    return ctx.cache[key]


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
        cov, pad = _coverage(ctx, self.force)
        return cov[:, pad:].astype(float)


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
        cov, pad = _coverage(ctx, self.force)
        arrived = cov & ~np.concatenate([np.zeros((cov.shape[0], 1), bool), cov[:, :-1]], axis=1)
        return np.where(cov, months_since(arrived, self.cap), self.cap)[:, pad:].astype(float)


def _since_departure(ctx, force) -> tuple[np.ndarray, np.ndarray]:
    """Months since the last month of presence (>= 1) where the force has left and is absent at t."""
    cov, pad = _coverage(ctx, force)
    big = cov.shape[1] + 1
    since = months_since(cov, big)[:, pad:]
    gone = ~cov[:, pad:] & (since < big)
    return since, gone


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
        since, gone = _since_departure(ctx, self.force)
        return np.where(gone, np.minimum(since, self.cap), self.cap).astype(float)


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
        since, gone = _since_departure(ctx, self.force)
        return np.where(gone, np.exp2(-since / self.halflife), 0.0)
