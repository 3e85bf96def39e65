"""The report's first page: what an analyst can act on in one minute.

- the month forecast, named ("forecast for January 2025, made with data through December 2024");
- the watch list: units whose forecast rises most against their own last 12 months;
- the forecast count split by event type for the top units;
- the trust line (:mod:`.trust`);
- last month's forecast against what happened, the largest misses named.

Everything is computed from the run's output tables; :mod:`.first_page` assembles the page
and :mod:`.areas` sums the trends by area.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "month_label",
    "short_month",
    "watch_list",
    "rising_in_record",
    "recent_actors",
    "actor_mentions",
    "recent_events",
    "top_counts",
    "monthly_mean",
    "event_type_split",
    "last_month",
]


def month_label(month: object) -> str:
    """``"2025-01"`` (or any date in it) -> ``"January 2025"``."""
    return pd.Period(str(month)[:7], "M").strftime("%B %Y")


def short_month(month: object) -> str:
    """``"2025-01"`` -> ``"Jan 2025"``: table headers stay narrow."""
    return pd.Period(str(month)[:7], "M").strftime("%b %Y")


def _period(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s.astype(str).str[:7]).dt.to_period("M")


def monthly_mean(panel: pd.DataFrame, as_of: pd.Period, months: int, column: str = "n_target") -> pd.Series:
    """Each unit's mean monthly ``column`` over the ``months`` months up to ``as_of``."""
    m = _period(panel["month"])
    window = panel[(m > as_of - months) & (m <= as_of)]
    return window.groupby("unit_id")[column].mean()


def _trends(scores: pd.DataFrame, panel: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """Per unit: the forecast (expected, q10, q90) and the monthly means of the last 12 and 3 months."""
    s = scores[scores["horizon"] == horizon].drop_duplicates("unit_id").set_index("unit_id")
    as_of = pd.Period(str(s["as_of"].iloc[0]), "M")
    d = pd.DataFrame(
        {
            "unit_name": s["unit_name"],
            "expected": s["expected_count"].astype(float),
            "q10": s["q10"],
            "q90": s["q90"],
            "avg12": monthly_mean(panel, as_of, 12),
            "avg3": monthly_mean(panel, as_of, 3),
        }
    )
    if "n_fatalities" in panel:
        d["deaths12"] = monthly_mean(panel, as_of, 12, "n_fatalities")
        d["deaths3"] = monthly_mean(panel, as_of, 3, "n_fatalities")
    d = d.dropna(subset=["expected", "unit_name"])
    d[["avg12", "avg3"]] = d[["avg12", "avg3"]].fillna(0.0)
    return d


def watch_list(scores: pd.DataFrame, panel: pd.DataFrame, horizon: int, n: int) -> pd.DataFrame:
    """Units whose forecast count rises most against their own trailing 12-month average.

    The rise is the ratio ``(forecast + 1) / (average + 1)``: the +1 keeps a quiet unit going
    from 0.1 to 0.4 attacks off the list while a unit going from 0 to 3 stays on it. A unit is
    listed only when the forecast is at least one attack and half an attack above its average,
    so "rising" always means more attacks, not a change of decimals.

    Returns:
        Up to ``n`` rows, steepest rise first: unit_id, unit_name, expected, q10, q90, avg12,
        avg3 (mean of the last 3 months), deaths12 and deaths3 when the panel has
        ``n_fatalities``, rise (forecast minus avg12), ratio.
    """
    if scores[scores["horizon"] == horizon].empty:
        return pd.DataFrame(columns=["unit_id", "unit_name", "expected", "q10", "q90", "avg12", "avg3"])
    d = _trends(scores, panel, horizon)
    d["rise"] = d["expected"] - d["avg12"]
    d["ratio"] = (d["expected"] + 1.0) / (d["avg12"] + 1.0)
    d = d[(d["expected"] >= 1.0) & (d["rise"] >= 0.5)]
    return d.sort_values(["ratio", "rise"], ascending=False, kind="stable").head(n).reset_index()


def rising_in_record(
    scores: pd.DataFrame, panel: pd.DataFrame, horizon: int, n: int, exclude=()
) -> pd.DataFrame:
    """Units whose recorded attacks of the last 3 months rose against their last 12, whatever the forecast.

    The forecast can lag a rise it has seen for only a few months; an analyst wants those
    units named too. Same rule as :func:`watch_list`, on the last 3 months' monthly mean
    instead of the forecast: ratio ``(avg3 + 1) / (avg12 + 1)`` at least 1.2 and at least one
    attack a month more. Units in ``exclude`` (already on the watch list) are left out.
    """
    if scores[scores["horizon"] == horizon].empty:
        return pd.DataFrame(columns=["unit_id", "unit_name", "avg12", "avg3"])
    d = _trends(scores, panel, horizon)
    d["ratio"] = (d["avg3"] + 1.0) / (d["avg12"] + 1.0)
    d = d[(d["ratio"] >= 1.2) & (d["avg3"] - d["avg12"] >= 1.0) & ~d.index.isin(list(exclude))]
    return d.sort_values("ratio", ascending=False, kind="stable").head(n).reset_index()


#: a force's years of service in ACLED's actor names ("Military Forces of Mali (2013-)"): noise in a report
_YEARS = re.compile(r"\s*\(\d{4}-(\d{4})?\)$")


def recent_events(
    events: pd.DataFrame | None, unit_ids, as_of: object, event_types, months: int
) -> pd.DataFrame:
    """The target events of ``unit_ids`` in the ``months`` months up to ``as_of`` (empty when none)."""
    if events is None or events.empty or "unit_id" not in events:
        return pd.DataFrame(columns=["event_id", "unit_id", "event_type"])
    hi = pd.Period(str(as_of)[:7], "M")
    when = pd.to_datetime(events["date"]).dt.to_period("M")
    e = events[(when > hi - months) & (when <= hi) & events["unit_id"].isin(list(unit_ids))]
    if event_types and "event_type" in e:
        e = e[e["event_type"].isin(event_types)]
    return e


def actor_mentions(events: pd.DataFrame, countries: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """One row per (event_id, unit_id, actor) of ``events``, with the actors named shortly.

    Names are cut at their first colon ("JNIM: Group for Support of Islam and Muslims" -> "JNIM"),
    lose a trailing "(<one of countries>)", which says nothing inside that country's report, and a
    trailing years-of-service "(2013-)"; ACLED's "X and/or Y" (an attack it cannot yet attribute
    to one of two groups) stays "X or Y", never X alone; civilians are left out, since they are the targets, not
    the actors, of the violence. An actor on both sides of one event counts once.
    """
    sides = [c for c in ("actor1", "actor2") if c in events.columns]
    if not sides or events.empty:
        return pd.DataFrame(columns=["event_id", "unit_id", "actor"])
    long = pd.concat(
        [events[["event_id", "unit_id", c]].set_axis(["event_id", "unit_id", "actor"], axis=1) for c in sides]
    )
    long = long.dropna(subset=["actor"])
    long["actor"] = [_short_actor(a, countries) for a in long["actor"].astype(str)]
    long = long[~long["actor"].str.lower().str.startswith("civilians") & (long["actor"] != "")]
    return long.drop_duplicates(["event_id", "actor"])


def top_counts(values: pd.Series, top: int) -> list[tuple[str, int]]:
    """The ``top`` most frequent values with their counts, ties by name (so reruns agree)."""
    counts = values.dropna().astype(str).value_counts()
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(k, int(n)) for k, n in order[:top]]


def _short_actor(name: str, countries) -> str:
    """One actor name shortened as :func:`actor_mentions` says ("JNIM or Islamic State (Greater Sahara)")."""
    parts = []
    for part in name.split(" and/or "):
        short = _YEARS.sub("", part.split(":")[0].strip())
        for c in countries:
            short = short.removesuffix(f"({c})").strip()
        parts.append(short)
    return " or ".join(dict.fromkeys(p for p in parts if p))


def recent_actors(
    events: pd.DataFrame | None,
    unit_ids,
    as_of: object,
    event_types: tuple[str, ...] | list[str],
    months: int = 3,
    top: int = 3,
    countries: tuple[str, ...] | list[str] = (),
) -> dict:
    """unit_id -> the actors in most of its target events of the last ``months``: ``[(name, n)]``
    (names as :func:`actor_mentions` shortens them)."""
    if events is None or events.empty or not {"unit_id", "actor1"} <= set(events.columns):
        return {}
    long = actor_mentions(recent_events(events, unit_ids, as_of, event_types, months), countries)
    out = {}
    for uid, g in long.groupby("unit_id"):
        out[uid] = top_counts(g["actor"], top)
    return out


def event_type_split(
    events: pd.DataFrame | None,
    expected: pd.Series,
    as_of: object,
    event_types: tuple[str, ...] | list[str],
    months: int = 12,
) -> tuple[list[str], list[dict]]:
    """The forecast count of each unit split by its own mix of event types over the last ``months``.

    The model forecasts the total only: this split is an estimate, the unit's expected count
    times each type's share of its recorded target events in the window (as-of month included).

    Args:
        events: the EVENTS table with ``unit_id`` (``tables/events.parquet``), or None.
        expected: expected count by unit_id, in the order the table should list them.
        as_of: the as-of month.
        event_types: the target's event types (the columns, in this order, when present).

    Returns:
        (types that occur, rows ``{"unit_id", "expected", "n", "cells": [(count, share) | None]}``);
        ``n`` is the number of events the shares come from (0: no share, cells None).
    """
    if events is None or events.empty or "unit_id" not in events or "event_type" not in events:
        return [], []
    hi = pd.Period(str(as_of)[:7], "M")
    when = pd.to_datetime(events["date"]).dt.to_period("M")
    e = events[(when > hi - months) & (when <= hi) & events["unit_id"].isin(expected.index)]
    if event_types:
        e = e[e["event_type"].isin(event_types)]
    counts = e.groupby(["unit_id", "event_type"]).size().unstack(fill_value=0)
    order = [t for t in event_types if t in counts.columns] or sorted(counts.columns)
    rows = []
    for uid, total in expected.items():
        c = counts.loc[uid, order] if uid in counts.index else pd.Series(0, index=order)
        n = int(c.sum())
        cells = [(float(total) * k / n, k / n) if n else None for k in c]
        rows.append({"unit_id": uid, "expected": float(total), "n": n, "cells": cells})
    return order, rows


def last_month(
    out: Path,
    preds: pd.DataFrame | None,
    panel: pd.DataFrame,
    model: str | None,
    horizon: int,
    as_of: object,
    names: pd.Series,
    n_misses: int = 3,
) -> dict | None:
    """The forecast for the as-of month (made ``horizon`` months before) against what happened.

    The forecast the run issued then (``scores_history/``) when it is there, else the backtest's
    forecast for that month by the registered model, trained only on what was known then.

    Returns:
        ``{"month", "made", "source", "forecast", "recorded", "inside", "n", "misses":
        [{"name", "recorded", "expected", "q10", "q90"}]}`` or None when neither exists.
    """
    month = pd.Period(str(as_of)[:7], "M")
    made = month - horizon
    f, source = None, ""
    issued = Path(out) / "scores_history" / f"scores_{made}.csv"
    if issued.is_file():
        s = pd.read_csv(issued)
        s = s[(s["horizon"] == horizon) & (s["target_month"].astype(str).str[:7] == str(month))]
        if len(s):
            f, source = s, "the forecast this job issued then"
    if f is None and preds is not None and model and model in set(preds["model"]):
        p = preds[(preds["model"] == model) & (preds["horizon"] == horizon)]
        p = p[p["target_month"].astype(str).str[:7] == str(month)]
        if len(p):
            f, source = p, f"the backtest's forecast by {model}, trained only on what was known then"
    if f is None or "expected_count" not in f:
        return None
    f = f.drop_duplicates("unit_id").set_index("unit_id")
    m = _period(panel["month"])
    recorded = panel[m == month].drop_duplicates("unit_id").set_index("unit_id")["n_target"]
    d = pd.DataFrame(
        {"expected": f["expected_count"], "q10": f["q10"], "q90": f["q90"], "recorded": recorded}
    ).dropna(subset=["expected", "recorded"])
    if d.empty:
        return None
    d["outside"] = np.maximum(d["recorded"] - d["q90"], d["q10"] - d["recorded"]).clip(lower=0).fillna(0)
    d["gap"] = (d["recorded"] - d["expected"]).abs()
    misses = d[d["outside"] > 0].sort_values(["outside", "gap"], ascending=False).head(n_misses)
    return {
        "month": month_label(month),
        "made": month_label(made),
        "source": source,
        "forecast": float(d["expected"].sum()),
        "recorded": int(d["recorded"].sum()),
        "inside": int((d["outside"] == 0).sum()),
        "n": len(d),
        "misses": [
            {
                "name": names.get(uid, uid),
                "recorded": int(r["recorded"]),
                "expected": float(r["expected"]),
                "q10": r["q10"],
                "q90": r["q90"],
            }
            for uid, r in misses.iterrows()
        ],
    }
