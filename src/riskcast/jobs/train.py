"""Train, register and promote the champion candidate; score the latest month with the champion.

A run registers its candidate as a new model version. The ``champion`` alias moves to it only
if it beats the current champion on the same backtest window by the configured metric and is
not worse calibrated (``riskcast.tracking.registry.promote_if_better``); scoring always loads
``models:/<name>@champion`` from the configured registry.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from riskcast.atomic import atomic_path, write_text
from riskcast.config import Config, config_hash
from riskcast.jobs import stages
from riskcast.jobs.intensity import choose_intensity_models, fit_intensity, intensity_scores
from riskcast.jobs.outputs import RunOutputs, panel_of, update_run_json

__all__ = ["stage_train", "stage_score", "log_backtest_run", "choose_candidate", "data_hash", "champion_metrics", "backtest_window"]


def data_hash(run_info: dict) -> str:
    """One hash of every input's hash (sorted by input name)."""
    blob = json.dumps(run_info.get("data_hashes", {}), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def backtest_window(run_info: dict) -> str:
    """The backtest's origins per horizon as one string: a champion is compared on the same one."""
    span = run_info.get("backtest", {}).get("origins", {})
    return ";".join(f"h{h}:{a}..{b}" for h, (a, b) in sorted(span.items(), key=lambda kv: int(kv[0])))


def champion_metrics(metrics: pd.DataFrame, model: str) -> dict[str, float]:
    """The candidate's backtest scores, averaged over horizons (the promotion compares these)."""
    m = metrics[(metrics["model"] == model) & metrics["metric"].isin(["brier", "log_loss", "ece", "crps_count", "auroc", "aupr"])]
    out = m.groupby("metric")["value"].mean()
    return {("crps" if k == "crps_count" else k): float(v) for k, v in out.items() if pd.notna(v)}


def choose_candidate(cfg: Config, metrics: pd.DataFrame) -> str:
    """The configured model, or with ``auto`` the non-baseline model with the lowest mean Brier.

    Ties go to the model listed first in the set (sorted by name for determinism otherwise).
    """
    if cfg.model.champion != "auto":
        return cfg.model.champion
    m = metrics[(metrics["metric"] == "brier") & ~metrics["model"].isin(stages.baseline_names(cfg))]
    if m.empty:
        raise ValueError("model.champion = 'auto' needs backtest Brier scores of at least one non-baseline model")
    mean = m.groupby("model")["value"].mean().sort_index()
    return str(mean.idxmin())


def _log_common(cfg: Config, o: RunOutputs, run_info: dict, metrics: pd.DataFrame) -> None:
    """What every riskcast MLflow run carries: parameters, hashes, the spec files, the metrics."""
    import mlflow

    from riskcast.models.spec import resolve_model_set_path

    feature_files = run_info.get("feature_sets", {})
    mlflow.log_params({
        "unit": cfg.unit, "countries": ",".join(cfg.countries), "horizons": ",".join(map(str, cfg.backtest.horizons)),
        "model_set": cfg.model.set, "seed": cfg.seed, "backtest_window": backtest_window(run_info)[:500],
        "backtest_kind": cfg.backtest.window, "n_boot": cfg.backtest.n_boot,
    })
    mlflow.set_tags({"config_hash": config_hash(cfg), "data_hash": data_hash(run_info),
                     **{f"data_hash.{k}": v for k, v in run_info.get("data_hashes", {}).items()},
                     # the fetched vintage of each input: enough to rebuild this run from the data it saw
                     **{f"data_vintage.{k}": f"{v['source']}/{v['vintage']}" for k, v in run_info.get("data_vintages", {}).items()},
                     **{f"feature_set.{k}": v["sha256"] for k, v in feature_files.items()}})
    for info in feature_files.values():
        mlflow.log_artifact(info["file"], artifact_path="feature_sets")
    mlflow.log_artifact(str(resolve_model_set_path(cfg.model.set)), artifact_path="model_sets")
    mlflow.log_dict(run_info.get("feature_definitions", {}), "feature_definitions.json")
    mlflow.log_dict(cfg.model_dump(mode="json"), "config.json")
    if o.ingest.exists():
        mlflow.log_artifact(str(o.ingest))
    rows = metrics[(metrics["metric"] != "base_rate")].dropna(subset=["value"])
    mlflow.log_metrics({f"{r.metric}_h{r.horizon}_{r.model}": float(r.value) for r in rows.itertuples()})


def fitted_summary(est) -> dict:
    """What a fit chose, in words and numbers: tuned values, ensemble weights, calibration."""
    out = {"class": type(est).__name__}
    for attr in ("chosen_", "tuning_note_", "scores_", "weights_", "weights_note_", "calibration_note_"):
        if hasattr(est, attr):
            v = getattr(est, attr)
            out[attr.rstrip("_")] = {str(k): x for k, x in v.items()} if isinstance(v, dict) else v
    inner = getattr(est, "best_estimator_", None) or getattr(est, "base_", None)
    if inner is not None:
        out["inner"] = fitted_summary(inner)
    return out


def log_backtest_run(cfg: Config, out: Path) -> str:
    """The backtest as its own MLflow run: tables, reliability figure and ablation as artifacts."""
    import mlflow

    from riskcast.tracking.runs import setup_mlflow, tracking_uri

    o = RunOutputs(out)
    run_info = json.loads(o.run.read_text()) if o.run.exists() else {}
    metrics = pd.read_csv(o.require(o.metrics, "backtest"))
    setup_mlflow(tracking_uri(cfg.tracking.uri, out), cfg.tracking.experiment, out, cfg.tracking.registry_uri)
    with mlflow.start_run(run_name=f"{cfg.name}-backtest", nested=mlflow.active_run() is not None) as run:
        _log_common(cfg, o, run_info, metrics)
        mlflow.set_tag("riskcast.kind", "backtest")
        for path in (o.metrics, o.predictions, *(o.dir / f"{t}.csv" for t in ("reliability", "ablation", "metrics_by_country", "metrics_by_unit"))):
            if path.exists():
                mlflow.log_artifact(str(path), artifact_path="backtest")
        if o.figures.exists():
            mlflow.log_artifacts(str(o.figures), artifact_path="figures")
        return run.info.run_id


def champion_on_window(client, registered: str, metrics: pd.DataFrame) -> tuple[str | None, str | None, dict | None]:
    """The champion's version, model spec and scores on *this* backtest's window, when it can say.

    A champion is a fitted model spec. Its own tags hold its scores on the window it was
    backtested on; a later backtest moves the window. When the champion's spec was backtested
    again here (same folds as the challenger), its scores on this window are those rows of
    ``metrics``: the comparison the promotion needs. Returns ``(version, spec, scores)``;
    ``scores`` is None when the spec is not in this backtest (the promotion then refuses).
    """
    from riskcast.tracking.registry import TAG_MODEL

    try:
        version = client.get_registered_model(registered).aliases.get("champion")
    except Exception:  # noqa: BLE001 - no registered model yet: no champion
        return None, None, None
    if version is None:
        return None, None, None
    mv = client.get_model_version(registered, str(version))
    spec = mv.tags.get(TAG_MODEL)
    if spec is None and mv.run_id:  # versions registered before the tag existed
        spec = client.get_run(mv.run_id).data.params.get("model")
    if spec is None or spec not in set(metrics["model"]):
        return str(version), spec, None
    return str(version), spec, champion_metrics(metrics, spec)


def backtest_complete(run_info: dict, preds_path: Path, models: list[str]) -> str | None:
    """Why the backtest is partial (a model or horizon missing folds, or NaN Brier), or None when complete."""
    preds = pd.read_csv(preds_path, usecols=["model", "horizon", "origin", "p"])
    expected = {int(h): (a, b) for h, (a, b) in run_info.get("backtest", {}).get("origins", {}).items()}
    for m in models:
        for h, (a, b) in expected.items():
            d = preds[(preds["model"] == m) & (preds["horizon"] == h)]
            n_want = len(pd.period_range(a, b, freq="M"))
            if d["origin"].nunique() != n_want:
                return f"model {m} has {d['origin'].nunique()} of {n_want} origins at h={h}"
            if d["p"].isna().any():
                return f"model {m} has {int(d['p'].isna().sum())} missing forecasts at h={h}"
    return None


def stage_train(cfg: Config, out: Path, panel: pd.DataFrame | None = None, promote: bool = True) -> dict:
    """Fit the champion candidate per horizon, log the run to MLflow, register and maybe promote.

    The challenger is compared with the champion on this backtest's window: the champion's
    spec backtested on the same folds (:func:`champion_on_window`). With ``promote=False`` the
    decision is computed but the alias is not moved (the scheduled job applies it last, once
    every output is written); ``model.json`` then says ``would_promote``.
    """
    import mlflow

    from riskcast.tracking.bundle import ForecastBundle
    from riskcast.tracking.registry import TAG_MODEL, promote_if_better
    from riskcast.tracking.runs import log_bundle, setup_mlflow, tracking_uri

    o = RunOutputs(out)
    panel = panel_of(out, panel)
    run_info = json.loads(o.run.read_text()) if o.run.exists() else {}
    metrics = pd.read_csv(o.require(o.metrics, "backtest"))
    name = choose_candidate(cfg, metrics)
    fitted, windows = stages.fit_final(cfg, panel, name)
    intensity_models, intensity = {}, {}
    if cfg.target.intensity:
        intensity_models = choose_intensity_models(cfg, pd.read_csv(o.require(o.intensity_metrics, "backtest")))
        intensity = fit_intensity(cfg, panel, intensity_models)
    cols = stages.feature_columns(panel)
    dhash, window, scores = data_hash(run_info), backtest_window(run_info), champion_metrics(metrics, name)
    uri = tracking_uri(cfg.tracking.uri, out)
    setup_mlflow(uri, cfg.tracking.experiment, out, cfg.tracking.registry_uri)
    feature_files = run_info.get("feature_sets", {})
    client = mlflow.MlflowClient()
    champ_version, champ_spec, champ_scores = champion_on_window(client, cfg.tracking.registered_model, metrics)
    partial = backtest_complete(run_info, o.predictions, sorted({name, champ_spec} - {None}))
    with mlflow.start_run(run_name=cfg.name, nested=mlflow.active_run() is not None) as run:
        _log_common(cfg, o, run_info, metrics)
        mlflow.log_params({"model": name, "n_features": len(cols),
                           **{f"model.{k}": str(v)[:500] for k, v in fitted[cfg.backtest.horizons[0]].get_params(deep=False).items() if k != "columns"}})
        if run_info.get("backtest_run_id"):
            mlflow.set_tag("backtest_run_id", run_info["backtest_run_id"])
        mlflow.log_dict({str(h): fitted_summary(est) for h, est in fitted.items()}, "fitted_models.json")
        spec_text = "\n".join(Path(i["file"]).read_text() for i in feature_files.values())
        bundle = ForecastBundle(fitted, cols, name, feature_spec=spec_text, data_hash=dhash,
                                calibrated=all(getattr(m, "calibrator_", None) is not None for m in fitted.values()),
                                intensity=intensity, intensity_models=intensity_models)
        if intensity_models:
            mlflow.log_params({f"intensity.{t}": m for t, m in intensity_models.items()})
            mlflow.log_artifact(str(o.intensity_metrics))
        reg_name, version = log_bundle(bundle, cfg.tracking.registered_model, input_example=panel[cols].head(3),
                                       window=window, metrics=scores, data_hash=dhash, config_hash=config_hash(cfg),
                                       tags={TAG_MODEL: name})
        decision = promote_if_better(client, reg_name, version, scores, metric=cfg.promotion.metric,
                                     calibration_metric="ece", calibration_tolerance=cfg.promotion.max_ece_increase, window=window,
                                     champion_metrics=champ_scores, dry_run=not promote, block=partial and f"partial backtest: {partial}")
        action = "promoted" if decision.promoted else "kept"
        if (not decision.promoted and cfg.promotion.refresh_same_spec and champ_spec == name and champ_version is not None
                and champ_scores is not None and not partial):
            # the champion's own procedure won again: its scores on this window are these very rows,
            # so no Brier can separate them; the refit has seen newer months, and takes over
            from riskcast.tracking.registry import PromotionDecision, apply_promotion

            action = "refreshed"
            decision = PromotionDecision(
                promoted=True, champion_before=decision.champion_before, champion_after=str(version), metrics=decision.metrics,
                reason=(f"refreshed: the best model is the champion's own spec {name} (v{champ_version}), with the same "
                        f"{cfg.promotion.metric} {scores.get(cfg.promotion.metric, float('nan')):.6g} on this window by "
                        f"construction; v{version} is its refit on data through {max(w[1] for w in windows.values())}"))
            if promote:
                apply_promotion(client, reg_name, version, decision)
        mlflow.set_tag("riskcast.kind", "train")
        mlflow.set_tags({"promotion": action, "promotion_reason": decision.reason[:5000]})
        run_id = run.info.run_id
    model = {"mlflow_run_id": run_id, "tracking_uri": uri, "registered_model": reg_name, "version": version, "model": name,
             "champion_version": decision.champion_after, "promoted": decision.promoted and promote,
             "would_promote": decision.promoted, "action": action, "promotion_reason": decision.reason,
             "champion_before": {"version": decision.champion_before, "model": champ_spec, "scores_on_window": champ_scores},
             "backtest_window": window, "backtest_scores": scores, "data_hash": dhash,
             "training_windows": {str(h): w for h, w in windows.items()}, "features": cols,
             "intensity_models": intensity_models}
    write_text(o.model, json.dumps(model, indent=2) + "\n")
    update_run_json(o, mlflow_run_id=run_id, tracking_uri=uri, registered_model=reg_name, registered_model_version=version,
                    champion_version=decision.champion_after, promotion={"promoted": decision.promoted, "reason": decision.reason},
                    training_windows=model["training_windows"])
    return model


def _write_intensity_scores(cfg: Config, o: RunOutputs, bundle, features: pd.DataFrame, latest: pd.DataFrame, as_of,
                            models: dict[str, str]) -> None:
    """Every intensity target's forecasts for the latest month, from the same registered bundle."""
    if not models:
        o.intensity_scores.unlink(missing_ok=True)
        return
    wide = bundle.predict(features)
    table = intensity_scores(pd.DataFrame(wide), latest, as_of, models, cfg.backtest.horizons)
    with atomic_path(o.intensity_scores) as tmp:
        table.to_csv(tmp, index=False, float_format="%.10g")


class _DaskScored:
    """The registered model mapped over partitions of the month's rows on the Dask cluster.

    Scored lazily on first use; ``forecast`` then hands back the rows asked for, so
    :func:`riskcast.scoring.score_month` turns them into the score table as for a local model.
    Workers only read the model's artifact; the driver resolves the URI (and does any logging).
    """

    def __init__(self, cfg: Config, uri: str, rows: pd.DataFrame, top_k: int) -> None:
        self.cfg, self.uri, self.rows, self.top_k, self._pred = cfg, uri, rows, top_k, None

    def forecast(self, X: pd.DataFrame, top_k: int) -> pd.DataFrame:
        if self._pred is None:
            import dask.dataframe as dd

            from riskcast.compute import dask_client
            from riskcast.dask_models import score_partitions

            with dask_client(self.cfg.compute) as client:
                n = max(1, 2 * len(client.scheduler_info().get("workers", {})))
                ddf = dd.from_pandas(self.rows.reset_index(drop=True), npartitions=n, sort=False)
                self._pred = score_partitions(self.uri, ddf, top_k=self.top_k).compute().sort_index()
        return self._pred.loc[X.index]


def stage_score(cfg: Config, out: Path, panel: pd.DataFrame | None = None, version: str | None = None,
                run_id: str | None = None, progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Score the latest month with ``models:/<name>@champion`` (or a given version or run) from the registry."""
    import mlflow

    from riskcast.scoring import score_month, write_scores
    from riskcast.scoring_cache import CACHE_DIRNAME, cached_score, score_key
    from riskcast.tracking.runs import load_registered, setup_mlflow

    o = RunOutputs(out)
    panel = panel_of(out, panel)
    model = json.loads(o.require(o.model, "train").read_text())
    setup_mlflow(model["tracking_uri"], cfg.tracking.experiment, out, cfg.tracking.registry_uri)
    name = model["registered_model"]
    if run_id is not None:
        bundle, version = load_registered(run_id=run_id), f"run:{run_id}"
    elif version is None:
        version = mlflow.MlflowClient().get_registered_model(name).aliases.get("champion")
        if version is None:
            raise FileNotFoundError(f"registered model {name!r} has no champion: run `riskcast train` first, or pass --version")
        bundle = load_registered(name, alias="champion")
    else:
        bundle = load_registered(name, version=version)
    as_of = panel["month"].max()
    latest = panel[panel["month"] == as_of].reset_index(drop=True)
    tiers = list(cfg.scoring.tiers.items())
    # A month already scored with this model version, data and settings is read back, not recomputed.
    key = score_key(model_name=name, model_version=version, data_hash=model.get("data_hash", ""), as_of=as_of,
                    rows=latest, feature_cols=model["features"], tiers=tiers, top_k=cfg.scoring.top_k)
    scorer = bundle
    if cfg.compute.backend == "dask" and run_id is None:
        scorer = _DaskScored(cfg, f"models:/{name}/{version}", latest, cfg.scoring.top_k)
    scores, reused = cached_score(o.dir / CACHE_DIRNAME, key, lambda: score_month(
        scorer, latest, as_of=as_of, model_name=name, model_version=version, data_hash=model.get("data_hash", ""),
        tiers=tiers, top_k=cfg.scoring.top_k, progress=progress))
    write_scores(scores, o.scores)
    _write_intensity_scores(cfg, o, bundle, latest[model["features"]], latest, as_of, model.get("intensity_models", {}))
    # what moved each unit's forecast since last month, with the same model (reported as drivers)
    from riskcast.scoring import explain_change

    before = panel[panel["month"] == as_of - pd.DateOffset(months=1)]
    if len(before):
        change = explain_change(bundle, latest, before, horizon=min(cfg.backtest.horizons), top_k=cfg.scoring.top_k)
        with atomic_path(o.dir / "changes.csv") as tmp:
            change.to_csv(tmp, index=False)
    else:
        (o.dir / "changes.csv").unlink(missing_ok=True)
    # every month's scores are kept, so a report can say what changed since the previous one
    write_scores(scores, o.dir / "scores_history" / f"scores_{as_of:%Y-%m}.csv")
    update_run_json(o, as_of=f"{as_of:%Y-%m}", scored_with=f"{name}/{version}", scores_reused=reused)
    return scores
