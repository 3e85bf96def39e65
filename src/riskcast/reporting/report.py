"""The plain HTML report: latest scores, backtest beside the baselines, data coverage, model card.

Takes the run's output tables; knows nothing of training. Every string that comes from a data
file goes through Jinja's autoescaping.

Layout: a first page an analyst can act on in a minute (the forecast month named, the highest
risk beside the watch list of rising units, the split by event type, one line of trust, last
month's forecast against what happened: :mod:`.frontpage`), then the detail in order, then an
appendix (every other model's backtest, full set against history only, how to read this, the
feature glossary).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from jinja2 import Environment, FileSystemLoader, select_autoescape

from riskcast.coverage import source_coverage
from riskcast.errors import ConfigError
from riskcast.outputs import RunOutputs, read_run
from riskcast.paths import project_file
from riskcast.records import ModelRecord, RunRecord, read_record
from riskcast.reporting.drivers import drivers_table, explain_change_row, feature_index
from riskcast.reporting.frontpage import (
    event_type_split,
    last_month,
    month_label,
    recent_actors,
    rising_in_record,
    short_month,
    watch_list,
)
from riskcast.reporting.intensity import headline, intensity_backtest_rows
from riskcast.reporting.sections import visual_sections
from riskcast.reporting.settings import ReportSettings
from riskcast.reporting.tables import backtest_tables, set_comparison
from riskcast.reporting.trust import trust_line, trust_sentence

__all__ = ["render_report"]

SYNTHETIC_MARK = "synthetic"
#: units listed in the split by event type (the top of the headline table)
SPLIT_UNITS = 5
#: units on the watch list and in its "also rising in the record" line (the first page holds them)
WATCH_UNITS, RECORD_UNITS = 8, 5
_EVENT_COLUMNS = (
    *("event_id", "date", "source_dataset", "recorded", "unit_id", "event_type", "admin1"),
    *("actor1", "actor2"),
)


def _previous_scores(out: Path, scores: pd.DataFrame, horizon: int) -> pd.Series:
    """P(attack) per unit from the latest earlier month's scores (``scores_history/``), if any."""
    as_of = str(scores["as_of"].iloc[0]) if len(scores) else ""
    earlier = sorted(
        p for p in (out / "scores_history").glob("scores_*.csv") if p.stem.removeprefix("scores_") < as_of
    )
    if not earlier:
        return pd.Series(dtype=float)
    prev = pd.read_csv(earlier[-1])
    return prev[prev["horizon"] == horizon].set_index("unit_id")["p"]


def _panel_rows(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel indexed by (unit_id, month period), one row each."""
    rows = panel.assign(_p=pd.to_datetime(panel["month"]).dt.to_period("M"))
    return rows.drop_duplicates(["unit_id", "_p"], keep="last").set_index(["unit_id", "_p"])


def _drivers(
    settings: ReportSettings, run: RunRecord, scores: pd.DataFrame, panel: pd.DataFrame, out: Path
) -> list[dict]:
    """Top units' drivers in plain words (empty when the scores carry no contributions)."""
    if "top_features" not in scores.columns or scores["top_features"].isna().all():
        return []
    definitions = run.feature_definitions
    table = drivers_table(
        scores,
        panel,
        definitions,
        None,
        horizon=settings.first_horizon,
        top_n=settings.top_n,
        unit_word=settings.unit_word,
    )
    records = table[["unit_id", "unit_name", "p", "drivers", "as_of"]].to_dict("records")
    changes_file = out / "changes.csv"
    if changes_file.exists():
        index = feature_index(None)
        changes = pd.read_csv(changes_file, keep_default_na=False, na_values=[""]).set_index("unit_id")
        rows = _panel_rows(panel)
        for r in records:
            if r["unit_id"] not in changes.index:
                continue
            c = changes.loc[r["unit_id"]]
            now_p = pd.Period(str(r["as_of"]), "M")
            now = rows.loc[(r["unit_id"], now_p)].to_dict() if (r["unit_id"], now_p) in rows.index else {}
            before = (
                rows.loc[(r["unit_id"], now_p - 1)].to_dict()
                if (r["unit_id"], now_p - 1) in rows.index
                else {}
            )
            text = c["changes"] if isinstance(c["changes"], str) else ""
            r["change"] = {
                "p_before": float(c["p_before"]),
                "p_now": float(c["p_now"]),
                "moves": explain_change_row(text, now, before, definitions, settings.unit_word, index),
            }
    return records


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

    The units table names the parent by id; the events' ``admin1`` column says its name.
    """
    path = out / "tables" / "units.parquet"
    if not path.is_file() or events is None or "admin1" not in events or "unit_id" not in events:
        return {}
    units = pd.read_parquet(path, columns=["unit_id", "parent"]).dropna()
    if units.empty:
        return {}
    e = events[["unit_id", "admin1"]].dropna().merge(units, on="unit_id")
    name = e.groupby("parent")["admin1"].agg(lambda s: s.mode().iloc[0]) if len(e) else pd.Series(dtype=str)
    return {u: name.get(p, p) for u, p in zip(units["unit_id"], units["parent"])}


def _front(
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
    actors = recent_actors(
        events,
        [*watch["unit_id"], *record["unit_id"]],
        as_of,
        settings.event_types,
        months=3,
        countries=settings.countries,
    )
    parents = _parent_names(out, events)

    def trend(w) -> dict:
        deaths = getattr(w, "deaths3", float("nan"))
        return {
            "name": w.unit_name,
            "parent": parents.get(w.unit_id, ""),
            "avg12": f"{w.avg12:.1f}",
            "avg3": f"{w.avg3:.1f}",
            "deaths": "" if pd.isna(deaths) else f"{deaths:.0f} against {w.deaths12:.0f}",
            "actors": ", ".join(f"{a} {k}" for a, k in actors.get(w.unit_id, [])),
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
    by_parent: dict[str, list[str]] = {}
    for w in watch_rows:
        if w["parent"]:
            by_parent.setdefault(w["parent"], []).append(w["name"])
    preds = pd.read_csv(out / "predictions.csv") if (out / "predictions.csv").is_file() else None
    cut = settings.tiers.get("high", 0.5)
    return {
        "rows": rows,
        "rank_label": rank_label,
        "watch": watch_rows,
        "record": [trend(w) for w in record.itertuples(index=False)],
        "watch_parents": sorted(by_parent.items(), key=lambda kv: (-len(kv[1]), kv[0])),
        "types": types,
        "split": split,
        "trust": trust_sentence(
            trust_line(metrics, preds, registered, h0, cut, settings.n_boot, settings.seed),
            settings.unit_word,
        ),
        "last": last_month(out, preds, panel, registered, h0, as_of, names),
        "window": f"{short_month(pd.Period(as_of, 'M') - 11)} to {short_month(as_of)}",
    }


def render_report(settings: ReportSettings, out: Path) -> str:
    """The report's HTML from the run's output folder ``out``."""
    out = Path(out)
    o = RunOutputs(out)
    run = read_run(o)
    model = read_record(o.model, ModelRecord, "train") if o.model.is_file() else None
    registered = model.model if model else None
    baselines = run.backtest.baselines if run.backtest else ["climatology"]
    intensity_models = model.intensity_models if model else {}
    scores = pd.read_csv(out / "scores.csv")
    metrics = pd.read_csv(out / "metrics.csv") if (out / "metrics.csv").exists() else pd.DataFrame()
    events_file = out / "tables" / "events.parquet"
    events = (
        pd.read_parquet(
            events_file, columns=[c for c in _EVENT_COLUMNS if c in pq.read_schema(events_file).names]
        )
        if events_file.is_file()
        else None
    )
    cols = ["unit_id", "month", "n_target", "n_fatalities", *run.feature_definitions]
    have = set(pq.read_schema(out / "features.parquet").names)
    panel = pd.read_parquet(out / "features.parquet", columns=[c for c in dict.fromkeys(cols) if c in have])

    missing = sorted(set(settings.horizons) - set(scores["horizon"].astype(int)))
    if missing:
        raise ConfigError(
            f"{out / 'scores.csv'} has no scores for horizons {missing} that the config asks for: "
            "report with the config the run used, or rerun `riskcast score` with this one"
        )
    h0 = settings.first_horizon
    as_of = str(scores["as_of"].iloc[0]) if len(scores) else str(run.as_of)
    month_of = scores.drop_duplicates("horizon").set_index("horizon")["target_month"].astype(str)
    target_months = [short_month(month_of[h]) for h in settings.horizons]
    wide = scores.pivot_table(
        index=["unit_id", "unit_name", "country"],
        columns="horizon",
        values=["p", "expected_count"],
        aggfunc="first",
    )
    # the tier comes with the scores (riskcast.scoring, cut points from scoring.tiers)
    tiers = scores[scores["horizon"] == h0].set_index("unit_id")["tier"]
    wide = wide.sort_values(("p", h0), ascending=False)
    recent = (
        panel[panel["month"] > panel["month"].max() - pd.DateOffset(months=12)]
        .groupby("unit_id")["n_target"]
        .sum()
    )
    previous = _previous_scores(out, scores, h0)
    head = headline(out, scores, h0, settings.top_n, run.targets)
    extra_p = head["extra"] if head else {}
    units = []
    for (uid, name, country), r in wide.iterrows():
        units.append(
            {
                "unit_id": uid,
                "name": name,
                "country": country,
                "p": [f"{r[('p', h)]:.2f}" for h in settings.horizons],
                "extra": [extra_p[t].get(uid, "") for t in extra_p],
                "count": "n/a" if pd.isna(r[("expected_count", h0)]) else f"{r[('expected_count', h0)]:.1f}",
                "tier": str(tiers.get(uid, "")),
                "last12": int(recent.get(uid, 0)),
                "change": "new" if uid not in previous.index else f"{r[('p', h0)] - previous[uid]:+.2f}",
            }
        )
    coverage = (
        source_coverage(events if events is not None else pd.DataFrame(), as_of)
        .rename(columns={"first": "min", "last": "max"})
        .to_dict("records")
    )
    synthetic = any(SYNTHETIC_MARK in str(c["source_dataset"]).lower() for c in coverage)
    # which models are baselines: recorded by the backtest stage (reporting knows nothing of models)
    totals = panel.groupby("unit_id")["n_target"].sum()
    silent_units = sorted(u["name"] for u in units if totals.get(u["unit_id"], 0) == 0)
    windows = sorted(run.training_windows.items(), key=lambda kv: int(kv[0]))

    visuals = visual_sections(
        settings,
        registered,
        out,
        scores,
        panel[["unit_id", "month", "n_target"]],
        month=month_label(month_of[h0]),
    )
    q = scores[scores["horizon"] == h0].set_index("unit_id")
    for u in units:
        u["spark"] = visuals["sparklines"].get(u["unit_id"], "")
        lo, hi = q["q10"].get(u["unit_id"]), q["q90"].get(u["unit_id"])
        u["range"] = "" if lo is None or pd.isna(lo) or pd.isna(hi) else f"{lo:.0f}-{hi:.0f}"
    env = Environment(
        loader=FileSystemLoader(project_file("reports")),
        autoescape=select_autoescape(["html", "j2"], default=True),
    )
    return env.get_template("report.html.j2").render(
        title=settings.title,
        run=run,
        settings=settings,
        as_of=as_of,
        # from the scores themselves: `riskcast score` may have rescored since run.json was written
        scored_with=f"{scores['model'].iloc[0]}/{scores['model_version'].iloc[0]}" if len(scores) else "",
        as_of_label=month_label(as_of),
        target_label=month_label(month_of[h0]),
        target_months=target_months,
        horizons=settings.horizons,
        units=units,
        n_units=len(units),
        coverage=coverage,
        synthetic=synthetic,
        backtest=backtest_tables(metrics, registered, baselines),
        registered=registered,
        inputs=run.inputs,
        assignment=run.region_assignment,
        silent_units=silent_units,
        windows=windows,
        warnings=run.warnings,
        comparison=set_comparison(metrics),
        drift=run.drift,
        definitions=sorted(run.feature_definitions.items()),
        feature_sets=run.feature_sets,
        drivers=_drivers(settings, run, scores, panel, out),
        visuals=visuals,
        headline=head,
        front=_front(settings, run, out, scores, panel, metrics, events, registered, head),
        intensity_rows=intensity_backtest_rows(out, intensity_models, baselines),
        intensity_models=intensity_models,
        targets=run.targets,
    )
