"""Political shocks per unit and month: time since, fading memory, post-shock windows, counts.

:func:`place_shocks` gives each shock the month of its date and the units it applies to. A
shock dated in month t counts at t (it is dated <= t); nothing later is read. Shocks before
the panel are kept (``month_ix`` < 0) so that "months since the 2012 coup" is right at the
panel's first month; shocks after the panel's last month are dropped and counted.

Which units a shock applies to:

* national (no region): every unit of its country;
* regional at admin-1: the unit of that name (through the run's gazetteer);
* regional at admin-2: every cercle whose ``parent`` is that admin-1 region (the name is
  resolved through riskcast's curated admin-1 gazetteer);
* regional on PRIO-GRID: the cells whose nearest curated admin-1 centroid is that region
  (an approximation; see :func:`riskcast.features._places.unit_geography`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.errors import InputError
from riskcast.features import _places
from riskcast.features.base import PLAIN, ExplainContext, Feature, FeatureContext, FeatureError
from riskcast.features.kernels import (
    AboveZero,
    decay_since,
    months_since,
    positive,
    rolling_sum,
    since_lookup,
    whole,
)
from riskcast.features.words import count, halving, num, since_decay
from riskcast.regions import Gazetteer
from riskcast.schemas import SHOCK_KINDS

__all__ = ["place_shocks", "MonthsSinceShock", "ShockDecay", "PostShock", "ShockCount"]

_COLUMNS = ["kind", "unit_ix", "month_ix", "national", "line"]
_SCOPES = ("any", "national", "unit")


def place_shocks(
    shocks: pd.DataFrame, units: pd.DataFrame, months: pd.DatetimeIndex, geo: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per (shock, unit it applies to): ``kind``, ``unit_ix``, ``month_ix`` (negative
    before the panel), ``national`` and ``line`` (the shock's CSV line, header = line 1).

    Shocks in countries outside the run, after the panel, or naming a region that does not
    resolve are counted by reason in ``attrs["unplaced"]``.

    Raises:
        InputError: a ``kind`` that is not one of :data:`riskcast.schemas.SHOCK_KINDS`
            (tables built in code skip the schema, so the check is repeated here).
    """
    s = shocks.reset_index(drop=True)
    kinds = s["kind"].astype(str)
    bad = ~kinds.isin(SHOCK_KINDS)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"unknown shock kind {s['kind'].iloc[i]!r} (expected one of {', '.join(SHOCK_KINDS)})",
            file="shocks",
            row=i + 2,
            column="kind",
        )
    units = units.reset_index(drop=True)
    n = len(months)
    m0 = months[0]
    date = pd.to_datetime(s["date"])
    month_ix = ((date.dt.year - m0.year) * 12 + (date.dt.month - m0.month)).to_numpy(int)
    places = _places.Places(units, _places.unit_geography(units) if geo is None else geo)
    level = _places.unit_level(units)
    gaz = None
    if level == "admin1":
        gaz = Gazetteer(units, file="units")
    unit_ids = units["unit_id"].astype(str).to_numpy()
    unplaced: dict[str, int] = {}
    rows, unit_ix = [], []
    region = s["region"] if "region" in s.columns else pd.Series(None, index=s.index, dtype=object)
    for i, (country, reg) in enumerate(zip(s["country"], region)):  # tens to thousands of shocks
        in_country = places.in_country(_places.country_key(country))
        why = None
        if not in_country.any():
            hit, why = [], "country not in the run"
        elif month_ix[i] > n - 1:
            hit, why = [], "after the panel end"
        elif reg is None or pd.isna(reg) or not str(reg).strip():
            hit = np.flatnonzero(in_country)
        elif gaz is not None:
            uid, why = gaz.lookup(country, reg)
            hit = np.flatnonzero(unit_ids == uid) if uid else []
        else:
            parent, why = _places.admin1_gazetteer().lookup(country, reg)
            hit = np.flatnonzero(in_country & (places.admin1 == parent)) if parent else []
            if parent and not len(hit):
                why = f"no units in region {reg!r}"
        if not len(hit):
            unplaced[why] = unplaced.get(why, 0) + 1
        rows += [i] * len(hit)
        unit_ix += list(hit)
    rows = np.asarray(rows, dtype=int)
    national = region.isna().to_numpy() | (region.fillna("").astype(str).str.strip() == "").to_numpy()
    out = pd.DataFrame(
        {
            "kind": kinds.to_numpy()[rows],
            "unit_ix": np.asarray(unit_ix, dtype=int),
            "month_ix": month_ix[rows],
            "national": national[rows],
            "line": rows + 2,
        },
        columns=_COLUMNS,
    )
    out.attrs["unplaced"] = unplaced
    return out


def _kinds(kind) -> str | tuple[str, ...] | None:
    """A kind or a tuple of kinds, checked; a one-element list becomes the plain kind."""
    if kind is None:
        return None
    ks = (kind,) if isinstance(kind, str) else tuple(kind)
    unknown = [k for k in ks if k not in SHOCK_KINDS]
    if not ks or unknown:
        raise FeatureError(
            f"kind must be one or more of {', '.join(SHOCK_KINDS)}, got {kind!r}", param="kind"
        )
    return ks[0] if len(ks) == 1 else ks


def _scope(scope: str) -> str:
    if scope not in _SCOPES:
        raise FeatureError(f"scope must be one of {', '.join(_SCOPES)}, got {scope!r}", param="scope")
    return scope


def _hits(ctx: FeatureContext, kind, scope: str) -> tuple[np.ndarray, np.ndarray, int]:
    """(distinct padded rows of the count of matching shocks, each unit's row, the pad: months
    before the panel).

    A national shock gives every unit of its country the same row, so a 10,000-cell grid of
    three countries has a handful of distinct rows: the features compute on those and copy each
    unit's row out (:func:`_expand`), the same values as on the full grid. Units share a row
    when the months of their shocks are the same (as a multiset), which is exactly when the rows
    are equal.
    """
    n_u, n_m = ctx.shape
    t = ctx.shocks
    if t is None or len(t) == 0:
        return np.zeros((1, n_m)), np.zeros(n_u, dtype=np.intp), 0
    if "month_ix" not in t.columns:
        raise ValueError("ctx.shocks is not placed; build the context with build_context (place_shocks)")
    if kind is not None:
        t = t[t["kind"].isin((kind,) if isinstance(kind, str) else kind)]
    if scope != "any":
        t = t[t["national"] == (scope == "national")]
    pad = int(max(0, -t["month_ix"].min())) if len(t) else 0
    u, m = t["unit_ix"].to_numpy(np.intp), t["month_ix"].to_numpy(np.intp) + pad
    # Each unit's months, sorted, as one row of a units x (most shocks of a unit) table.
    order = np.lexsort((m, u))
    counts = np.bincount(u, minlength=n_u)
    seq = np.full((n_u, int(counts.max()) if len(u) else 0), -1, dtype=np.intp)
    seq[u[order], np.arange(len(u)) - (np.cumsum(counts) - counts)[u[order]]] = m[order]
    _, first, group = np.unique(seq, axis=0, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    rows = np.zeros((len(first), pad + n_m))
    is_first = np.zeros(n_u, dtype=bool)
    is_first[first] = True
    sel = is_first[u]  # the rows of each group's first unit, in table order
    np.add.at(rows, (group[u[sel]], m[sel]), 1.0)
    return rows, group, pad


def _expand(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Each unit's row of ``values`` (distinct rows): the units x months array."""
    return np.take(values, group, axis=0)


def _what(kind, scope: str) -> str:
    k = "shock" if kind is None else kind if isinstance(kind, str) else " or ".join(kind)
    where = {"any": "", "national": " (national)", "unit": " (in the unit's region)"}[scope]
    return f"{k}{where}".replace("_", " ")


class _Shock(Feature):
    family = "shocks"
    name_prefix = {"scope": "scope"}

    @property
    def national(self) -> bool:
        return self.scope == "national"

    def _noun(self, context: ExplainContext) -> tuple[str, str]:
        """The shock in words, (singular, plural): "national coup", "coups or peace accords"."""
        kinds = () if self.kind is None else (self.kind,) if isinstance(self.kind, str) else self.kind
        one, many = (" or ".join(context.shock(k)[i] for k in kinds) for i in (0, 1))
        one, many = one or "shock", many or "shocks"
        if self.scope == "national":
            return f"national {one}", f"national {many}"
        return (f"{one} in the region", f"{many} in the region") if self.scope == "unit" else (one, many)


class MonthsSinceShock(_Shock):
    """Months since the last shock of ``kind`` applying to the unit (0 in its month), capped."""

    def __init__(self, kind: str | tuple[str, ...], scope: str = "any", cap: int = 120) -> None:
        whole("cap", cap)
        self.kind, self.scope, self.cap = _kinds(kind), _scope(scope), cap

    def describe(self) -> str:
        return f"months since the last {_what(self.kind, self.scope)} (capped at {self.cap})"

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        one, many = self._noun(context)
        text = (
            f"no {many} in the last {self.cap} months" if value >= self.cap else f"{one} {context.ago(value)}"
        )
        return text + self.national_note(context)

    def absent(self, value: float) -> bool:
        return value >= self.cap  # the cap: none in the last `cap` months

    def compute(self, ctx):
        hit, group, pad = _hits(ctx, self.kind, self.scope)
        return _expand(months_since(AboveZero(hit), self.cap, start=pad), group)


class ShockDecay(_Shock):
    """2^(-months since the last shock of ``kind`` / halflife); 0 if there was none."""

    def __init__(self, kind: str | tuple[str, ...], halflife: float, scope: str = "any") -> None:
        positive("halflife", halflife)
        self.kind, self.halflife, self.scope = _kinds(kind), halflife, _scope(scope)

    def describe(self) -> str:
        return f"fading memory of the last {_what(self.kind, self.scope)} (half-life {self.halflife} months)"

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        one, many = self._noun(context)
        if value <= 0:
            return f"no {many} on record" + self.national_note(context)
        # The half-life tells it from MonthsSinceShock and from a decay of another half-life.
        return (
            f"{one} {context.ago(since_decay(value, self.halflife))}{halving(self.halflife)}"
            + self.national_note(context)
        )

    def compute(self, ctx):
        hit, group, pad = _hits(ctx, self.kind, self.scope)
        return _expand(decay_since(AboveZero(hit), self.halflife, start=pad), group)


class PostShock(_Shock):
    """1 during the ``months`` months that start with the month of a shock of ``kind``."""

    yes_no = True

    def __init__(self, kind: str | tuple[str, ...], months: int, scope: str = "any") -> None:
        whole("months", months)
        self.kind, self.months, self.scope = _kinds(kind), months, _scope(scope)

    def describe(self) -> str:
        return f"1 in the month of a {_what(self.kind, self.scope)} and the {self.months - 1} months after it"

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        one = self._noun(context)[0]
        text = (
            f"{one} within the last {self.months} months"
            if value >= 0.5
            else f"no {one} in the last {self.months} months"
        )
        return text + self.national_note(context)

    def compute(self, ctx):
        hit, group, pad = _hits(ctx, self.kind, self.scope)
        # A shock (counts are whole, >= 1) in the `months` months ending at t: the last one
        # fewer than `months` months ago.
        head = (np.arange(hit.shape[1]) < self.months).astype(float)
        return _expand(since_lookup(AboveZero(hit), head, 0.0, start=pad), group)


class ShockCount(_Shock):
    """Number of shocks (of ``kind``; any kind when None) applying to the unit in the ``window`` months ending at t."""

    def __init__(self, window: int, kind: str | tuple[str, ...] | None = None, scope: str = "any") -> None:
        whole("window", window)
        self.window, self.kind, self.scope = window, _kinds(kind), _scope(scope)

    def describe(self) -> str:
        return f"number of {_what(self.kind, self.scope)}s in the last {self.window} months"

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        noun = self._noun(context)
        text = f"no {noun[1]}" if num(value) == "0" else count(value, noun)
        return f"{text} in the last {self.window} months" + self.national_note(context)

    def compute(self, ctx):
        hit, group, pad = _hits(ctx, self.kind, self.scope)
        return _expand(rolling_sum(hit, self.window)[:, pad:], group)
