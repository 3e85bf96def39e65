"""The spatial units of a run: the configured gazetteer, riskcast's curated one, or the PRIO-GRID
cells of a bounding box or boundaries file (fixed by geography, never by where events happened)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from riskcast import facts
from riskcast.config import Config
from riskcast.errors import ConfigError, InputError
from riskcast.io.canonical import read_canonical
from riskcast.paths import facts_file
from riskcast.regions.boundaries import load_boundaries
from riskcast.regions.priogrid import priogrid_gazetteer, priogrid_gid

__all__ = ["load_units"]


def _priogrid_units(cfg: Config) -> pd.DataFrame:
    """PRIO-GRID cells whose centre lies in ``regions.bbox`` or inside ``regions.boundaries``.

    The cell set is fixed by geography, never by where events happened: a unit set drawn from
    the events would tell the model which cells will see violence.
    """
    half = 0.25
    if cfg.regions.bbox is not None:
        lon0, lat0, lon1, lat1 = cfg.regions.bbox
    elif cfg.regions.boundaries is not None:
        shapes = load_boundaries(cfg.regions.boundaries, cfg.regions.name_property)
        lon0, lat0, lon1, lat1 = shapely.union_all([g for _, g in shapes]).bounds
    else:
        raise ConfigError(
            "unit = 'priogrid' needs regions.bbox, regions.boundaries or regions.gazetteer", key="regions"
        )
    lats = np.arange(np.floor(lat0 * 2) / 2 + half, lat1, 0.5)
    lons = np.arange(np.floor(lon0 * 2) / 2 + half, lon1, 0.5)
    glat, glon = (a.ravel() for a in np.meshgrid(lats, lons, indexing="ij"))
    inside = (glat >= lat0) & (glat <= lat1) & (glon >= lon0) & (glon <= lon1)
    if cfg.regions.bbox is None:
        union = shapely.union_all([g for _, g in shapes])
        inside &= shapely.contains_xy(union, glon, glat)
    gids = priogrid_gid(glat[inside], glon[inside])
    return priogrid_gazetteer(gids, country="/".join(cfg.countries))


def _check_neighbours(units: pd.DataFrame, file: str) -> None:
    """Every neighbour id must be a unit of the gazetteer: a typo would silently cut the graph."""
    known = set(units["unit_id"].astype(str))
    for pos, (uid, nbs) in enumerate(zip(units["unit_id"], units["neighbours"].fillna(""))):
        unknown = [n for n in str(nbs).split("|") if n and n not in known]
        if unknown:
            raise InputError(
                f"neighbour {unknown[0]!r} of unit {uid!r} is not a unit of the gazetteer",
                file=file,
                row=pos + 2,
                column="neighbours",
            )


def load_units(cfg: Config) -> pd.DataFrame:
    """The spatial units of the run: the configured gazetteer, else riskcast's curated one."""
    if cfg.regions.gazetteer is not None:
        units = read_canonical(cfg.regions.gazetteer, table="regions").table
        _check_neighbours(units, str(cfg.regions.gazetteer))
        units = units[units["level"] == cfg.unit]
    elif cfg.unit == "priogrid":
        units = _priogrid_units(cfg)
    else:
        units = facts.load_regions(cfg.unit)
        for fname, part in facts.load_region_files(cfg.unit).items():  # each file names its own rows
            _check_neighbours(part, str(facts_file(fname)))
    if cfg.unit != "priogrid":
        units = units[units["country"].isin(cfg.countries)]
    units = units.reset_index(drop=True)
    # Neighbours in countries outside the run (e.g. Burkina regions bordering Mopti) have no
    # rows in the panel, so the graph keeps only links between the run's own units.
    keep = set(units["unit_id"])
    units["neighbours"] = (
        units["neighbours"].fillna("").map(lambda s: "|".join(n for n in s.split("|") if n in keep))
    )
    if units.empty:
        raise InputError(
            f"no {cfg.unit} units for countries {list(cfg.countries)} in the gazetteer",
            file=str(cfg.regions.gazetteer or "riskcast curated gazetteer"),
        )
    return units
