"""PRIO-GRID v2 cells (0.5 degree): cell ids, centroids and cell gazetteers."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.schemas import REGIONS, validate

__all__ = ["PRIOGRID_CELL", "PRIOGRID_N_CELLS", "priogrid_gid", "priogrid_centroid", "priogrid_gazetteer"]

#: PRIO-GRID cell size in degrees, and the number of cells (360 rows x 720 columns).
PRIOGRID_CELL = 0.5
_PG_COLS, _PG_ROWS = 720, 360
PRIOGRID_N_CELLS = _PG_COLS * _PG_ROWS


def priogrid_gid(lat, lon) -> np.ndarray:
    """PRIO-GRID v2 cell ids of points (vectorised).

    ``gid = row * 720 + col + 1`` with ``row = floor((lat + 90) / 0.5)`` and
    ``col = floor((lon + 180) / 0.5)``: gid 1 is the cell lon -180..-179.5, lat -90..-89.5.
    A point on a cell edge belongs to the cell north/east of it; lat 90 and lon 180 belong
    to the last row/column.

    Raises:
        ValueError: a coordinate is missing or out of range.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    bad = ~((lat >= -90) & (lat <= 90) & (lon >= -180) & (lon <= 180))  # NaN fails too
    if np.any(bad):
        i = int(np.flatnonzero(np.atleast_1d(bad))[0])
        raise ValueError(
            f"priogrid_gid: coordinate {i} is missing or out of range "
            f"(lat {np.atleast_1d(lat)[i]}, lon {np.atleast_1d(lon)[i]})"
        )
    row = np.minimum(np.floor((lat + 90.0) / PRIOGRID_CELL), _PG_ROWS - 1).astype(np.int64)
    col = np.minimum(np.floor((lon + 180.0) / PRIOGRID_CELL), _PG_COLS - 1).astype(np.int64)
    return row * _PG_COLS + col + 1


def _check_gids(gid) -> np.ndarray:
    g = np.asarray(gid)
    if g.dtype.kind == "f":
        if np.any(~np.isfinite(g)) or np.any(g != np.floor(g)):
            raise ValueError("PRIO-GRID gids must be whole numbers")
    elif g.dtype.kind not in "iu":
        raise ValueError(f"PRIO-GRID gids must be integers, got dtype {g.dtype}")
    g = g.astype(np.int64)
    bad = (g < 1) | (g > PRIOGRID_N_CELLS)
    if np.any(bad):
        raise ValueError(
            f"PRIO-GRID gids run from 1 to {PRIOGRID_N_CELLS}, got {np.atleast_1d(g)[np.atleast_1d(bad)][:5]}"
        )
    return g


def priogrid_centroid(gid) -> tuple[np.ndarray, np.ndarray]:
    """Centroids ``(lat, lon)`` of PRIO-GRID cells (vectorised); inverse of :func:`priogrid_gid`."""
    g = _check_gids(gid) - 1
    row, col = np.divmod(g, _PG_COLS)
    lat = row * PRIOGRID_CELL - 90.0 + PRIOGRID_CELL / 2
    lon = col * PRIOGRID_CELL - 180.0 + PRIOGRID_CELL / 2
    return lat, lon


def priogrid_gazetteer(gids, country: str | None = None) -> pd.DataFrame:
    """A REGIONS table of PRIO-GRID cells, sorted by gid, duplicates dropped.

    ``neighbours`` is queen contiguity (the up to 8 cells sharing an edge or a corner,
    wrapping round at the antimeridian) restricted to the given cells. ``country`` is
    written on every row ("" when not given).
    """
    g = np.unique(_check_gids(np.atleast_1d(np.asarray(gids))))
    lat, lon = priogrid_centroid(g)
    row, col = np.divmod(g - 1, _PG_COLS)
    present = set(g.tolist())
    nbs: list[list[int]] = [[] for _ in g]
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == dc == 0:
                continue
            r = row + dr
            ok = (r >= 0) & (r < _PG_ROWS)
            cand = r * _PG_COLS + (col + dc) % _PG_COLS + 1
            hit = ok & np.fromiter((c in present for c in cand.tolist()), bool, len(cand))
            for i in np.flatnonzero(hit):
                nbs[i].append(int(cand[i]))
    ids = [f"PG{x}" for x in g.tolist()]
    df = pd.DataFrame(
        {
            "unit_id": ids,
            "name": [f"PRIO-GRID {x}" for x in g.tolist()],
            "country": "" if country is None else str(country),
            "level": "priogrid",
            "pcode": None,
            "parent": None,
            "aliases": None,
            "centroid_lat": lat,
            "centroid_lon": lon,
            "neighbours": ["|".join(f"PG{x}" for x in sorted(n)) or None for n in nbs],
            "source": "PRIO-GRID v2 geometry (computed)",
        }
    )
    return validate(df, REGIONS, file="priogrid_gazetteer")
