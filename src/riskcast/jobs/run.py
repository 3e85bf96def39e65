"""The whole chain and its stages, each writing its outputs atomically into the output folder.

Outputs (the contract later stages and users rely on):
``features.parquet``, ``predictions.csv``, ``metrics.csv``, ``scores.csv``, ``report.html``,
``run.json``; plus the stage hand-overs ``tables/*.parquet``, ``ingest.json``, ``model.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
from rich.progress import Progress

from riskcast.atomic import write_text
from riskcast.config import Config
from riskcast.extras import require_extra
from riskcast.jobs import evaluate, stages
from riskcast.jobs.handover import load_ingested, mark_built, record_ingest, require_upstream
from riskcast.jobs.ingest import Ingested, ingest
from riskcast.jobs.intensity import backtest_intensity, target_descriptions
from riskcast.jobs.score import scoring_summary, stage_score
from riskcast.jobs.train import stage_train
from riskcast.outputs import RunOutputs, month_str, panel_of, update_run_json, write_df
from riskcast.reporting.figures import reliability_figure
from riskcast.reporting.report import render_report
from riskcast.reporting.settings import ReportSettings
from riskcast.tracking.train_runs import log_backtest_run

__all__ = [
    "run_all",
    "stage_ingest",
    "stage_features",
    "stage_backtest",
    "stage_train",
    "stage_score",
    "stage_report",
    "RunOutputs",
]


def stage_ingest(cfg: Config, out: Path) -> Ingested:
    data = ingest(cfg)
    record_ingest(RunOutputs(out), cfg, data)
    return data


def stage_features(cfg: Config, out: Path, data: Ingested | None = None) -> pd.DataFrame:
    o = RunOutputs(out)
    data = data or load_ingested(out, cfg)
    panel = stages.build_feature_panel(cfg, data)
    write_df(panel, o.features)
    outside = stages.events_outside_panel(cfg, data, panel)
    full, base = stages.feature_sets(cfg)
    sets = {
        s.name: {"file": str(s.path), "sha256": s.sha256, "columns": s.columns}
        for s in (full, base)
        if s is not None
    }
    mark_built(cfg, out, "features", data.hashes)
    update_run_json(
        o,
        feature_sets=sets,
        feature_definitions=stages.feature_definitions(cfg),
        panel={
            "units": int(panel["unit_id"].nunique()),
            "months": int(panel["month"].nunique()),
            "first_month": f"{panel['month'].min():%Y-%m}",
            "last_month": f"{panel['month'].max():%Y-%m}",
            "features": stages.feature_columns(panel),
            "events_not_in_panel": outside,
            "rows_not_placed": panel.attrs.get("unplaced", {}),
        },
    )
    return panel


def stage_backtest(
    cfg: Config, out: Path, panel: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest every model of the set on the same folds; metrics, reliability, ablation, figures."""
    o = RunOutputs(out)
    data_hashes = require_upstream(cfg, out, "features", reread_inputs=panel is None)
    panel = panel_of(out, panel)
    n_folds = stages.n_folds(cfg, panel)
    seconds, model_seconds, ablation_seconds = {}, {}, {}
    clock = time.perf_counter()

    def lap(part: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[part] = round(now - clock, 2)
        clock = now

    with Progress(transient=True) as bar:
        task = bar.add_task("backtest folds", total=n_folds)
        preds, _ = stages.backtest(cfg, panel, progress=lambda n: bar.advance(task, n), timings=model_seconds)
        lap("models")
        tables = evaluate.evaluate(cfg, preds)
        lap("metrics")
        if cfg.backtest.ablation:
            task = bar.add_task("ablation folds", total=n_folds)
            tables["ablation"] = evaluate.ablation(
                cfg, panel, progress=lambda n: bar.advance(task, n), timings=ablation_seconds
            )
            lap("ablation")
        if cfg.target.intensity:
            task = bar.add_task("intensity targets", total=n_folds * len(cfg.target.intensity))
            intensity_preds, intensity_metrics = backtest_intensity(
                cfg, panel, progress=lambda n: bar.advance(task, n), timings=model_seconds
            )
            lap("intensity")
    out_preds = preds.assign(origin=month_str(preds["origin"]), target_month=month_str(preds["target_month"]))
    write_df(out_preds, o.predictions)
    write_df(tables["metrics"], o.metrics)
    for name, table in tables.items():
        if name != "metrics":
            write_df(table, o.dir / f"{name}.csv")
    if cfg.target.intensity:
        write_df(
            intensity_preds.assign(
                origin=month_str(intensity_preds["origin"]),
                target_month=month_str(intensity_preds["target_month"]),
            ),
            o.intensity_predictions,
        )
        write_df(intensity_metrics, o.intensity_metrics)
    else:  # a folder reused from a run with intensity targets must not keep their stale tables
        for stale in (o.intensity_predictions, o.intensity_metrics, o.intensity_scores):
            stale.unlink(missing_ok=True)
    o.figures.mkdir(parents=True, exist_ok=True)
    reliability_figure(tables["reliability"], o.figures / "reliability.png")
    update_run_json(
        o,
        backtest={
            "folds": n_folds,
            "origins": _origin_span(preds),
            "models": sorted(preds["model"].unique()),
            "baselines": stages.baseline_names(cfg),
            "seconds": {**seconds, "rest": round(time.perf_counter() - clock, 2)},
            "model_seconds": {
                **{k: round(v, 2) for k, v in model_seconds.items()},
                **{f"ablation:{k}": round(v, 2) for k, v in ablation_seconds.items()},
            },
        },
        targets=target_descriptions(cfg),
        ablation_model=cfg.backtest.ablation_model if cfg.backtest.ablation else None,
    )

    update_run_json(o, backtest_run_id=log_backtest_run(cfg, out))
    mark_built(cfg, out, "backtest", data_hashes)
    return preds, tables["metrics"]


def _origin_span(preds: pd.DataFrame) -> dict[str, list[str]]:
    """First and last origin per horizon: the backtest window a champion is compared on."""
    span = preds.groupby("horizon")["origin"].agg(["min", "max"])
    return {str(h): [f"{r['min']:%Y-%m}", f"{r['max']:%Y-%m}"] for h, r in span.iterrows()}


def stage_report(cfg: Config, out: Path) -> Path:
    # the PDF renderer (WeasyPrint and its system libraries) loads only when a PDF is asked for
    from riskcast.reporting.pdf import render_pdf

    o = RunOutputs(out)
    require_upstream(cfg, out, "features", "score", reread_inputs=False, config_only=("backtest",))
    _require_extras(cfg)
    html = render_report(ReportSettings.from_config(cfg), out)
    write_text(o.report, html)
    if cfg.report.pdf:
        render_pdf(html, o.dir / "report.pdf")  # the same content, offline (data: URIs only)
    return o.report


def _require_extras(cfg: Config) -> None:
    """Refuse, before any work, a config that needs an extra this machine lacks."""
    if cfg.report.pdf:
        require_extra("pdf", key="report.pdf", alternative="set report.pdf = false for the HTML report only")
    if cfg.compute.backend == "dask":
        require_extra("dask", key="compute.backend", alternative='set compute.backend = "local"')


def run_all(cfg: Config, out: str | Path, echo=print) -> dict:
    """ingest -> features -> backtest -> train/register -> score -> report; returns run.json."""
    _require_extras(cfg)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    o = RunOutputs(out)
    t0 = time.perf_counter()
    timings = {}

    def step(name, fn):
        t = time.perf_counter()
        echo(f"[{name}] ...")
        result = fn()
        timings[name] = round(time.perf_counter() - t, 2)
        return result

    data = step("ingest", lambda: stage_ingest(cfg, out))
    panel = step("features", lambda: stage_features(cfg, out, data))
    step("backtest", lambda: stage_backtest(cfg, out, panel))
    step("train", lambda: stage_train(cfg, out, panel))
    step("score", lambda: stage_score(cfg, out, panel))
    update_run_json(o, **scoring_summary(out))
    step("report", lambda: stage_report(cfg, out))
    timings["total"] = round(time.perf_counter() - t0, 2)
    record = update_run_json(
        o,
        timings_seconds=timings,
        outputs={k: str(getattr(o, k)) for k in ("features", "predictions", "metrics", "scores", "report")},
    )
    return record.model_dump(mode="json", exclude_unset=True)
