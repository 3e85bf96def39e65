"""Escalation by area: the watch list summed over the areas analysts talk about.

A unit-level watch list names cercles one by one; an analyst of the Sahel reads escalation by
area: "Mopti region", "the Liptako-Gourma tri-border". An area here is either the admin-1
region of the units (their parent) or a curated area that cuts across regions and countries
(``riskcast/facts/areas_sahel.csv``, each member with its source). For each area the report
gives its recorded attacks and deaths a month in the last 3 months against the last 12, the
members rising and falling, the actors in most of its attacks, the places they happened and
the share of violence against civilians.
"""

from __future__ import annotations

import pandas as pd

from riskcast.reporting.frontpage import actor_mentions, monthly_mean, recent_events, top_counts

__all__ = ["area_members", "area_trends", "heavy_event", "RISE"]

#: a unit (or area) is rising when its last 3 months' monthly mean of attacks is at least this
#: ratio of its last 12 months', (a3 + 1) / (a12 + 1), and at least one attack a month more;
#: falling is the same the other way round (the watch list's "rising in the record" rule)
RISE = 1.2
#: the event type whose share tells a reader that the violence turned on civilians
CIVILIANS = "Violence against civilians"


def area_members(parents: dict, areas: pd.DataFrame | None, unit_ids) -> dict[str, list]:
    """Area name -> its member unit ids among ``unit_ids``: the admin-1 parents (by name) first,
    then the curated areas with at least two members here (one member says no more than the unit)."""
    units = list(dict.fromkeys(unit_ids))
    out: dict[str, list] = {}
    for uid in units:
        if parents.get(uid):
            out.setdefault(parents[uid], []).append(uid)
    if areas is not None and len(areas):
        here = areas[areas["unit_id"].isin(units)]
        for name, g in here.groupby("area", sort=True):
            if len(g) >= 2 and name not in out:
                out[name] = [u for u in units if u in set(g["unit_id"])]
    return out


def _direction(a3: float, a12: float) -> str:
    if (a3 + 1.0) / (a12 + 1.0) >= RISE and a3 - a12 >= 1.0:
        return "rising"
    if (a12 + 1.0) / (a3 + 1.0) >= RISE and a12 - a3 >= 1.0:
        return "falling"
    return "steady"


def area_trends(
    panel: pd.DataFrame,
    events: pd.DataFrame | None,
    members: dict[str, list],
    names: pd.Series,
    as_of: object,
    event_types: tuple[str, ...] | list[str],
    countries: tuple[str, ...] | list[str] = (),
    watched=(),
    top: int = 3,
) -> list[dict]:
    """One summary per area of ``members`` that has a member in ``watched`` (the watch list and
    the units rising in the record) or is rising as a whole; most rising members first.

    Returns:
        dicts with ``name``, ``n`` (members), ``a3``/``a12`` (attacks a month, last 3 / 12
        months, summed over members), ``d3``/``d12`` (deaths likewise, None without
        ``n_fatalities``), ``direction``, ``rising``/``falling`` (``[(unit name, a3, a12)]``),
        ``actors`` and ``places`` (``[(name, events)]``, last 3 months), ``deadliest`` (the
        ``top`` attacks of the last 3 months with the most deaths: ``{"place", "date", "deaths",
        "actor"}``), ``baseline_event`` (the deadliest attack of the 12 months
        before the last 3 when it alone holds at least a quarter of the 12 months' deaths: the
        average it lifts makes the last 3 months look calmer; None otherwise), ``civilians3``/``civilians12`` (share of violence against civilians in the
        area's attacks, None when not a target type), ``members`` (their names).
    """
    hi = pd.Period(str(as_of)[:7], "M")
    a3, a12 = monthly_mean(panel, hi, 3), monthly_mean(panel, hi, 12)
    deaths = "n_fatalities" in panel
    d3 = monthly_mean(panel, hi, 3, "n_fatalities") if deaths else None
    d12 = monthly_mean(panel, hi, 12, "n_fatalities") if deaths else None
    watched = set(watched)
    out = []
    for area, ids in members.items():
        by_unit = [(u, float(a3.get(u, 0.0)), float(a12.get(u, 0.0))) for u in ids]
        total3, total12 = sum(x[1] for x in by_unit), sum(x[2] for x in by_unit)
        direction = _direction(total3, total12)
        if not (watched & set(ids)) and direction != "rising":
            continue
        labelled = [(names.get(u, u), x3, x12, _direction(x3, x12)) for u, x3, x12 in by_unit]
        last3 = recent_events(events, ids, hi, event_types, 3)
        last12 = recent_events(events, ids, hi, event_types, 12)
        actors = top_counts(actor_mentions(last3, countries)["actor"], top)
        places = top_counts(last3["location"], top) if "location" in last3 else []
        with_civ = CIVILIANS in event_types and "event_type" in last3
        out.append(
            {
                "name": area,
                "n": len(ids),
                "a3": total3,
                "a12": total12,
                "d3": None if d3 is None else float(d3.reindex(ids).fillna(0).sum()),
                "d12": None if d12 is None else float(d12.reindex(ids).fillna(0).sum()),
                "direction": direction,
                "rising": sorted(
                    [(n, x3, x12) for n, x3, x12, d in labelled if d == "rising"], key=lambda r: r[2] - r[1]
                ),
                "falling": [(n, x3, x12) for n, x3, x12, d in labelled if d == "falling"],
                "actors": actors,
                "places": places,
                "deadliest": _deadliest(last3, countries, top),
                "baseline_event": _baseline_event(last12, last3, countries),
                "members": [names.get(u, u) for u in ids],
                "civilians3": _share(last3, with_civ),
                "civilians12": _share(last12, with_civ),
            }
        )
    return sorted(out, key=lambda a: (-len(a["rising"]), a["a12"] - a["a3"], a["name"]))


def _share(events: pd.DataFrame, applies: bool) -> float | None:
    """Share of ``events`` that are violence against civilians (None when not asked or no events)."""
    if not applies or events.empty:
        return None
    return float((events["event_type"] == CIVILIANS).mean())


def _deadliest(events: pd.DataFrame, countries, top: int) -> list[dict]:
    """The ``top`` events with the most deaths (at least one), most first, ties by date then id:
    the massacres and battles an analyst would name for the period."""
    if events.empty or "fatalities" not in events:
        return []
    deaths = pd.to_numeric(events["fatalities"], errors="coerce").fillna(0)
    e = events.assign(n_deaths=deaths)[deaths > 0]
    e = e.sort_values(["n_deaths", "date", "event_id"], ascending=[False, True, True], kind="stable").head(
        top
    )
    actors = actor_mentions(e, countries).groupby("event_id")["actor"].first()
    return [
        {
            "place": str(r.location) if "location" in e and pd.notna(r.location) else "",
            "date": pd.Timestamp(r.date),
            "deaths": int(r.n_deaths),
            "actor": actors.get(r.event_id, ""),
        }
        for r in e.itertuples(index=False)
    ]


#: an attack that holds this share of an area's 12-month deaths is named beside the average it lifts
HEAVY = 0.25


def _baseline_event(last12: pd.DataFrame, last3: pd.DataFrame, countries) -> dict | None:
    """The one attack of the earlier 9 months that carries the 12-month death toll, if any."""
    if last12.empty or "fatalities" not in last12:
        return None
    total = pd.to_numeric(last12["fatalities"], errors="coerce").fillna(0).sum()
    earlier = last12[~last12["event_id"].isin(last3["event_id"])] if "event_id" in last3 else last12
    (top,) = _deadliest(earlier, countries, 1) or (None,)
    return top if top is not None and total > 0 and top["deaths"] >= HEAVY * total else None


def heavy_event(
    events: pd.DataFrame | None, unit_ids, as_of: object, event_types, countries=()
) -> dict | None:
    """:func:`_baseline_event` for ``unit_ids`` (a watch-list unit's "deaths 15 against 30" needs
    it as much as an area does)."""
    hi = pd.Period(str(as_of)[:7], "M")
    return _baseline_event(
        recent_events(events, unit_ids, hi, event_types, 12),
        recent_events(events, unit_ids, hi, event_types, 3),
        countries,
    )
