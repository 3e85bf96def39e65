"""The report's first page, assembled: what an analyst can act on in one minute.

:mod:`.frontpage` computes each part from the run's tables (the watch list, the split by event
type, last month against what happened), :mod:`.areas` sums the trends by area and
:mod:`.trust` gives the trust line; this module reads the run folder and puts them in the
template's shape.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskcast.facts import load_areas, load_regions
from riskcast.records import RunRecord
from riskcast.reporting.areas import area_members, area_trends, heavy_event
from riskcast.reporting.drivers import drivers_table
from riskcast.reporting.frontpage import (
    event_type_split,
    last_month,
    recent_actors,
    rising_in_record,
    short_month,
    watch_list,
)
from riskcast.reporting.settings import ReportSettings
from riskcast.reporting.trust import trust_line, trust_sentence

__all__ = ["first_page"]

#: units listed in the split by event type (the top of the headline table)
SPLIT_UNITS = 5
#: units on the watch list and in its "also rising in the record" line (the first page holds them)
WATCH_UNITS, RECORD_UNITS = 8, 5
#: areas summarised under the watch list
AREAS = 4


def _why_rising(
    settings: ReportSettings, run: RunRecord, scores: pd.DataFrame, panel: pd.DataFrame, unit_ids: list
) -> dict:
    """unit_id -> the sentences of the model's drivers that raised each watch-list unit's forecast."""
    h0 = settings.first_horizon
    s = scores[(scores["horizon"] == h0) & scores["unit_id"].isin(unit_ids)]
    if s.empty or "top_features" not in s.columns or s["top_features"].isna().all():
        return {}
    table = drivers_table(
        s, panel, run.feature_definitions, None, horizon=h0, top_n=len(s), unit_word=settings.unit_word
    )
    return {
        r.unit_id: [d.sentence for d in r.drivers if d.direction == "up"][:3]
        for r in table.itertuples(index=False)
    }


def _parent_names(out: Path, events: pd.DataFrame | None) -> dict[str, str]:
    """unit_id -> the name of its parent unit (the admin1 region of a cercle), when known.

    The units table names the parent by id; the admin-1 gazetteer names it (Ménaka, a region
    since 2016, even where the events still say Gao), else the events' most common ``admin1``.
    """
    path = out / "tables" / "units.parquet"
    if not path.is_file():
        return {}
    units = pd.read_parquet(path, columns=["unit_id", "parent"]).dropna()
    if units.empty:
        return {}
    name = load_regions("admin1").set_index("unit_id")["name"].to_dict()
    if events is not None and {"admin1", "unit_id"} <= set(events.columns):
        e = events[["unit_id", "admin1"]].dropna().merge(units, on="unit_id")
        if len(e):
            from_events = e.groupby("parent")["admin1"].agg(lambda s: s.mode().iloc[0]).to_dict()
            name = {**from_events, **name}
    return {u: f"{name.get(p, p)} region" for u, p in zip(units["unit_id"], units["parent"])}


def first_page(
    settings: ReportSettings,
    run: RunRecord,
    out: Path,
    scores: pd.DataFrame,
    panel: pd.DataFrame,
    metrics: pd.DataFrame,
    events: pd.DataFrame | None,
    registered: str | None,
    head: dict | None,
) -> dict:
    """Everything on the first page (see :mod:`.frontpage`)."""
    h0 = settings.first_horizon
    s0 = scores[scores["horizon"] == h0].drop_duplicates("unit_id").set_index("unit_id")
    as_of = str(s0["as_of"].iloc[0])
    monthly = panel[pd.to_datetime(panel["month"]).dt.to_period("M") > pd.Period(as_of, "M") - 12]
    avg12 = monthly.groupby("unit_id")["n_target"].mean()
    if head:
        order, rank_label = [r["unit_id"] for r in head["rows"]], head["short"][head["target"]]
        p_rank = {r["unit_id"]: r["p"][head["target"]] for r in head["rows"]}
    else:  # P(any attack) only: ties (0.99, 1.00) broken by the expected count
        ranked = s0.sort_values(["p", "expected_count"], ascending=False, kind="stable")
        order, rank_label, p_rank = list(ranked.index[: settings.top_n]), None, {}
    rows = []
    for uid in order:
        r = s0.loc[uid]
        rows.append(
            {
                "name": r["unit_name"],
                "country": r["country"],
                "expected": f"{r['expected_count']:.1f}",
                "range": "" if pd.isna(r["q10"]) else f"{r['q10']:.0f}-{r['q90']:.0f}",
                "p_rank": p_rank.get(uid),
                "p_any": f"{r['p']:.2f}",
                "tier": str(r.get("tier", "")),
                "avg12": f"{avg12.get(uid, 0.0):.1f}",
            }
        )
    names = s0["unit_name"]
    types, split = event_type_split(
        events, s0.loc[order[:SPLIT_UNITS], "expected_count"], as_of, settings.event_types
    )
    for r in split:
        r["name"] = names.get(r["unit_id"], r["unit_id"])
    watch = watch_list(scores, panel, h0, min(settings.top_n, WATCH_UNITS))
    record = rising_in_record(scores, panel, h0, RECORD_UNITS, exclude=watch["unit_id"])
    why = _why_rising(settings, run, scores, panel, list(watch["unit_id"]))
    watched = [*watch["unit_id"], *record["unit_id"]]
    actors = recent_actors(
        events,
        watched,
        as_of,
        settings.event_types,
        months=3,
        countries=settings.countries,
    )
    parents = _parent_names(out, events)
    areas = load_areas()
    in_area = areas.groupby("unit_id")["area"].agg(lambda a: "; ".join(sorted(a))).to_dict()
    members = area_members(parents, areas, list(s0.index))
    by_area = area_trends(
        panel,
        events,
        members,
        names,
        as_of,
        settings.event_types,
        settings.countries,
        watched=watched,
        top=4,
    )[:AREAS]

    def trend(w) -> dict:
        deaths = getattr(w, "deaths3", float("nan"))
        return {
            "name": w.unit_name,
            "parent": "; ".join(x for x in (parents.get(w.unit_id, ""), in_area.get(w.unit_id, "")) if x),
            "avg12": f"{w.avg12:.1f}",
            "avg3": f"{w.avg3:.1f}",
            "deaths": "" if pd.isna(deaths) else f"{deaths:.0f} against {w.deaths12:.0f}",
            "actors": ", ".join(f"{a} {k}" for a, k in actors.get(w.unit_id, [])),
            # on the watch list by its forecast while its own record is flat: the drivers say why
            "flat": w.avg3 <= w.avg12,
            "baseline_event": _event_words(heavy, year=True)
            if (heavy := heavy_event(events, [w.unit_id], as_of, settings.event_types, settings.countries))
            else "",
        }

    watch_rows = [
        {
            **trend(w),
            "expected": f"{w.expected:.1f}",
            "range": "" if pd.isna(w.q10) else f"{w.q10:.0f}-{w.q90:.0f}",
            "ratio": f"{w.ratio:.1f}",
            "why": why.get(w.unit_id, [])[:2],
        }
        for w in watch.itertuples(index=False)
    ]
    preds = pd.read_csv(out / "predictions.csv") if (out / "predictions.csv").is_file() else None
    cut = settings.tiers.get("high", 0.5)
    return {
        "rows": rows,
        "rank_label": rank_label,
        "watch": watch_rows,
        "record": [trend(w) for w in record.itertuples(index=False)],
        "has_parents": any(w["parent"] for w in watch_rows),
        "areas": [_area_words(a, _side(a, areas, settings.countries)) for a in by_area],
        "areas_named": any(a["name"] in set(areas["area"]) for a in by_area),
        "area_overlap": _overlap(by_area),
        "types": types,
        "split": split,
        "trust": trust_sentence(
            trust_line(metrics, preds, registered, h0, cut, settings.n_boot, settings.seed),
            settings.unit_word,
        ),
        "last": last_month(out, preds, panel, registered, h0, as_of, names),
        "window": f"{short_month(pd.Period(as_of, 'M') - 11)} to {short_month(as_of)}",
    }


def _overlap(by_area: list[dict]) -> list[str]:
    """Names of the units in more than one of the areas shown (their attacks count in each)."""
    seen: dict[str, int] = {}
    for a in by_area:
        for name in a["members"]:
            seen[name] = seen.get(name, 0) + 1
    return [n for n, k in seen.items() if k > 1]


def _side(area: dict, areas: pd.DataFrame, countries) -> str:
    """For a curated area that spans countries the report does not cover, which side it shows
    ("Mali side only: Douentza, Gao, ..."); "" for a region or an area wholly covered."""
    rows = areas[areas["area"] == area["name"]]
    if rows.empty:
        return ""
    here = [c for c in dict.fromkeys(rows["country"]) if c in set(countries)]
    members = ", ".join(area["members"])
    if len(here) == rows["country"].nunique():
        return members
    return f"{' and '.join(here)} side only: {members}"


def _area_words(a: dict, side: str = "") -> dict:
    """One area's summary (:func:`.areas.area_trends`) as the strings the template prints."""

    def units(rows) -> str:
        return ", ".join(f"{n} ({x3:.1f} against {x12:.1f})" for n, x3, x12 in rows)

    civ = a["civilians3"]
    return {
        "name": a["name"],
        "n": a["n"],
        "direction": a["direction"],
        "attacks": f"{a['a3']:.1f} a month against {a['a12']:.1f}",
        "deaths": "" if a["d3"] is None else f"{a['d3']:.0f} a month against {a['d12']:.0f}",
        "rising": units(a["rising"]),
        "falling": units(a["falling"]),
        "actors": ", ".join(f"{n} {k}" for n, k in a["actors"]),
        "places": ", ".join(f"{n} {k}" for n, k in a["places"]),
        "side": side,
        "baseline_event": "" if not a.get("baseline_event") else _event_words(a["baseline_event"], year=True),
        "deadliest": "; ".join(_event_words(d) for d in a["deadliest"]),
        "civilians": ""
        if civ is None
        else f"{100 * civ:.0f} % of attacks"
        + ("" if a["civilians12"] is None else f" (last 12 months: {100 * a['civilians12']:.0f} %)"),
    }


def _event_words(d: dict, year: bool = False) -> str:
    """ "Sobane-Da, 9 Jun (35 killed, Fulani Ethnic Militia)"; with ``year``, "9 Jun 2019"."""
    when = f"{d['date'].day} {d['date']:%b}" + (f" {d['date'].year}" if year else "")
    actor = f", {d['actor']}" if d["actor"] else ""
    return f"{d['place'] or 'unnamed place'}, {when} ({d['deaths']} killed{actor})"
