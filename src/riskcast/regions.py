"""Spatial units, and assigning events to them -- never silently.

Three kinds of unit (``riskcast.schemas.LEVELS``):

* **admin1 / admin2** -- regions and cercles/provinces/departments from a curated gazetteer
  (a REGIONS table, see :data:`riskcast.schemas.REGIONS`). Events are matched *by name*:
  the event's country and admin name are normalised (:func:`normalise_name`: accents
  folded, case folded, punctuation and hyphens turned into spaces) and looked up in an
  alias table built from each unit's ``name`` and ``aliases``. "Ségou", "Segou" and
  "SEGOU" are the same key; "Timbuktu" resolves only if the gazetteer lists it as an
  alias of Tombouctou. When boundary polygons are given, events with coordinates are
  matched *by polygon* instead (point in polygon), and the polygon's name is then looked
  up in the same alias table; events without coordinates fall back to their names.
* **priogrid** -- PRIO-GRID v2 cells (0.5 degree). The cell is computed from the
  coordinates (:func:`priogrid_gid`) unless the event already carries ``priogrid_gid``.

Nothing is dropped without an account: :func:`assign_units` returns the assigned events
and an :class:`AssignmentReport` listing every unassigned event with the reason, and
:func:`check_unassigned` turns too large a share of them into an :class:`InputError`
naming the names that did not resolve.

Renamed and split regions are handled with aliases, with no date logic. Two cases in Mali:

* **Ménaka** was carved out of Gao (created 2016, operational about 2016-2018). ACLED codes
  older events in the area under admin1 "Gao" and newer ones under "Menaka". With a
  gazetteer that has a Ménaka unit, "Menaka" events go to it and the older events stay in
  Gao, so Gao's series drops and Ménaka's starts at the recoding: a break that models
  must live with. To keep the pre-2016 geography instead, list "Menaka|Ménaka" as an alias
  of Gao and leave out the Ménaka unit. Note that the geoBoundaries ADM1 polygons have nine
  regions (no Ménaka, no Taoudénit), so assigning by polygon puts every Ménaka event in Gao
  whatever ACLED says: do not mix name- and polygon-based assignment across runs.
* **Taoudénit** was carved out of Tombouctou the same way; the curated gazetteer lists it
  as an alias of Tombouctou.

At the admin2 level two cercles of one country may share a name. The alias table then
keeps both, and the event's admin1 tells them apart: it is resolved through the admin1
gazetteer passed as ``parents`` and compared with the cercles' ``parent`` (an admin1
unit_id). The admin1 is used only to choose between homonyms: a cercle name that is
unique in its country is assigned whatever admin1 the event carries (ACLED moved
cercles between regions when Ménaka and Taoudénit were created).
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from riskcast.errors import InputError
from riskcast.schemas import REGIONS, validate

__all__ = [
    "normalise_name",
    "normalise_names",
    "COUNTRY_ALIASES",
    "Gazetteer",
    "PRIOGRID_CELL",
    "PRIOGRID_N_CELLS",
    "priogrid_gid",
    "priogrid_centroid",
    "priogrid_gazetteer",
    "load_boundaries",
    "AssignmentReport",
    "assign_units",
    "check_unassigned",
]

_NON_ALNUM = re.compile(r"[^0-9a-z]+")

#: Other spellings of the countries' names (normalised -> normalised), applied to the
#: gazetteer and the events alike: ISO3 codes and the short "Burkina".
COUNTRY_ALIASES: dict[str, str] = {
    "mli": "mali",
    "bfa": "burkina faso",
    "burkina": "burkina faso",
    "ner": "niger",
}

#: PRIO-GRID cell size in degrees, and the number of cells (360 rows x 720 columns).
PRIOGRID_CELL = 0.5
_PG_COLS, _PG_ROWS = 720, 360
PRIOGRID_N_CELLS = _PG_COLS * _PG_ROWS


# --------------------------------------------------------------------------- names


def normalise_name(s: str) -> str:
    """A place name as a matching key: accents folded, case folded, punctuation to spaces.

    ``"Ségou"``, ``"SEGOU"`` and ``" segou "`` give ``"segou"``; ``"Centre-Nord"`` gives
    ``"centre nord"``; ``"N'Guigmi"`` gives ``"n guigmi"``. Letters that Unicode does not
    decompose (``"ø"``, ``"œ"``) are dropped with the other non-alphanumerics.
    """
    decomposed = unicodedata.normalize("NFKD", str(s))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return _NON_ALNUM.sub(" ", plain).strip()


def normalise_names(s: pd.Series) -> pd.Series:
    """:func:`normalise_name` over a Series (each distinct value once); missing stays missing.

    Empty strings and names that normalise to nothing become missing too.
    """
    s = pd.Series(s)
    distinct = pd.unique(s.dropna())
    keys = {v: (normalise_name(v) or None) for v in distinct}
    return s.map(keys).astype(object).where(s.notna(), None)


def _country_key(c: object) -> str | None:
    if c is None or (not isinstance(c, str) and pd.isna(c)):
        return None
    k = normalise_name(c)
    return COUNTRY_ALIASES.get(k, k) or None


def _country_keys(s: pd.Series) -> pd.Series:
    return normalise_names(s).map(lambda k: None if k is None else COUNTRY_ALIASES.get(k, k))


def _split(v: object) -> list[str]:
    """A '|'-separated list cell as a list of stripped, non-empty items."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return []
    return [x.strip() for x in str(v).split("|") if x.strip()]


# --------------------------------------------------------------------------- gazetteer


class Gazetteer:
    """The spatial units of one level, with their alias table and neighbours.

    Args:
        regions: a REGIONS table (all rows of one level); it is validated against the schema.
        parents: for an admin2 gazetteer, the admin1 gazetteer whose unit_ids are the
            ``parent`` of the cercles. It lets the event's admin1 name choose between
            cercles of the same name; without it such names stay unassigned (with reason).
        file: where the table came from, for error messages.

    Raises:
        InputError: the table does not fit the REGIONS schema.
        ValueError: the table is empty or mixes levels, or one name/alias of a country
            points to two units (at admin2: two units with the same parent, or without one).
    """

    def __init__(
        self, regions: pd.DataFrame, *, parents: Gazetteer | None = None, file: str = "regions"
    ) -> None:
        units = validate(regions, REGIONS, file=file).reset_index(drop=True)
        if units.empty:
            raise ValueError(f"{file}: the gazetteer has no units")
        levels = units["level"].unique()
        if len(levels) != 1:
            raise ValueError(f"{file}: a gazetteer holds one level, got {sorted(levels)}")
        self._units = units
        self._level = str(levels[0])
        self._file = file
        self._parents = parents
        self._neighbours: sparse.csr_matrix | None = None
        self._countries = {k for k in _country_keys(units["country"]) if k}
        self._parent_of = {
            u: (None if pd.isna(p) or not str(p).strip() else str(p).strip())
            for u, p in zip(units["unit_id"], units["parent"])
        }
        self._names = self._build_aliases()

    def _build_aliases(self) -> dict[tuple[str, str], list[str]]:
        table: dict[tuple[str, str], list[str]] = defaultdict(list)
        spelled: dict[tuple[str, str, str], str] = {}
        for uid, name, country, aliases in self._units[["unit_id", "name", "country", "aliases"]].itertuples(
            index=False
        ):
            ckey = _country_key(country) or ""
            for spelling in [name, *_split(aliases)]:
                key = normalise_name(spelling)
                if not key:
                    continue
                if uid not in table[(ckey, key)]:
                    table[(ckey, key)].append(uid)
                    spelled[(ckey, key, uid)] = spelling
        for (ckey, key), uids in table.items():
            if len(uids) < 2:
                continue
            parents = [self._parent_of[u] for u in uids]
            homonyms_ok = self._level == "admin2" and None not in parents and len(set(parents)) == len(parents)
            if not homonyms_ok:
                both = " and ".join(f"{u} (as {spelled[(ckey, key, u)]!r})" for u in uids)
                why = "" if self._level != "admin2" else " with the same parent or without one"
                raise ValueError(
                    f"{self._file}: the name {key!r} in {ckey or '(no country)'} points to {both}{why}; "
                    "a name or alias must identify one unit"
                )
        return dict(table)

    # -- properties -----------------------------------------------------------------

    @property
    def units(self) -> pd.DataFrame:
        """The validated REGIONS table (a copy), in ``unit_ids`` order."""
        return self._units.copy()

    @property
    def unit_ids(self) -> list[str]:
        return self._units["unit_id"].tolist()

    @property
    def level(self) -> str:
        return self._level

    @property
    def parents(self) -> Gazetteer | None:
        return self._parents

    def has_country(self, country: object) -> bool:
        """Whether the gazetteer has units in ``country`` (any spelling, ISO3 included)."""
        return _country_key(country) in self._countries

    # -- lookups ----------------------------------------------------------------------

    def lookup(self, country: object, name: object, admin1: object = None) -> tuple[str | None, str | None]:
        """The unit called ``name`` in ``country``: ``(unit_id, None)`` or ``(None, reason)``.

        ``admin1`` (a name) is used at the admin2 level to choose between cercles that share
        a name, through the ``parents`` gazetteer.
        """
        ckey = _country_key(country)
        if ckey not in self._countries:
            return None, f"country {country!r} not in gazetteer" if ckey else "no country"
        key = normalise_name(name) if isinstance(name, str) else ""
        if not key:
            return None, f"no {self._level} name"
        uids = self._names.get((ckey, key), [])
        if len(uids) == 1:
            return uids[0], None
        if not uids:
            return None, f"no unit named {name!r} in {country}"
        listed = ", ".join(uids)
        if self._parents is None:
            return None, (
                f"{name!r} names {len(uids)} units in {country} ({listed}); "
                "pass parents= (the admin1 gazetteer) to tell them apart"
            )
        parent, why = self._parents.lookup(country, admin1)
        if parent is None:
            return None, f"{name!r} names {len(uids)} units in {country} ({listed}) and admin1: {why}"
        chosen = [u for u in uids if self._parent_of[u] == parent]
        if len(chosen) == 1:
            return chosen[0], None
        return None, f"{name!r} names {len(uids)} units in {country} ({listed}), none in admin1 {admin1!r}"

    # -- neighbours -------------------------------------------------------------------

    def neighbour_matrix(self) -> sparse.csr_matrix:
        """Contiguity as an n_units x n_units 0/1 matrix in ``unit_ids`` order.

        The relation is made symmetric (a unit listing B makes A and B neighbours both
        ways) and a unit is never its own neighbour.

        Raises:
            ValueError: a ``neighbours`` entry is not a unit_id of this gazetteer.
        """
        if self._neighbours is None:
            index = {u: i for i, u in enumerate(self.unit_ids)}
            rows, cols = [], []
            for uid, cell in zip(self._units["unit_id"], self._units["neighbours"]):
                for nb in _split(cell):
                    if nb not in index:
                        raise ValueError(
                            f"{self._file}: unit {uid!r} lists neighbour {nb!r}, which is not a unit of "
                            f"this {self._level} gazetteer"
                        )
                    if nb != uid:
                        rows.append(index[uid])
                        cols.append(index[nb])
            n = len(index)
            m = sparse.coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n)).tocsr()
            m = ((m + m.T) > 0).astype(np.int8).tocsr()
            m.sort_indices()
            self._neighbours = m
        return self._neighbours.copy()

    def __len__(self) -> int:
        return len(self._units)

    def __repr__(self) -> str:
        return f"Gazetteer(level={self._level!r}, units={len(self)}, countries={sorted(self._countries)})"


# --------------------------------------------------------------------------- PRIO-GRID


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
        raise ValueError(f"PRIO-GRID gids run from 1 to {PRIOGRID_N_CELLS}, got {np.atleast_1d(g)[np.atleast_1d(bad)][:5]}")
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


# --------------------------------------------------------------------------- boundaries


def load_boundaries(path: str | Path, name_property: str = "shapeName") -> list[tuple[str, BaseGeometry]]:
    """The named polygons of a GeoJSON FeatureCollection (e.g. a geoBoundaries file).

    Coordinates are lon/lat (GeoJSON order). Invalid geometries are repaired with
    :func:`shapely.make_valid`.

    Raises:
        InputError: the file is missing, is not JSON, is not a FeatureCollection, or a
            feature has no geometry or no ``name_property``.
    """
    path = Path(path)
    file = str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("boundary file not found", file=file) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not a JSON file ({exc})", file=file) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(
        doc.get("features"), list
    ):
        got = doc.get("type") if isinstance(doc, dict) else type(doc).__name__
        raise InputError(f"expected a GeoJSON FeatureCollection, got {got!r}", file=file)
    out: list[tuple[str, BaseGeometry]] = []
    n = len(doc["features"])
    for k, feat in enumerate(doc["features"]):
        where = f"feature {k} (of {n}, counting from 0)"
        props = (feat or {}).get("properties") or {}
        name = props.get(name_property)
        if name is None or not str(name).strip():
            raise InputError(
                f"{where} has no property {name_property!r} (properties: {sorted(props)})", file=file
            )
        geom_json = (feat or {}).get("geometry")
        if not geom_json:
            raise InputError(f"{where} ({name!r}) has no geometry", file=file)
        try:
            geom = shape(geom_json)
        except Exception as exc:  # shapely raises several types for bad GeoJSON geometry
            raise InputError(f"{where} ({name!r}) has a bad geometry: {exc}", file=file) from None
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        out.append((str(name), geom))
    return out


# --------------------------------------------------------------------------- assignment

_UNASSIGNED_COLUMNS = ["event_id", "country", "admin1", "admin2", "latitude", "longitude", "name", "reason"]


@dataclass
class AssignmentReport:
    """How events were assigned to units, and every event that was not (with the reason).

    ``unassigned`` has one row per unassigned event: event_id, country, admin1, admin2,
    latitude, longitude, ``name`` (what was looked up: the admin name, the polygon's name,
    or ``PG<gid>``; missing when there was nothing to look up) and ``reason``.
    """

    level: str
    n_events: int
    n_by_name: int
    n_by_polygon: int
    n_by_cell: int
    unassigned: pd.DataFrame = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def n_assigned(self) -> int:
        return self.n_by_name + self.n_by_polygon + self.n_by_cell

    @property
    def n_unassigned(self) -> int:
        return len(self.unassigned)

    @property
    def share_unassigned(self) -> float:
        """Unassigned events over all events (0.0 when there were no events)."""
        return self.n_unassigned / self.n_events if self.n_events else 0.0

    def unassigned_by_name(self) -> pd.DataFrame:
        """Unassigned events counted by (country, name, reason), most frequent first."""
        u = self.unassigned
        if u.empty:
            return pd.DataFrame({"country": [], "name": [], "reason": [], "n": []}).astype({"n": "int64"})
        out = (
            u.groupby(["country", "name", "reason"], dropna=False, sort=False)
            .size()
            .rename("n")
            .reset_index()
            .sort_values(["n", "country", "name"], ascending=[False, True, True], na_position="last", kind="stable")
            .reset_index(drop=True)
        )
        return out

    def to_dict(self, max_examples: int = 50) -> dict:
        """A JSON-able account: counts, the full by-name summary and up to 50 example events."""

        def clean(records: list[dict]) -> list[dict]:
            return [
                {k: (None if not isinstance(v, str) and pd.isna(v) else v.item() if hasattr(v, "item") else v)
                 for k, v in r.items()}
                for r in records
            ]

        return {
            "level": self.level,
            "n_events": int(self.n_events),
            "n_assigned": int(self.n_assigned),
            "n_by_name": int(self.n_by_name),
            "n_by_polygon": int(self.n_by_polygon),
            "n_by_cell": int(self.n_by_cell),
            "n_unassigned": int(self.n_unassigned),
            "share_unassigned": float(self.share_unassigned),
            "unassigned_summary": clean(self.unassigned_by_name().to_dict("records")),
            "unassigned_examples": clean(self.unassigned.head(max_examples).to_dict("records")),
            "notes": list(self.notes),
        }


def _require(events: pd.DataFrame, columns: list[str], file: str, why: str) -> None:
    for c in columns:
        if c not in events.columns:
            raise InputError(f"column needed {why} is missing", file=file, column=c)


def _coords(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lat = pd.to_numeric(events["latitude"], errors="coerce").to_numpy(dtype=float)
    lon = pd.to_numeric(events["longitude"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    return lat, lon, ok


def _first_polygon(lat: np.ndarray, lon: np.ndarray, geoms: list[BaseGeometry]) -> tuple[np.ndarray, int]:
    """Index of the first polygon covering each point (-1 if none), and how many points hit >1."""
    hit = np.full(len(lat), -1, dtype=np.int64)
    if len(lat) == 0:
        return hit, 0
    tree = shapely.STRtree(geoms)
    pts, polys = tree.query(shapely.points(lon, lat), predicate="intersects")  # edges count as inside
    if len(pts) == 0:
        return hit, 0
    pairs = pd.DataFrame({"p": pts, "g": polys})
    first = pairs.groupby("p")["g"].min()
    hit[first.index.to_numpy()] = first.to_numpy()
    return hit, int((pairs.groupby("p").size() > 1).sum())


def assign_units(
    events: pd.DataFrame,
    gazetteer: Gazetteer,
    *,
    boundaries: list[tuple[str, BaseGeometry]] | None = None,
    file: str = "events",
) -> tuple[pd.DataFrame, AssignmentReport]:
    """Give each event the ``unit_id`` of its spatial unit; drop (and report) the rest.

    * admin1/admin2: by name -- the event's country and admin1 (or admin2) name through the
      gazetteer's alias table (at admin2 the admin1 chooses between homonymous cercles).
      With ``boundaries`` (from :func:`load_boundaries`), events with coordinates are
      assigned by point in polygon instead: the first polygon (in list order) covering the
      point, edges included, whose name is then looked up in the event's country. Events
      outside every polygon are unassigned (no fallback to the name); events without
      coordinates fall back to their names.
    * priogrid: the event's ``priogrid_gid`` if set, else the cell of its coordinates;
      the unit is ``PG<gid>`` and must be in the gazetteer.

    Returns:
        The assigned events (original index kept, a ``unit_id`` column added or replaced)
        and an :class:`AssignmentReport`. Unassigned events are not in the table.

    Raises:
        InputError: a column the method needs is missing.
        ValueError: ``boundaries`` given for a priogrid gazetteer.
    """
    level = gazetteer.level
    n = len(events)
    unit = np.full(n, None, dtype=object)
    name = np.full(n, None, dtype=object)
    reason = np.full(n, None, dtype=object)
    how = np.zeros(n, dtype=np.int8)  # 1 name, 2 polygon, 3 cell
    notes: list[str] = []
    _require(events, ["country"], file, "to assign events to units")

    if level == "priogrid":
        if boundaries is not None:
            raise ValueError("boundaries are not used at the priogrid level (cells come from coordinates)")
        gid = np.full(n, -1, dtype=np.int64)
        has_gid = np.zeros(n, dtype=bool)
        if "priogrid_gid" in events.columns:
            given = pd.to_numeric(events["priogrid_gid"], errors="coerce")
            has_gid = given.notna().to_numpy()
            gid[has_gid] = given[has_gid].astype("int64").to_numpy()
        need = ~has_gid
        if need.any():
            _require(events, ["latitude", "longitude"], file, "to compute PRIO-GRID cells")
            lat, lon, ok = _coords(events)
            todo = need & ok
            gid[todo] = priogrid_gid(lat[todo], lon[todo])
            reason[need & ~ok] = "no coordinates"
        known = set(gazetteer.unit_ids)
        have = gid > 0
        ids = np.array([f"PG{g}" for g in gid.tolist()], dtype=object)
        name[have] = ids[have]
        inside = have & np.fromiter((i in known for i in ids.tolist()), bool, n)
        unit[inside] = ids[inside]
        how[inside] = 3
        reason[have & ~inside] = "cell not in gazetteer"
    else:
        col = level  # "admin1" or "admin2"
        _require(events, [col] + (["admin1"] if level == "admin2" else []), file, f"to assign {level} units by name")
        names = events[col].to_numpy(dtype=object)
        admin1 = events["admin1"].to_numpy(dtype=object) if "admin1" in events.columns else np.full(n, None, object)
        country = events["country"].to_numpy(dtype=object)
        use_name = np.ones(n, dtype=bool)
        lookup_name = names.copy()
        if boundaries is not None:
            _require(events, ["latitude", "longitude"], file, "to assign events by polygon")
            lat, lon, ok = _coords(events)
            poly_names = np.array([nm for nm, _ in boundaries], dtype=object)
            hit, multi = _first_polygon(lat[ok], lon[ok], [g for _, g in boundaries])
            idx = np.flatnonzero(ok)
            inside = idx[hit >= 0]
            outside = idx[hit < 0]
            lookup_name[inside] = poly_names[hit[hit >= 0]]
            use_name[ok] = False
            if multi:
                notes.append(f"{multi} event(s) fell in more than one polygon; the first polygon listed was used")
        # Resolve each distinct (country, name, admin1) once ("" stands for missing).
        keys = pd.DataFrame({"c": country, "n": lookup_name, "a": admin1}, dtype=object)
        keys = keys.where(keys.notna(), "").astype(str)
        group = keys.groupby(["c", "n", "a"], sort=False).ngroup().to_numpy()
        resolved = [gazetteer.lookup(c, nm, a) for c, nm, a in keys.drop_duplicates().itertuples(index=False)]
        res_unit = np.array([r[0] for r in resolved], dtype=object)[group]
        res_reason = np.array([r[1] for r in resolved], dtype=object)[group]
        name[:] = [v if isinstance(v, str) and v.strip() else None for v in lookup_name]
        ok_unit = pd.notna(res_unit)
        unit[ok_unit] = res_unit[ok_unit]
        reason[~ok_unit] = res_reason[~ok_unit]
        how[ok_unit & use_name] = 1
        how[ok_unit & ~use_name] = 2
        if boundaries is not None:
            # A point outside every polygon: say so (unless the country itself is unknown).
            known_country = np.array([gazetteer.has_country(c) for c in country], dtype=bool)
            out = np.zeros(n, dtype=bool)
            out[outside] = True
            out &= known_country
            reason[out] = "point outside every polygon"
            unit[out] = None
            name[out] = None
            how[out] = 0
            missing = use_name & pd.notna(reason) & pd.isna(names)
            reason[missing] = np.array([f"{r} and no coordinates" for r in reason[missing]], dtype=object)

    assigned = pd.notna(unit)
    reason[assigned] = None
    un = events.loc[~assigned]
    unassigned = pd.DataFrame(
        {
            "event_id": un["event_id"].to_numpy() if "event_id" in un.columns else un.index.to_numpy(),
            **{c: (un[c].to_numpy() if c in un.columns else np.full(len(un), None)) for c in _UNASSIGNED_COLUMNS[1:6]},
            "name": name[~assigned],
            "reason": reason[~assigned],
        },
        columns=_UNASSIGNED_COLUMNS,
    )
    out_events = events.loc[assigned].copy()
    out_events["unit_id"] = unit[assigned].astype(str) if assigned.any() else pd.Series(dtype=str)
    report = AssignmentReport(
        level=level,
        n_events=n,
        n_by_name=int((how == 1).sum()),
        n_by_polygon=int((how == 2).sum()),
        n_by_cell=int((how == 3).sum()),
        unassigned=unassigned,
        notes=notes,
    )
    return out_events, report


def check_unassigned(report: AssignmentReport, max_share: float, *, file: str, top: int = 10) -> None:
    """Raise :class:`InputError` when more than ``max_share`` of the events went unassigned.

    The message lists the ``top`` unresolved names with their counts, e.g.
    ``12.0% of 2913 events could not be assigned to a unit (limit 5.0%): 'Foo' (Mali) x 300, ...``
    """
    if not 0 <= max_share <= 1:
        raise ValueError(f"max_share is a share between 0 and 1, got {max_share}")
    share = report.share_unassigned
    if share <= max_share:
        return
    summary = report.unassigned_by_name()
    items = []
    for c, nm, why, k in summary.head(top).itertuples(index=False):
        country = c if isinstance(c, str) else "no country"
        what = f"{nm!r}" if isinstance(nm, str) else f"[{why}]"
        items.append(f"{what} ({country}) x {k}")
    more = f", and {len(summary) - top} more" if len(summary) > top else ""
    raise InputError(
        f"{share:.1%} of {report.n_events} events could not be assigned to a {report.level} unit "
        f"(limit {max_share:.1%}): " + ", ".join(items) + more,
        file=file,
    )
