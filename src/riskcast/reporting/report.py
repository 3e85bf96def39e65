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
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from jinja2 import Environment, FileSystemLoader, select_autoescape

from riskcast.coverage import source_coverage
from riskcast.errors import ConfigError
from riskcast.outputs import BlockPanel, RunOutputs, read_run
from riskcast.paths import project_file
from riskcast.records import ModelRecord, RunRecord, read_record
from riskcast.reporting.drivers import drivers_table, explain_change_row, feature_index
from riskcast.reporting.first_page import first_page
from riskcast.reporting.frontpage import month_label, short_month
from riskcast.reporting.intensity import headline, intensity_backtest_rows
from riskcast.reporting.sections import visual_sections
from riskcast.reporting.settings import ReportSettings
from riskcast.reporting.tables import backtest_tables, set_comparison

__all__ = ["render_report"]

SYNTHETIC_MARK = "synthetic"
_EVENT_COLUMNS = (
    *("event_id", "date", "source_dataset", "recorded", "unit_id", "event_type", "admin1"),
    *("actor1", "actor2", "location", "fatalities"),
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
                "moves": explain_change_row(
                    text, now, before, definitions, settings.unit_word, index, as_of=str(now_p)
                ),
            }
    return records


def _common_lines(records: list[dict]) -> dict:
    """Lines printed for most of the top units (the rainy season, a country-wide count), taken
    out of their rows and said once under the table: ten copies of one sentence hide the lines
    that tell the units apart. A line is common when at least 3 rows and half the rows have it."""
    n = len(records)

    def common(keys_per_row: list[set]) -> set:
        counts: dict = {}
        for keys in keys_per_row:
            for k in keys:
                counts[k] = counts.get(k, 0) + 1
        return {k for k, c in counts.items() if c >= 3 and 2 * c >= n}

    drivers = common([{(d.direction, d.sentence) for d in r["drivers"]} for r in records])
    moves = common(
        [
            {(d.direction, d.sentence, was) for d, was in (r.get("change") or {}).get("moves", [])}
            for r in records
        ]
    )
    for r in records:
        r["drivers"] = [d for d in r["drivers"] if (d.direction, d.sentence) not in drivers]
        if r.get("change"):
            r["change"]["moves"] = [
                (d, was) for d, was in r["change"]["moves"] if (d.direction, d.sentence, was) not in moves
            ]
            r["change"]["common"] = bool(moves)
    return {"drivers": sorted(drivers), "moves": sorted(moves)}


#: the most units listed one by one, highest risk first: a page an analyst reads, not a global
#: grid's 65,025 cells (a 46 MB report); every unit's forecast is in scores.csv
MAX_LISTED_UNITS = 1000
#: the most silent units named (a grid can have tens of thousands)
MAX_SILENT_NAMED = 50

#: months of feature rows the report reads: its longest look back is the 24-month sparklines
_RECENT_MONTHS = 25


def _read_panel(features: Path, run: RunRecord) -> tuple[pd.DataFrame, pd.Series]:
    """The report's columns for the last ``_RECENT_MONTHS`` months, and each unit's attacks over
    the whole panel. ``features``: one file, or a Dask run's folder of block files; either way
    only these rows are read (a grid's panel would not fit in memory whole), and the totals are
    summed by arrow, so a grid's tens of millions of rows never become Python strings."""
    blocks = BlockPanel(features) if features.is_dir() else None
    have = set(blocks.columns if blocks else pq.read_schema(features).names)
    counts = ds.dataset(blocks.files if blocks else str(features), format="parquet").to_table(
        columns=["unit_id", "month", "n_target"], batch_readahead=1, fragment_readahead=1
    )
    totals = counts.group_by("unit_id").aggregate([("n_target", "sum")]).to_pandas()
    since = pd.Timestamp(pc.max(counts["month"]).as_py()) - pd.DateOffset(months=_RECENT_MONTHS)
    del counts
    cols = [
        c
        for c in dict.fromkeys(["unit_id", "month", "n_target", "n_fatalities", *run.feature_definitions])
        if c in have
    ]
    if blocks:
        months = blocks.months
        panel = blocks.read(cols, months[months > since])
    else:
        panel = pd.read_parquet(features, columns=cols, filters=[("month", ">", since)])
    return panel, totals.set_index("unit_id")["n_target_sum"]


def render_report(settings: ReportSettings, out: Path) -> str:
    """The report's HTML from the run's output folder ``out``."""
    out = Path(out)
    o = RunOutputs(out)
    run = read_run(o)
    model = read_record(o.model, ModelRecord, "train") if o.model.is_file() else None
    registered = model.model if model else None
    # which models are baselines: recorded by the backtest stage (reporting knows nothing of models)
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
    panel, totals = _read_panel(out / "features.parquet", run)

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
    for (uid, name, country), r in wide.head(MAX_LISTED_UNITS).iterrows():
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
    silent_units = sorted(name for uid, name, _ in wide.index if totals.get(uid, 0) == 0)
    windows = sorted(run.training_windows.items(), key=lambda kv: int(kv[0]))

    drivers = _drivers(settings, run, scores, panel, out)
    visuals = visual_sections(
        settings,
        registered,
        out,
        scores,
        # the sparklines of the listed units only
        panel.loc[panel["unit_id"].isin([u["unit_id"] for u in units]), ["unit_id", "month", "n_target"]],
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
        n_units=len(wide),
        coverage=coverage,
        synthetic=synthetic,
        backtest=backtest_tables(metrics, registered, baselines),
        registered=registered,
        inputs=run.inputs,
        assignment=run.region_assignment,
        silent_units=silent_units[:MAX_SILENT_NAMED],
        n_silent=len(silent_units),
        windows=windows,
        warnings=run.warnings,
        comparison=set_comparison(metrics),
        drift=run.drift,
        definitions=sorted(run.feature_definitions.items()),
        feature_sets=run.feature_sets,
        drivers=drivers,
        common=_common_lines(drivers),
        visuals=visuals,
        headline=head,
        front=first_page(settings, run, out, scores, panel, metrics, events, registered, head),
        intensity_rows=intensity_backtest_rows(out, intensity_models, baselines),
        intensity_models=intensity_models,
        targets=run.targets,
    )
