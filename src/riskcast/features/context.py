"""Canonical tables -> the FeatureContext features read: everything placed on the panel's grid.

Events get integer ``unit_ix`` / ``month_ix`` and an ``is_target`` flag; presence and shock
rows are placed on units and months by :func:`.presence.place_presence` and :func:`.shocks.place_shocks`.
Rows outside the grid are kept out of the context, never silently: the counts go in
``ctx.notes``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from riskcast.errors import ConfigError
from riskcast.features import _places
from riskcast.features.base import FeatureContext
from riskcast.features.presence import place_presence
from riskcast.features.selection import actor_pair_codes, event_type_codes, str_codes
from riskcast.features.shocks import place_shocks
from riskcast.panel import target_mask, to_month
from riskcast.paths import project_file

__all__ = ["build_context", "load_actor_groups"]


def load_actor_groups(name_or_path: str | Path) -> dict[str, tuple[str, ...]]:
    """Actor groups from a TOML file: ``[groups] jnim = ["JNIM", "Katiba Macina", ...]``."""
    p = Path(name_or_path)
    if not p.exists():
        try:
            p = project_file("features", f"{name_or_path}.toml")
        except FileNotFoundError:
            raise ConfigError(
                "actor group file not found", file=str(name_or_path), key="features.actor_groups"
            ) from None
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(p)) from None
    groups = data.get("groups")
    if not isinstance(groups, dict):
        raise ConfigError("expected a [groups] table of name = [substrings]", file=str(p), key="groups")
    for name, patterns in groups.items():
        if (
            not isinstance(patterns, list)
            or not patterns
            or not all(isinstance(x, str) and x for x in patterns)
        ):
            raise ConfigError(
                "expected a non-empty list of actor-name substrings", file=str(p), key=f"groups.{name}"
            )
    return {k: tuple(v) for k, v in groups.items()}


def _month_ix(dates: pd.Series, months: pd.DatetimeIndex) -> np.ndarray:
    """``months.get_indexer(to_month(dates))``: each date's month in the panel, -1 outside.

    For naive datetimes and a panel of consecutive month starts (every panel riskcast builds):
    whole days since the epoch (a linear unit change, integer arithmetic) looked up in a table
    of the panel's days; a month starts at midnight of its first day, so the day decides the
    month as ``to_period("M")`` does. Anything else goes through ``to_month`` and the index.
    """
    d = pd.to_datetime(dates)
    stamps = months.to_numpy()
    naive = [isinstance(t, np.dtype) and t.kind == "M" for t in (d.dtype, stamps.dtype)]
    if not all(naive) or len(stamps) == 0:  # time zones, periods: the general path
        return months.get_indexer(to_month(dates))
    panel = stamps.astype("datetime64[M]")
    if (panel.astype(stamps.dtype) != stamps).any() or (np.diff(panel.astype(np.int64)) != 1).any():
        return months.get_indexer(to_month(dates))
    edges = np.append(panel, panel[-1] + 1).astype("datetime64[D]").astype(np.int64)
    month_of_day = np.repeat(np.arange(len(panel)), np.diff(edges))
    day = d.to_numpy().astype("datetime64[D]")
    offset = day.astype(np.int64) - edges[0]
    inside = ~np.isnat(day) & (offset >= 0) & (offset < len(month_of_day))
    return np.where(inside, month_of_day[np.where(inside, offset, 0)], -1)


def _target_flags(ctx: FeatureContext, target) -> np.ndarray:
    """``target_mask(ctx.events, target)``, computed once per distinct combination of what it
    reads (the event type; the actor pair when ``target.actors``; the deaths when
    ``target.min_fatalities``) and mapped back: a few dozen rows of string work, not millions.

    The combinations group the rows by the very strings ``target_mask`` compares (the event
    type as ``astype(str)``, the actors as ``fillna("").astype(str)``: the codes the features
    select events by, computed once here for both) and by equal numbers of deaths, so every row
    of a combination gets its first row's answer.
    """
    ev = ctx.events
    parts = [event_type_codes(ctx)[0]]
    if target.actors:
        parts.append(actor_pair_codes(ctx)[0])
    if target.min_fatalities:
        if not pd.api.types.is_numeric_dtype(ev["fatalities"]):
            return target_mask(ev, target).to_numpy(dtype=bool)
        parts.append(pd.factorize(ev["fatalities"], use_na_sentinel=False)[0])
    group = parts[0]
    if len(parts) > 1:
        keys, size = np.zeros(len(ev), dtype=np.int64), 1
        for codes in parts:
            n = int(codes.max()) + 1 if len(codes) else 1
            if size * n >= 2**62:  # combinations beyond int64: no shortcut
                return target_mask(ev, target).to_numpy(dtype=bool)
            keys, size = keys * n + codes, size * n
        group, _ = pd.factorize(keys)
    first = np.full(int(group.max()) + 1 if len(group) else 0, -1, dtype=np.int64)
    first[group[::-1]] = np.arange(len(group) - 1, -1, -1)  # the first row of each combination
    seen = first >= 0
    flags = np.zeros(len(first), dtype=bool)
    flags[seen] = target_mask(ev.iloc[first[seen]].reset_index(drop=True), target).to_numpy(dtype=bool)
    return flags[group]


def _place_events(events: pd.DataFrame, unit_ix: pd.Index, months: pd.DatetimeIndex) -> pd.DataFrame:
    """The events inside the grid, with ``unit_ix`` and ``month_ix`` (index 0..n-1).

    One copy of the table at most (none when every event is inside: a shallow copy that shares
    the caller's columns and gets new ones; features never write into ``ctx.events``).
    """
    codes, ids = str_codes(events["unit_id"])
    u = unit_ix.get_indexer(pd.Index(ids, dtype=object))[codes] if len(codes) else np.zeros(0, dtype=np.intp)
    m = _month_ix(events["date"], months)
    inside = (u >= 0) & (m >= 0)
    if inside.all():
        ev = events.copy(deep=False)
    else:
        keep = np.flatnonzero(inside)
        ev, u, m = events.take(keep), u[keep], m[keep]
    ev.index = pd.RangeIndex(len(ev))
    ev["unit_ix"] = u.astype(np.intp, copy=False)
    ev["month_ix"] = m.astype(np.intp, copy=False)
    return ev


def build_context(
    *,
    units: pd.DataFrame,
    months: pd.DatetimeIndex,
    neighbours: sp.csr_matrix,
    arrays: dict[str, np.ndarray],
    events: pd.DataFrame,
    presence: pd.DataFrame | None = None,
    shocks: pd.DataFrame | None = None,
    target=None,
    actor_groups: dict[str, tuple[str, ...]] | None = None,
    rainy_season: dict[str, tuple[int, ...]] | None = None,
) -> FeatureContext:
    """Place every table on the grid and return the context the features compute from."""
    unit_ix = pd.Index(units["unit_id"].astype(str))
    # Each unit's country and admin-1, shared by presence, shocks and the calendar features.
    geo = _places.unit_geography(units) if presence is not None or shocks is not None else None
    placed_presence = place_presence(presence, units, months, geo) if presence is not None else None
    placed_shocks = place_shocks(shocks, units, months, geo) if shocks is not None else None
    ctx = FeatureContext(
        units=units.reset_index(drop=True),
        months=months,
        neighbours=neighbours,
        arrays=arrays,
        events=_place_events(events, unit_ix, months),
        presence=placed_presence,
        shocks=placed_shocks,
        target=target,
        actor_groups=dict(actor_groups or {}),
        rainy_season=dict(rainy_season or {}),
    )
    # After the context exists: the target flags read the event codes the features share.
    ctx.events["is_target"] = _target_flags(ctx, target) if target is not None else True
    if geo is not None:
        ctx.cache["__unit_geography"] = geo
    return ctx
