"""Canonical tables -> the complete region-month panel (every unit x every month, zeros filled).

The panel holds, per unit and month, the observed counts of *target* events (the event types,
actors and fatality floor of the config's target) and of all events, and the forecast targets
``target_any_h{h}`` / ``target_count_h{h}``: whether (how many) target events happen in month
t + h. A row at month t never holds information dated after t except in ``target_*`` columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.config import TargetSpec

__all__ = [
    "month_range",
    "target_mask",
    "build_panel",
    "panel_arrays",
    "horizon_targets",
    "target_columns",
    "to_month",
]


def to_month(dates: pd.Series) -> pd.Series:
    """Timestamps -> the first day of their month (datetime64[ns])."""
    return pd.to_datetime(dates).dt.to_period("M").dt.to_timestamp()


def month_range(start: str | pd.Timestamp, end: str | pd.Timestamp) -> pd.DatetimeIndex:
    return pd.date_range(
        pd.Timestamp(start).to_period("M").to_timestamp(),
        pd.Timestamp(end).to_period("M").to_timestamp(),
        freq="MS",
    )


def target_mask(events: pd.DataFrame, target: TargetSpec) -> pd.Series:
    """True for events that count towards the target (type, actors, fatality floor)."""
    types = {t.casefold() for t in target.event_types}
    mask = events["event_type"].astype(str).str.casefold().isin(types)
    if target.actors:
        actors = events["actor1"].fillna("").astype(str) + " | " + events["actor2"].fillna("").astype(str)
        hit = pd.Series(False, index=events.index)
        for a in target.actors:
            hit |= actors.str.contains(a, case=False, regex=False)
        mask &= hit
    if target.min_fatalities:
        mask &= events["fatalities"] >= target.min_fatalities
    return mask


def target_columns(horizons: tuple[int, ...]) -> list[str]:
    return [f"target_{kind}_h{h}" for h in horizons for kind in ("any", "count")]


def _grid(table: pd.DataFrame, value: pd.Series, unit_ix: pd.Index, months: pd.DatetimeIndex) -> np.ndarray:
    """Sum ``value`` into a dense units x months array (rows outside the grid are ignored)."""
    out = np.zeros((len(unit_ix), len(months)))
    if len(table) == 0:
        return out
    u = unit_ix.get_indexer(table["unit_id"])
    m = months.get_indexer(table["month"])
    ok = (u >= 0) & (m >= 0)
    np.add.at(out, (u[ok], m[ok]), np.asarray(value, dtype=float)[ok])
    return out


def panel_arrays(
    events: pd.DataFrame,
    units: pd.DataFrame,
    target: TargetSpec,
    *,
    start: str,
    end: str | None = None,
    counts: pd.DataFrame | None = None,
    count_classes: tuple[str, ...] = ("political_violence",),
) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]]:
    """The panel's months and its dense count arrays (units x months), without the long table
    (a Dask run's workers write that block by block). Arguments as :func:`build_panel`'s."""
    ev = events.assign(month=to_month(events["date"]))
    counts = (
        counts
        if counts is not None
        else pd.DataFrame(columns=["unit_id", "month", "events", "fatalities", "event_class"])
    )
    last = max(
        [d for d in (ev["month"].max(), pd.to_datetime(counts["month"]).max()) if pd.notna(d)], default=None
    )
    if end is None:
        if last is None:
            raise ValueError("no events or counts to build a panel from")
        end = last
    months = month_range(start, end)
    if len(months) == 0:
        raise ValueError(f"panel window is empty: start {start} is after end {end}")
    unit_ix = pd.Index(units["unit_id"].astype(str))

    is_target = target_mask(ev, target)
    tev = ev[is_target]
    cls = counts[counts["event_class"].isin(count_classes)] if len(counts) else counts
    arrays = {
        "n_target": _grid(tev, np.ones(len(tev)), unit_ix, months)
        + _grid(cls, cls.get("events", []), unit_ix, months),
        "n_fatalities": _grid(tev, tev["fatalities"], unit_ix, months)
        + _grid(cls, cls.get("fatalities", []), unit_ix, months),
        "n_all": _grid(ev, np.ones(len(ev)), unit_ix, months)
        + _grid(counts, counts.get("events", []), unit_ix, months),
    }

    return months, arrays


def build_panel(
    events: pd.DataFrame,
    units: pd.DataFrame,
    target: TargetSpec,
    horizons: tuple[int, ...],
    *,
    start: str,
    end: str | None = None,
    counts: pd.DataFrame | None = None,
    count_classes: tuple[str, ...] = ("political_violence",),
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Build the complete panel.

    Args:
        events: canonical events with a ``unit_id`` column (from region assignment).
        units: the gazetteer rows of the panel's units (unit_id, name, country).
        target: what counts as an attack.
        horizons: forecast horizons in months.
        start, end: first and last month ("YYYY-MM"); ``end`` defaults to the last month with data.
        counts: optional already-aggregated counts with ``unit_id`` and ``month``; rows whose
            ``event_class`` is in ``count_classes`` add to the target counts.

    Returns:
        The panel (unit_id, unit_name, country, month, n_target, n_fatalities, n_all and the
        targets) sorted by unit then month, and the dense arrays (units x months) that feature
        kernels work on: ``n_target``, ``n_fatalities``, ``n_all``.
    """
    months, arrays = panel_arrays(
        events, units, target, start=start, end=end, counts=counts, count_classes=count_classes
    )
    unit_ix = pd.Index(units["unit_id"].astype(str))
    n_u, n_m = len(unit_ix), len(months)
    panel = pd.DataFrame(
        {
            "unit_id": np.repeat(unit_ix.to_numpy(), n_m),
            "unit_name": np.repeat(units["name"].astype(str).to_numpy(), n_m),
            "country": np.repeat(units["country"].astype(str).to_numpy(), n_m),
            "month": np.tile(months.to_numpy(), n_u),
        }
    )
    for name, arr in arrays.items():
        panel[name] = arr.ravel()
    for name, arr in horizon_targets(arrays["n_target"], horizons, target.threshold).items():
        panel[name] = arr.ravel()
    return panel, arrays


def horizon_targets(n_target: np.ndarray, horizons: tuple[int, ...], threshold: int) -> dict[str, np.ndarray]:
    """``target_any_h{h}`` and ``target_count_h{h}`` (units x months) from the target counts.

    The target of month t is month t + h; beyond the last month it is unknown (NaN). Shared by
    the in-memory panel and the block files a Dask run's workers write, so both hold the same
    numbers.
    """
    n_m = n_target.shape[1]
    out = {}
    for h in horizons:
        ahead = np.full_like(n_target, np.nan, dtype=float)
        if h < n_m:
            ahead[:, : n_m - h] = n_target[:, h:]
        out[f"target_any_h{h}"] = np.where(np.isnan(ahead), np.nan, (ahead >= threshold).astype(float))
        out[f"target_count_h{h}"] = ahead
    return out
