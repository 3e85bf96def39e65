"""The MLflow runs of a training: the backtest run (one child run per model), the training run
with its registered bundle, the champion's scores on this backtest's window, the promotion
decision, and the descriptions of the registered model and its version.

The stages (``riskcast.jobs.train``) decide what to fit; every MLflow call they need is here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd

from riskcast.config import Config, config_hash
from riskcast.models.spec import resolve_model_set_path
from riskcast.outputs import RunOutputs, read_run
from riskcast.records import RunRecord
from riskcast.tracking.describe import Forecasts, model_description, promotion_text, version_description
from riskcast.tracking.model_runs import log_model_runs, model_metrics
from riskcast.tracking.provenance import provenance_tags
from riskcast.tracking.registry import TAG_MODEL, PromotionDecision, apply_promotion, promote_if_better
from riskcast.tracking.runs import log_bundle, setup_mlflow, tracking_uri

__all__ = [
    "backtest_window",
    "champion_metrics",
    "champion_on_window",
    "data_hash",
    "log_backtest_run",
    "log_training",
    "Registered",
]


def data_hash(run: RunRecord) -> str:
    """One hash of every input's hash (sorted by input name)."""
    blob = json.dumps(run.data_hashes, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def backtest_window(run: RunRecord) -> str:
    """The backtest's origins per horizon as one string: a champion is compared on the same one."""
    span = run.backtest.origins if run.backtest else {}
    return ";".join(f"h{h}:{a}..{b}" for h, (a, b) in sorted(span.items(), key=lambda kv: int(kv[0])))


def champion_metrics(metrics: pd.DataFrame, model: str) -> dict[str, float]:
    """The candidate's backtest scores, averaged over horizons (the promotion compares these)."""
    m = metrics[
        (metrics["model"] == model)
        & metrics["metric"].isin(["brier", "log_loss", "ece", "crps_count", "auroc", "aupr"])
    ]
    out = m.groupby("metric")["value"].mean()
    return {("crps" if k == "crps_count" else k): float(v) for k, v in out.items() if pd.notna(v)}


def _common_tags(cfg: Config, run: RunRecord) -> dict[str, str]:
    """Provenance and hashes: on the backtest run, its model runs and the training run alike."""
    return {
        **provenance_tags(),
        "config_hash": config_hash(cfg),
        "data_hash": data_hash(run),
        **{f"data_hash.{k}": v for k, v in run.data_hashes.items()},
        # the fetched vintage of each input: enough to rebuild this run from the data it saw
        **{f"data_vintage.{k}": f"{v['source']}/{v['vintage']}" for k, v in run.data_vintages.items()},
    }


def _log_common(cfg: Config, o: RunOutputs, run: RunRecord) -> None:
    """What every riskcast MLflow run carries: parameters, provenance, hashes, the spec files.

    Metrics are each run's own: the backtest's per model in its child runs, the candidate's on
    the training run.
    """
    feature_files = run.feature_sets
    mlflow.log_params(
        {
            "unit": cfg.unit,
            "countries": ",".join(cfg.countries),
            "horizons": ",".join(map(str, cfg.backtest.horizons)),
            "model_set": cfg.model.set,
            "seed": cfg.seed,
            "backtest_window": backtest_window(run)[:500],
            "backtest_kind": cfg.backtest.window,
            "n_boot": cfg.backtest.n_boot,
        }
    )
    mlflow.set_tags(
        {**_common_tags(cfg, run), **{f"feature_set.{k}": v.sha256 for k, v in feature_files.items()}}
    )
    for info in feature_files.values():
        mlflow.log_artifact(info.file, artifact_path="feature_sets")
    mlflow.log_artifact(str(resolve_model_set_path(cfg.model.set)), artifact_path="model_sets")
    mlflow.log_dict(run.feature_definitions, "feature_definitions.json")
    mlflow.log_dict(cfg.model_dump(mode="json"), "config.json")
    if o.ingest.exists():
        mlflow.log_artifact(str(o.ingest))


def log_backtest_run(cfg: Config, out: Path) -> str:
    """The backtest as its own MLflow run: tables, reliability figure and ablation as artifacts,
    and one child run per model with that model's metrics."""
    o = RunOutputs(out)
    run_record = read_run(o)
    metrics = pd.read_csv(o.require(o.metrics, "backtest"))
    setup_mlflow(tracking_uri(cfg.tracking.uri, out), cfg.tracking.experiment, out, cfg.tracking.registry_uri)
    with mlflow.start_run(run_name=f"{cfg.name}-backtest", nested=mlflow.active_run() is not None) as run:
        _log_common(cfg, o, run_record)
        mlflow.set_tag("riskcast.kind", "backtest")
        # the run's description in MLflow's UI
        mlflow.set_tag(
            "mlflow.note.content",
            f"Rolling-origin backtest, origins {backtest_window(run_record)}: each model's metrics (per "
            "horizon, with 95 % intervals, and the mean over horizons) are in its child run; select "
            "them and Compare to line the models up. Tables and figures: this run's artifacts.",
        )
        tables = ("reliability", "ablation", "metrics_by_country", "metrics_by_unit")
        for path in (o.metrics, o.predictions, *(o.dir / f"{t}.csv" for t in tables)):
            if path.exists():
                mlflow.log_artifact(str(path), artifact_path="backtest")
        if o.figures.exists():
            mlflow.log_artifacts(str(o.figures), artifact_path="figures")
        log_model_runs(
            metrics,
            baselines=run_record.backtest.baselines if run_record.backtest else [],
            model_set=resolve_model_set_path(cfg.model.set),
            tags=_common_tags(cfg, run_record),
            intensity=(
                pd.read_csv(o.intensity_metrics)
                if cfg.target.intensity and o.intensity_metrics.exists()
                else None
            ),
        )
        return run.info.run_id


def champion_on_window(
    client, registered: str, metrics: pd.DataFrame
) -> tuple[str | None, str | None, dict | None]:
    """The champion's version, model spec and scores on *this* backtest's window, when it can say.

    A champion is a fitted model spec. Its own tags hold its scores on the window it was
    backtested on; a later backtest moves the window. When the champion's spec was backtested
    again here (same folds as the challenger), its scores on this window are those rows of
    ``metrics``: the comparison the promotion needs. Returns ``(version, spec, scores)``;
    ``scores`` is None when the spec is not in this backtest (the promotion then refuses).
    """
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


@dataclass(frozen=True)
class Registered:
    """What a training run registered and decided."""

    run_id: str
    tracking_uri: str
    registered_model: str
    version: str
    decision: PromotionDecision
    action: str  # promoted, kept or refreshed
    champion_version: str | None
    champion_spec: str | None
    champion_scores: dict | None


def log_training(
    cfg: Config,
    out: Path,
    *,
    bundle,
    name: str,
    params: dict,
    fitted_summary: dict,
    input_example: pd.DataFrame,
    metrics: pd.DataFrame,
    run_info: RunRecord,
    last_month: str,
    promote: bool,
    partial: Callable[[str | None], str | None],
) -> Registered:
    """Log the training run, register ``bundle`` and decide (and, with ``promote``, apply) the promotion.

    ``partial(champion_spec)`` says why the backtest cannot support a promotion (a model or
    horizon missing folds), or None. ``last_month`` is the newest month the fit saw (named in a
    refresh's reason).
    """
    o = RunOutputs(out)
    uri = tracking_uri(cfg.tracking.uri, out)
    setup_mlflow(uri, cfg.tracking.experiment, out, cfg.tracking.registry_uri)
    dhash, window, scores = data_hash(run_info), backtest_window(run_info), champion_metrics(metrics, name)
    client = mlflow.MlflowClient()
    champ_version, champ_spec, champ_scores = champion_on_window(
        client, cfg.tracking.registered_model, metrics
    )
    why_partial = partial(champ_spec)
    with mlflow.start_run(run_name=cfg.name, nested=mlflow.active_run() is not None) as run:
        _log_common(cfg, o, run_info)
        # the candidate's backtest metrics, under the keys its backtest child run has
        mlflow.log_metrics(model_metrics(metrics, name))
        mlflow.log_params({"model": name, **params})
        if run_info.backtest_run_id:
            mlflow.set_tag("backtest_run_id", run_info.backtest_run_id)
        mlflow.log_dict(fitted_summary, "fitted_models.json")
        if bundle.intensity_models:
            mlflow.log_params({f"intensity.{t}": m for t, m in bundle.intensity_models.items()})
            mlflow.log_artifact(str(o.intensity_metrics))
        reg_name, version = log_bundle(
            bundle,
            cfg.tracking.registered_model,
            input_example=input_example,
            window=window,
            metrics=scores,
            data_hash=dhash,
            config_hash=config_hash(cfg),
            tags={TAG_MODEL: name},
        )
        decision = promote_if_better(
            client,
            reg_name,
            version,
            scores,
            metric=cfg.promotion.metric,
            calibration_metric="ece",
            calibration_tolerance=cfg.promotion.max_ece_increase,
            window=window,
            champion_metrics=champ_scores,
            dry_run=not promote,
            block=why_partial and f"partial backtest: {why_partial}",
        )
        action = "promoted" if decision.promoted else "kept"
        if (
            not decision.promoted
            and cfg.promotion.refresh_same_spec
            and champ_spec == name
            and champ_version is not None
            and champ_scores is not None
            and not why_partial
        ):
            # the champion's own procedure won again: its scores on this window are these very rows,
            # so no Brier can separate them; the refit has seen newer months, and takes over
            action = "refreshed"
            decision = PromotionDecision(
                promoted=True,
                champion_before=decision.champion_before,
                champion_after=str(version),
                metrics=decision.metrics,
                reason=(
                    f"refreshed: the best model is the champion's own spec {name} (v{champ_version}), with the same "
                    f"{cfg.promotion.metric} {scores.get(cfg.promotion.metric, float('nan')):.6g} on this window by "
                    f"construction; v{version} is its refit on data through {last_month}"
                ),
            )
            if promote:
                apply_promotion(client, reg_name, version, decision)
        mlflow.set_tag("riskcast.kind", "train")
        mlflow.set_tags(
            {
                "promotion": action,
                "promotion_reason": decision.reason[:5000],
                "mlflow.note.content": (
                    f"{name} refitted on every row through {last_month}, registered as {reg_name} "
                    f"v{version}; its backtest metrics (window {window}) are this run's metrics. "
                    f"Promotion: {action if promote else 'decided, applied later by the monthly job'}: "
                    f"{decision.reason}"
                )[:5000],
            }
        )
        run_id = run.info.run_id
        _describe(
            client,
            cfg,
            run_info,
            bundle,
            reg_name,
            str(version),
            model=name,
            window=window,
            scores=scores,
            last_month=last_month,
            run_id=run_id,
            promotion=promotion_text(decision, str(version), action=action, applied=promote),
        )
    return Registered(
        run_id=run_id,
        tracking_uri=uri,
        registered_model=reg_name,
        version=version,
        decision=decision,
        action=action,
        champion_version=champ_version,
        champion_spec=champ_spec,
        champion_scores=champ_scores,
    )


def forecasts_of(cfg: Config, run_info: RunRecord, bundle) -> Forecasts:
    """What ``bundle`` forecasts, from the config and run it was trained in (for the descriptions)."""
    targets = run_info.targets or {}
    return Forecasts(
        unit=cfg.unit,
        countries=list(cfg.countries),
        target=targets.get("any", f"at least {cfg.target.threshold} attack(s) in the month"),
        event_types=list(cfg.target.event_types),
        horizons=bundle.horizons,
        intensity={t: f"{targets.get(t, t)} (model {m})" for t, m in sorted(bundle.intensity_models.items())},
        feature_cols=bundle.feature_cols,
        feature_spec_sha256=bundle.feature_spec_sha256,
    )


def _describe(client, cfg: Config, run_info: RunRecord, bundle, reg_name: str, version: str, **kw) -> None:
    """The version's description, then the registered model's (which names the champion as it is now)."""
    forecasts = forecasts_of(cfg, run_info, bundle)
    version_description(
        client,
        reg_name,
        version,
        forecasts,
        model_class=type(bundle.models[bundle.horizons[0]]).__name__,
        backtest_run_id=run_info.backtest_run_id,
        data_hash=data_hash(run_info),
        **kw,
    )
    p = cfg.promotion
    rule = (
        f"A new version takes the `champion` alias only when its {p.metric} (mean over horizons) beats "
        f"the champion's on the same backtest window and its ECE is at most {p.max_ece_increase:g} worse"
        + (
            "; when the best model is the champion's own spec, its refit on newer data takes over (refreshed)."
            if p.refresh_same_spec
            else "."
        )
        + " Every version's description says what was decided and why."
    )
    model_description(client, reg_name, forecasts, rule)
