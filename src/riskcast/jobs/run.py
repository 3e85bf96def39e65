"""The whole chain and its stages, each writing its outputs atomically into the output folder.

Outputs (the contract later stages and users rely on):
``features.parquet``, ``predictions.csv``, ``metrics.csv``, ``scores.csv``, ``report.html``,
``run.json``; plus the stage hand-overs ``tables/*.parquet``, ``ingest.json``, ``model.json``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from riskcast.atomic import atomic_path, write_text
from riskcast.config import Config, config_hash
from riskcast.jobs.ingest import Ingested, ingest
from riskcast.jobs import stages

__all__ = ["run_all", "stage_ingest", "stage_features", "stage_backtest", "stage_train", "stage_score", "stage_report", "RunOutputs"]

_TABLES = ("events", "counts", "presence", "shocks", "units")


class RunOutputs:
    """File names inside one output folder."""

    def __init__(self, out: str | Path) -> None:
        self.dir = Path(out)
        self.tables = self.dir / "tables"
        self.ingest = self.dir / "ingest.json"
        self.features = self.dir / "features.parquet"
        self.predictions = self.dir / "predictions.csv"
        self.metrics = self.dir / "metrics.csv"
        self.model = self.dir / "model.json"
        self.scores = self.dir / "scores.csv"
        self.report = self.dir / "report.html"
        self.run = self.dir / "run.json"

    def require(self, path: Path, stage: str) -> Path:
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `riskcast {stage}` (or `riskcast run`) first")
        return path


def _write_df(df: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False, float_format="%.10g", date_format="%Y-%m-%d")


def _update_run_json(o: RunOutputs, *, fresh: bool = False, **items) -> dict:
    data = json.loads(o.run.read_text()) if o.run.exists() and not fresh else {}
    data.update(items)
    write_text(o.run, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return data


def _month_str(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.strftime("%Y-%m")


def stage_ingest(cfg: Config, out: Path) -> Ingested:
    o = RunOutputs(out)
    data = ingest(cfg)
    for name in _TABLES:
        _write_df(getattr(data, name), o.tables / f"{name}.parquet")
    summary = {"inputs": data.reports, "data_hashes": data.hashes, "region_assignment": data.assignment, "warnings": data.warnings}
    write_text(o.ingest, json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    # Ingestion starts a new run record; until it succeeds the previous one stays untouched.
    _update_run_json(o, fresh=True, config_hash=config_hash(cfg), **summary)
    return data


def load_ingested(out: Path) -> Ingested:
    o = RunOutputs(out)
    o.require(o.ingest, "ingest")
    summary = json.loads(o.ingest.read_text())
    tables = {name: pd.read_parquet(o.tables / f"{name}.parquet") for name in _TABLES}
    return Ingested(**tables, reports=summary["inputs"], hashes=summary["data_hashes"], assignment=summary["region_assignment"],
                    warnings=summary.get("warnings", []))


def stage_features(cfg: Config, out: Path, data: Ingested | None = None) -> pd.DataFrame:
    o = RunOutputs(out)
    data = data or load_ingested(out)
    panel = stages.build_feature_panel(cfg, data)
    _write_df(panel, o.features)
    outside = stages.events_outside_panel(cfg, data, panel)
    full, base = stages.feature_sets(cfg)
    sets = {s.name: {"file": str(s.path), "sha256": s.sha256, "columns": s.columns} for s in (full, base) if s is not None}
    _update_run_json(o, feature_sets=sets, feature_definitions=stages.feature_definitions(cfg), panel={"units": int(panel["unit_id"].nunique()), "months": int(panel["month"].nunique()),
                               "first_month": f"{panel['month'].min():%Y-%m}", "last_month": f"{panel['month'].max():%Y-%m}",
                               "features": stages.feature_columns(panel), "events_not_in_panel": outside,
                               "rows_not_placed": panel.attrs.get("unplaced", {})})
    return panel


def _panel(out: Path, panel: pd.DataFrame | None) -> pd.DataFrame:
    o = RunOutputs(out)
    return panel if panel is not None else pd.read_parquet(o.require(o.features, "features"))


def stage_backtest(cfg: Config, out: Path, panel: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    from rich.progress import Progress

    o = RunOutputs(out)
    panel = _panel(out, panel)
    n_folds = len(cfg.backtest.horizons) * cfg.backtest.eval_months
    with Progress(transient=True) as bar:
        task = bar.add_task("backtest folds", total=n_folds)
        preds, metrics = stages.backtest(cfg, panel, progress=lambda n: bar.advance(task, n))
    out_preds = preds.assign(origin=_month_str(preds["origin"]), target_month=_month_str(preds["target_month"]))
    _write_df(out_preds, o.predictions)
    _write_df(metrics, o.metrics)
    return preds, metrics


def stage_train(cfg: Config, out: Path, panel: pd.DataFrame | None = None) -> dict:
    """Fit the logistic model per horizon, log the run to MLflow and register the bundle."""
    import mlflow

    from riskcast.tracking.bundle import ForecastBundle
    from riskcast.tracking.runs import log_bundle, setup_mlflow, tracking_uri

    o = RunOutputs(out)
    panel = _panel(out, panel)
    run_info = json.loads(o.run.read_text()) if o.run.exists() else {}
    metrics = pd.read_csv(o.metrics) if o.metrics.exists() else pd.DataFrame()
    fitted, windows = stages.fit_final(cfg, panel)
    cols = stages.feature_columns(panel)
    uri = tracking_uri(cfg.tracking.uri, out)
    setup_mlflow(uri, cfg.tracking.experiment, out, cfg.tracking.registry_uri)
    with mlflow.start_run(run_name=cfg.name) as run:
        mlflow.log_params({
            "unit": cfg.unit, "countries": ",".join(cfg.countries), "horizons": ",".join(map(str, cfg.backtest.horizons)),
            "model": "logistic", "C": cfg.model.C, "seed": cfg.seed, "n_features": len(cols),
            "backtest_eval_months": cfg.backtest.eval_months, "backtest_window": cfg.backtest.window,
        })
        mlflow.set_tags({"config_hash": config_hash(cfg), **{f"data_hash.{k}": v for k, v in run_info.get("data_hashes", {}).items()},
                         **{f"feature_set.{k}": v["sha256"] for k, v in run_info.get("feature_sets", {}).items()}})
        for name, info in run_info.get("feature_sets", {}).items():
            mlflow.log_artifact(info["file"], artifact_path="feature_sets")
        mlflow.log_dict(run_info.get("feature_definitions", {}), "feature_definitions.json")
        for row in metrics.dropna(subset=["value"]).itertuples():
            mlflow.log_metric(f"{row.metric}_h{row.horizon}_{row.model}", float(row.value))
        mlflow.log_dict(cfg.model_dump(mode="json"), "config.json")
        for path in (o.ingest, o.metrics):
            if path.exists():
                mlflow.log_artifact(str(path))
        bundle = ForecastBundle(fitted, cols, "logistic")
        name, version = log_bundle(bundle, cfg.tracking.registered_model, input_example=panel[cols].head(3))
        run_id = run.info.run_id
    model = {"mlflow_run_id": run_id, "tracking_uri": uri, "registered_model": name, "version": version,
             "training_windows": {str(h): w for h, w in windows.items()}, "features": cols}
    write_text(o.model, json.dumps(model, indent=2) + "\n")
    _update_run_json(o, mlflow_run_id=run_id, tracking_uri=uri, registered_model=name, registered_model_version=version,
                     training_windows=model["training_windows"])
    return model


def stage_score(cfg: Config, out: Path, panel: pd.DataFrame | None = None) -> pd.DataFrame:
    """Score the latest month with the registered bundle (loaded from the registry only)."""
    from riskcast.tracking.runs import load_registered, setup_mlflow

    o = RunOutputs(out)
    panel = _panel(out, panel)
    model = json.loads(o.require(o.model, "train").read_text())
    setup_mlflow(model["tracking_uri"], cfg.tracking.experiment, out, cfg.tracking.registry_uri)
    bundle = load_registered(model["registered_model"], version=model["version"])
    as_of = panel["month"].max()
    latest = panel[panel["month"] == as_of].reset_index(drop=True)
    pred = bundle.predict(latest[model["features"]])
    rows = []
    for h in cfg.backtest.horizons:
        rows.append(pd.DataFrame({
            "unit_id": latest["unit_id"], "unit_name": latest["unit_name"], "country": latest["country"],
            "as_of": f"{as_of:%Y-%m}", "horizon": h, "target_month": f"{as_of + pd.DateOffset(months=h):%Y-%m}",
            "p": pred[f"p_h{h}"].to_numpy(), "expected_count": pred[f"expected_count_h{h}"].to_numpy(),
            "model": f"{model['registered_model']}/{model['version']}",
        }))
    scores = pd.concat(rows, ignore_index=True).sort_values(["horizon", "p", "unit_id"], ascending=[True, False, True], kind="stable")
    _write_df(scores, o.scores)
    _update_run_json(o, as_of=f"{as_of:%Y-%m}")
    return scores


def stage_report(cfg: Config, out: Path) -> Path:
    from riskcast.reporting.report import render_report

    o = RunOutputs(out)
    html = render_report(cfg, out)
    write_text(o.report, html)
    return o.report


def run_all(cfg: Config, out: str | Path, echo=print) -> dict:
    """ingest -> features -> backtest -> train/register -> score -> report; returns run.json."""
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
    step("report", lambda: stage_report(cfg, out))
    timings["total"] = round(time.perf_counter() - t0, 2)
    return _update_run_json(o, timings_seconds=timings, outputs={k: str(getattr(o, k)) for k in ("features", "predictions", "metrics", "scores", "report")})
