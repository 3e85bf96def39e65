"""Assigning events to spatial units, with an account of every event left unassigned."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from shapely.geometry.base import BaseGeometry

from riskcast.errors import InputError
from riskcast.regions.boundaries import _first_polygon
from riskcast.regions.gazetteer import Gazetteer
from riskcast.regions.priogrid import priogrid_gid

__all__ = ["AssignmentReport", "assign_units", "check_unassigned"]

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
            .sort_values(
                ["n", "country", "name"], ascending=[False, True, True], na_position="last", kind="stable"
            )
            .reset_index(drop=True)
        )
        return out

    def to_dict(self, max_examples: int = 50) -> dict:
        """A JSON-able account: counts, the full by-name summary and up to 50 example events."""

        def clean(records: list[dict]) -> list[dict]:
            return [
                {
                    k: (
                        None
                        if not isinstance(v, str) and pd.isna(v)
                        else v.item()
                        if hasattr(v, "item")
                        else v
                    )
                    for k, v in r.items()
                }
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
        _require(
            events,
            [col] + (["admin1"] if level == "admin2" else []),
            file,
            f"to assign {level} units by name",
        )
        names = events[col].to_numpy(dtype=object)
        admin1 = (
            events["admin1"].to_numpy(dtype=object)
            if "admin1" in events.columns
            else np.full(n, None, object)
        )
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
                notes.append(
                    f"{multi} event(s) fell in more than one polygon; the first polygon listed was used"
                )
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
            **{
                c: (un[c].to_numpy() if c in un.columns else np.full(len(un), None))
                for c in _UNASSIGNED_COLUMNS[1:6]
            },
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
