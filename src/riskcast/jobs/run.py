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
from riskcast.jobs.intensity import target_descriptions
from riskcast.jobs.memory import release_freed_memory
from riskcast.jobs.score import scoring_summary, stage_score
from riskcast.jobs.train import stage_train
from riskcast.outputs import BlockPanel, RunOutputs, month_str, panel_of, update_run_json, write_df
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


def stage_features(cfg: Config, out: Path, data: Ingested | None = None) -> pd.DataFrame | BlockPanel:
    """The feature panel, written to ``features.parquet``: one file, or on Dask with a model set
    that fits from blocks (``compute.panel``) a folder of the workers' block files."""
    o = RunOutputs(out)
    data = data or load_ingested(out, cfg)
    if stages.on_blocks(cfg):
        panel = stages.build_block_panel(cfg, data, o.features)
    else:
        panel = stages.build_feature_panel(cfg, data)
        write_df(panel, o.features)
    months = pd.DatetimeIndex(panel.months if isinstance(panel, BlockPanel) else panel["month"].unique())
    outside = stages.events_outside_panel(cfg, data, months)
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
            "units": len(data.units),
            "months": len(months),
            "first_month": f"{months.min():%Y-%m}",
            "last_month": f"{months.max():%Y-%m}",
            "features": stages.feature_columns(panel),
            "events_not_in_panel": outside,
            "rows_not_placed": panel.unplaced
            if isinstance(panel, BlockPanel)
            else panel.attrs.get("unplaced", {}),
            "storage": "blocks" if isinstance(panel, BlockPanel) else "file",
        },
    )
    return panel


def stage_backtest(
    cfg: Config, out: Path, panel: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Backtest every model of the set on the same folds; metrics, reliability, ablation, figures.

    P(any attack), the intensity targets and the ablation share one pool of workers
    (``evaluate.backtest_all``): each is scored, and P(any attack)'s tables written, while the
    workers go on with the others. ``run.json``'s ``backtest.seconds``: ``models`` is the whole
    pool (the scoring and writing inside it), ``metrics`` / ``intensity`` / ``ablation`` the part
    of it this process spent scoring each, ``rest`` what follows before the MLflow run (which the
    stage's own time in ``timings_seconds`` includes).
    """
    o = RunOutputs(out)
    data_hashes = require_upstream(cfg, out, "features", reread_inputs=panel is None)
    panel = panel_of(out, panel)
    n_folds = stages.n_folds(cfg, panel)
    model_seconds = {}
    clock = time.perf_counter()
    tracking = evaluate.open_tracking(cfg, out)  # the store's set-up waits on the disk, not the workers

    def as_text(p: pd.DataFrame) -> pd.DataFrame:
        return p.assign(origin=month_str(p["origin"]), target_month=month_str(p["target_month"]))

    def write(part: str, done: evaluate.Backtested) -> None:  # while the workers go on with the rest
        if part == "any":
            write_df(as_text(done.predictions), o.predictions)
            write_df(done.tables["metrics"], o.metrics)
            for name, table in done.tables.items():
                if name not in ("metrics", "ablation"):
                    write_df(table, o.dir / f"{name}.csv")
            o.figures.mkdir(parents=True, exist_ok=True)
            reliability_figure(done.tables["reliability"], o.figures / "reliability.png")
        elif part == "intensity":
            write_df(as_text(done.intensity_predictions), o.intensity_predictions)
            write_df(done.intensity_metrics, o.intensity_metrics)
        else:
            write_df(done.tables["ablation"], o.dir / "ablation.csv")

    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("backtest folds", total=n_folds)
            done = evaluate.backtest_all(
                cfg, panel, progress=lambda n: bar.advance(task, n), timings=model_seconds, on_part=write
            )
    finally:
        tracking.join()  # a failed backtest must not leave the store half made
    seconds = {"models": time.perf_counter() - clock, **done.seconds}
    clock = time.perf_counter()
    preds = done.predictions
    if not cfg.target.intensity:  # a folder reused from a run with intensity targets: not their stale ones
        for stale in (o.intensity_predictions, o.intensity_metrics, o.intensity_scores):
            stale.unlink(missing_ok=True)
    update_run_json(
        o,
        backtest={
            "folds": n_folds,
            "origins": _origin_span(preds),
            "models": sorted(preds["model"].unique()),
            "baselines": stages.baseline_names(cfg),
            "seconds": {k: round(v, 2) for k, v in {**seconds, "rest": time.perf_counter() - clock}.items()},
            "model_seconds": {k: round(v, 2) for k, v in model_seconds.items()},
        },
        targets=target_descriptions(cfg),
        ablation_model=cfg.backtest.ablation_model if cfg.backtest.ablation else None,
    )

    update_run_json(o, backtest_run_id=log_backtest_run(cfg, out))
    mark_built(cfg, out, "backtest", data_hashes)
    return preds, done.tables["metrics"]


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
        release_freed_memory()  # what the stage freed, not kept by the allocators for the next
        timings[name] = round(time.perf_counter() - t, 2)
        return result

    data = step("ingest", lambda: stage_ingest(cfg, out))
    panel = step("features", lambda: stage_features(cfg, out, data))
    data = None  # the ingested tables (0.8 GB on an Africa grid): the later stages read the panel
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
