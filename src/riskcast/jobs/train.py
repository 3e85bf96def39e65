"""Train the champion candidate, register it and decide its promotion (the MLflow side is in
``riskcast.tracking.train_runs``).

A run registers its candidate as a new model version. The ``champion`` alias moves to it only
if it beats the current champion on the same backtest window by the configured metric and is
not worse calibrated (``riskcast.tracking.registry.promote_if_better``). Scoring is
``riskcast.jobs.score``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from joblib import Parallel, delayed

from riskcast.config import Config
from riskcast.jobs import stages
from riskcast.jobs.handover import mark_built, require_upstream, stamp
from riskcast.jobs.intensity import choose_intensity_models
from riskcast.outputs import BlockPanel, RunOutputs, head_rows, panel_of, read_run, update_run_json
from riskcast.records import ModelRecord, write_record
from riskcast.tracking.bundle import KEY_COLUMNS, ForecastBundle
from riskcast.tracking.train_runs import backtest_window, champion_metrics, data_hash, log_training

__all__ = ["stage_train", "choose_candidate", "fitted_summary", "backtest_complete", "fit_targets"]


def choose_candidate(cfg: Config, metrics: pd.DataFrame) -> str:
    """The configured model, or with ``auto`` the non-baseline model with the lowest mean Brier.

    Ties go to the model listed first in the set (sorted by name for determinism otherwise).
    """
    if cfg.model.champion != "auto":
        return cfg.model.champion
    m = metrics[(metrics["metric"] == "brier") & ~metrics["model"].isin(stages.baseline_names(cfg))]
    if m.empty:
        raise ValueError(
            "model.champion = 'auto' needs backtest Brier scores of at least one non-baseline model"
        )
    mean = m.groupby("model")["value"].mean().sort_index()
    return str(mean.idxmin())


def fit_targets(
    cfg: Config, panel: pd.DataFrame | BlockPanel, chosen: dict[str, str]
) -> dict[str, tuple[dict[int, object], dict]]:
    """Each target's chosen model (``{target: model}``, ``any`` for P(any attack)) fitted per
    horizon on every row whose target is known: ``{target: stages.fit_final(...)}``.

    With the local backend the targets are fitted side by side in the backtest's worker
    processes (joblib keeps them): four tuned models x four horizons took 2.2 s one after the
    other on Mali's cercles. Each fit is the one this process would make, to the bit.
    """
    b = cfg.backtest
    if cfg.compute.backend != "local" or isinstance(panel, BlockPanel) or b.n_jobs == 1 or len(chosen) < 2:
        return {
            target: stages.fit_final(cfg, panel, model, target=target) for target, model in chosen.items()
        }
    fits = Parallel(n_jobs=b.n_jobs)(
        delayed(stages.fit_final)(cfg, panel, model, target=target) for target, model in chosen.items()
    )
    return dict(zip(chosen, fits))


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


def backtest_complete(origins: dict[str, list[str]], preds_path: Path, models: list[str]) -> str | None:
    """Why the backtest is partial (a model or horizon missing folds, or NaN Brier), or None when complete.

    ``origins``: horizon -> [first, last] origin the backtest covered (``run.json``'s ``backtest.origins``).
    """
    preds = pd.read_csv(preds_path, usecols=["model", "horizon", "origin", "p"])
    expected = {int(h): (a, b) for h, (a, b) in origins.items()}
    for m in models:
        for h, (a, b) in expected.items():
            d = preds[(preds["model"] == m) & (preds["horizon"] == h)]
            n_want = len(pd.period_range(a, b, freq="M"))
            if d["origin"].nunique() != n_want:
                return f"model {m} has {d['origin'].nunique()} of {n_want} origins at h={h}"
            if d["p"].isna().any():
                return f"model {m} has {int(d['p'].isna().sum())} missing forecasts at h={h}"
    return None


def stage_train(
    cfg: Config, out: Path, panel: pd.DataFrame | None = None, promote: bool = True
) -> ModelRecord:
    """Fit the champion candidate per horizon, log the run to MLflow, register and maybe promote.

    The challenger is compared with the champion on this backtest's window: the champion's
    spec backtested on the same folds (``riskcast.tracking.train_runs.champion_on_window``). With
    ``promote=False`` the decision is computed but the alias is not moved (the scheduled job
    applies it last, once every output is written); ``model.json`` then says ``would_promote``.
    """
    o = RunOutputs(out)
    data_hashes = require_upstream(cfg, out, "features", "backtest", reread_inputs=panel is None)
    panel = panel_of(out, panel)
    run = read_run(o)
    metrics = pd.read_csv(o.require(o.metrics, "backtest"))
    name = choose_candidate(cfg, metrics)
    intensity_models = {}
    if cfg.target.intensity:
        intensity_models = choose_intensity_models(
            cfg, pd.read_csv(o.require(o.intensity_metrics, "backtest"))
        )
    fits = fit_targets(cfg, panel, {"any": name, **intensity_models})
    fitted, windows = fits.pop("any")
    intensity = {target: fitted_by_h for target, (fitted_by_h, _) in fits.items()}
    cols = stages.feature_columns(panel)
    spec_text = "\n".join(Path(s.file).read_text() for s in run.feature_sets.values())
    bundle = ForecastBundle(
        fitted,
        cols,
        name,
        feature_spec=spec_text,
        data_hash=data_hash(run),
        calibrated=all(getattr(m, "calibrator_", None) is not None for m in fitted.values()),
        intensity=intensity,
        intensity_models=intensity_models,
    )
    first = fitted[cfg.backtest.horizons[0]]
    params = {
        "n_features": len(cols),
        **{f"model.{k}": str(v)[:500] for k, v in first.get_params(deep=False).items() if k != "columns"},
    }
    reg = log_training(
        cfg,
        out,
        bundle=bundle,
        name=name,
        params=params,
        metrics=metrics,
        run_info=run,
        fitted_summary={str(h): fitted_summary(est) for h, est in fitted.items()},
        # the keys too: the logged example then shows a caller the rows the model takes
        input_example=head_rows(panel, 3)[[*KEY_COLUMNS, *cols]],
        last_month=max(w[1] for w in windows.values()),
        promote=promote,
        partial=lambda champ: backtest_complete(
            run.backtest.origins if run.backtest else {}, o.predictions, sorted({name, champ} - {None})
        ),
    )
    decision = reg.decision
    model = ModelRecord(
        mlflow_run_id=reg.run_id,
        tracking_uri=reg.tracking_uri,
        registered_model=reg.registered_model,
        version=str(reg.version),
        model=name,
        champion_version=decision.champion_after,
        promoted=decision.promoted and promote,
        would_promote=decision.promoted,
        action=reg.action,
        promotion_reason=decision.reason,
        champion_before={
            "version": decision.champion_before,
            "model": reg.champion_spec,
            "scores_on_window": reg.champion_scores,
        },
        backtest_window=backtest_window(run),
        backtest_scores=champion_metrics(metrics, name),
        data_hash=data_hash(run),
        training_windows={str(h): list(w) for h, w in windows.items()},
        features=cols,
        intensity_models=intensity_models,
        built_from=stamp(cfg, "train", data_hashes),
    )
    write_record(o.model, model)
    mark_built(cfg, out, "train", data_hashes)
    update_run_json(
        o,
        mlflow_run_id=reg.run_id,
        tracking_uri=reg.tracking_uri,
        registered_model=reg.registered_model,
        registered_model_version=reg.version,
        champion_version=decision.champion_after,
        promotion={"promoted": decision.promoted, "reason": decision.reason},
        training_windows=model.training_windows,
    )
    return model
