"""Presence rows placed on the grid: each row of a PRESENCE table on the run's units and months.

:func:`place_presence` is what :func:`riskcast.features.context.build_context` runs; the features
of :mod:`.presence` read the placed table. :func:`check_presence_overlaps` is also run at ingest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.errors import InputError
from riskcast.features import _places
from riskcast.regions import Gazetteer, normalise_name

__all__ = ["place_presence", "check_presence_overlaps", "PLACED_COLUMNS"]

PLACED_COLUMNS = [
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


def place_presence(
    presence: pd.DataFrame, units: pd.DataFrame, months: pd.DatetimeIndex, geo: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Put each presence row on units and months.

    Returns one row per (presence row, unit) with: ``force``, ``force_key`` (case-folded),
    ``unit_ix``; ``start_ix`` / ``end_ix`` (month indices clipped to the panel; an ongoing
    row ends at the last month; a row that ended before the panel has the empty interval
    0..-1); ``start_at`` / ``end_at`` (the same, not clipped at the panel start: negative before it);
    ``troops`` (NaN -> 0, split equally when a region-only row covers several cercles);
    ``location``; ``place_key`` (normalised location, else region); ``line`` (CSV line).

    Units: a region name resolves through the run's admin-1 gazetteer; admin-2 and PRIO-GRID
    use coordinates (see :func:`riskcast.features._places.resolve_presence_row`). Rows that start after the panel or cannot be
    placed are counted by reason in ``attrs["unplaced"]``. ``geo``: :func:`~riskcast.features._places.unit_geography`
    of ``units`` when the caller has it.

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
    places = _places.Places(units, _places.unit_geography(units) if geo is None else geo)
    rows, unit_ix = [], []
    for i, row in enumerate(p.itertuples(index=False)):  # tens to thousands of rows
        if start_at[i] > n - 1:
            unplaced["starts after the panel end"] = unplaced.get("starts after the panel end", 0) + 1
            continue
        ix, why = _places.resolve_presence_row(row, level, places, gaz)
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
        columns=PLACED_COLUMNS,
    )
    out.attrs["unplaced"] = unplaced
    return out
