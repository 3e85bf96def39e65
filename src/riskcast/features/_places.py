"""Geography shared by the presence and shock features: which country and admin-1 region a
unit lies in, and the nearest unit to a point.

Presence rows and shocks name places at a coarser or different grain than the run's units
(a town with coordinates, an admin-1 name, a whole country). These helpers map such places
onto units of any level with one rule per case, each written down in the function that uses it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from riskcast.facts import load_regions
from riskcast.regions import COUNTRY_ALIASES, Gazetteer, normalise_name, priogrid_centroid, priogrid_gid

__all__ = [
    "country_key",
    "unit_level",
    "haversine_km",
    "nearest",
    "admin1_gazetteer",
    "admin2_table",
    "unit_geography",
    "geography",
    "Places",
    "resolve_presence_row",
]

EARTH_RADIUS_KM = 6371.0


def country_key(c: object) -> str:
    """A country name as a matching key ("" when missing): "MLI", "Mali" and "mali" agree."""
    if c is None or (not isinstance(c, str) and pd.isna(c)):
        return ""
    k = normalise_name(c)
    return COUNTRY_ALIASES.get(k, k)


def unit_level(units: pd.DataFrame) -> str:
    """The level of the run's units (``level`` column; admin1 when the table does not say)."""
    if "level" in units.columns and len(units):
        return str(units["level"].iloc[0])
    return "admin1"


def haversine_km(lat, lon, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between a point and arrays of points (vectorised)."""
    p1, p2 = np.radians(lat), np.radians(np.asarray(lat2, dtype=float))
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=float) - lon)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def nearest(lat: float, lon: float, cand_lat, cand_lon, allowed: np.ndarray) -> int | None:
    """Index of the nearest allowed candidate centroid, or None when none is allowed."""
    if not allowed.any():
        return None
    d = np.where(allowed, haversine_km(lat, lon, cand_lat, cand_lon), np.inf)
    return int(np.argmin(d))


@lru_cache(maxsize=1)
def admin1_gazetteer() -> Gazetteer:
    """riskcast's curated admin-1 gazetteer (all three countries), read once."""
    return Gazetteer(load_regions("admin1"), file="regions_admin1.csv")


@lru_cache(maxsize=1)
def admin2_table() -> pd.DataFrame:
    """riskcast's curated admin-2 units (Mali cercles, Burkina Faso provinces, Niger departments; with their admin-1 ``parent``)."""
    return load_regions("admin2")


def unit_geography(units: pd.DataFrame) -> pd.DataFrame:
    """Per unit (in ``units`` order): ``country`` (a key) and ``admin1`` (a curated admin-1 unit_id).

    * admin1 units: their own country and unit_id;
    * admin2 units: their country and ``parent``;
    * PRIO-GRID cells: the country and id of the curated admin-1 region whose centroid is
      nearest to the cell's centre, among the countries named in the cell's ``country``
      ("Mali/Niger" names two; empty names all). This is an approximation: near a border or
      between two large regions a cell can be given to the wrong one. riskcast ships no
      admin-1 polygons, and a centroid rule needs none.
    """
    level = unit_level(units)
    countries = (
        _country_keys(units["country"]) if "country" in units.columns else pd.Series("", index=units.index)
    )
    if level == "admin1":
        return pd.DataFrame(
            {"country": countries.to_numpy(), "admin1": units["unit_id"].astype(str).to_numpy()}
        )
    if level == "admin2":
        parent = (
            units["parent"].where(units["parent"].notna(), "").astype(str).str.strip()
            if "parent" in units.columns
            else ""
        )
        return pd.DataFrame({"country": countries.to_numpy(), "admin1": np.asarray(parent, dtype=object)})
    a1 = admin1_gazetteer().units
    a1_country = a1["country"].map(country_key).to_numpy()
    # One distance matrix (cells x admin-1 regions); each cell may only take the regions of
    # the countries it names.
    lat = units["centroid_lat"].to_numpy(dtype=float)[:, None]
    lon = units["centroid_lon"].to_numpy(dtype=float)[:, None]
    d = haversine_km(lat, lon, a1["centroid_lat"].to_numpy()[None, :], a1["centroid_lon"].to_numpy()[None, :])
    named = (
        units["country"].fillna("").astype(str)
        if "country" in units.columns
        else pd.Series("", index=units.index)
    )
    allowed = np.ones(d.shape, bool)
    for text in named.unique():
        wanted = [country_key(c) for c in text.split("/") if c.strip()]
        if wanted:
            allowed[(named == text).to_numpy()] = np.isin(a1_country, wanted)[None, :]
    d = np.where(allowed, d, np.inf)
    i = np.argmin(d, axis=1)
    ok = np.isfinite(d[np.arange(len(d)), i])
    return pd.DataFrame(
        {
            "country": np.where(ok, a1_country[i], ""),
            "admin1": np.where(ok, a1["unit_id"].to_numpy(dtype=object)[i], ""),
        },
        dtype=object,
    )


def _country_keys(column: pd.Series) -> pd.Series:
    """``column.map(country_key)``, one call per distinct name (10,000 cells name three countries)."""
    codes, uniques = pd.factorize(column)
    values = np.asarray(uniques, dtype=object)
    if not all(type(v) is str for v in values):  # equal but differently written values: one by one
        return column.map(country_key)
    keys = np.array([country_key(v) for v in values] + [country_key(None)], dtype=object)
    return pd.Series(keys[codes], index=column.index, dtype=object)  # code -1 (missing): the last


def geography(ctx) -> pd.DataFrame:
    """:func:`unit_geography` of the context's units, computed once per context (cached beside the
    features under a key that is never a feature name)."""
    if "__unit_geography" not in ctx.cache:
        ctx.cache["__unit_geography"] = unit_geography(ctx.units)
    return ctx.cache["__unit_geography"]


class Places:
    """The run's units as placing rows on them reads them, computed once for all the rows:
    ids with their positions, centroids, each unit's country and admin-1, and the units of a country."""

    def __init__(self, units: pd.DataFrame, geo: pd.DataFrame) -> None:
        self.units = units
        self.ids = units["unit_id"].astype(str).to_numpy()
        self.positions: dict[str, list[int]] = {}
        for i, u in enumerate(self.ids.tolist()):
            self.positions.setdefault(u, []).append(i)
        self.country = geo["country"].to_numpy()
        self.admin1 = geo["admin1"].to_numpy()
        self._in_country: dict[str, np.ndarray] = {}

    def in_country(self, key: str) -> np.ndarray:
        """Which units lie in the country ``key`` (a :func:`country_key`)."""
        if key not in self._in_country:
            self._in_country[key] = self.country == key
        return self._in_country[key]


def resolve_presence_row(row, level: str, places: Places, gaz) -> tuple[list[int], str | None]:
    """Unit indices of one presence row (a namedtuple of a PRESENCE table), or ([], reason).

    ``places`` holds the run's units (:class:`Places`); ``gaz`` is the run's admin-1 Gazetteer
    (admin-1 runs only).
    """
    units, ids = places.units, places.ids
    country = country_key(row.country)
    in_country = places.in_country(country)
    if not in_country.any():
        return [], "country not in the run"
    lat, lon = getattr(row, "latitude", np.nan), getattr(row, "longitude", np.nan)
    gid = getattr(row, "priogrid_gid", None)
    has_xy = not (pd.isna(lat) or pd.isna(lon))
    if not has_xy and gid is not None and not pd.isna(gid):
        lat, lon = (float(v[0]) for v in priogrid_centroid([int(gid)]))
        has_xy = True
    region = row.region if isinstance(row.region, str) and normalise_name(row.region) else None
    if level == "priogrid":
        if not has_xy:
            return [], "no coordinates or priogrid_gid (needed for PRIO-GRID units)"
        g = int(gid) if gid is not None and not pd.isna(gid) else int(priogrid_gid(lat, lon))
        hit = places.positions.get(f"PG{g}", [])
        return (list(hit), None) if hit else ([], "cell not in the run")
    parent = None
    if region is not None:
        parent, why = admin1_gazetteer().lookup(row.country, region)
    if level == "admin1":
        if region is not None:
            uid, why = gaz.lookup(row.country, region)
            return ([int(np.flatnonzero(ids == uid)[0])], None) if uid else ([], why)
        if not has_xy:
            return [], "no region and no coordinates"
        # A point: the parent of the nearest curated cercle where riskcast has cercles (finer
        # than the nearest region centroid: Mali's regions are large and oddly shaped), else
        # the nearest admin-1 centroid of the country.
        a2 = admin2_table()
        ok2 = (a2["country"].map(country_key) == country).to_numpy()
        if ok2.any():
            k = nearest(lat, lon, a2["centroid_lat"], a2["centroid_lon"], ok2)
            hit = np.flatnonzero(places.admin1 == a2["parent"].iloc[k])
            if len(hit):
                return [int(hit[0])], None
        k = nearest(lat, lon, units["centroid_lat"], units["centroid_lon"], in_country)
        return [k], None
    # admin2: a point goes to the nearest cercle of its region (of its country when the
    # region is not given or unknown); a region without a point to every cercle of it.
    in_region = in_country & (places.admin1 == parent) if parent else np.zeros(len(units), bool)
    if has_xy:
        k = nearest(
            lat,
            lon,
            units["centroid_lat"],
            units["centroid_lon"],
            in_region if in_region.any() else in_country,
        )
        return [k], None
    if region is None:
        return [], "no region and no coordinates"
    return (
        (np.flatnonzero(in_region).tolist(), None)
        if in_region.any()
        else ([], why or f"no units in region {region!r}")
    )
