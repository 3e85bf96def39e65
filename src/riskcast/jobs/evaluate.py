"""Everything the backtest's predictions say: metrics with intervals, per country and unit,
reliability, the ablation by feature family, figures; and the backtest's MLflow run.
"""

from __future__ import annotations

import pandas as pd
from sklearn.base import clone

from riskcast.config import Config
from riskcast.errors import ConfigError
from riskcast.evaluation.ablation import run_ablation
from riskcast.evaluation.bootstrap import bootstrap_scores, paired_brier_difference
from riskcast.evaluation.calibration_metrics import reliability_table
from riskcast.evaluation.metrics import score_predictions
from riskcast.features.families import columns_by_family
from riskcast.jobs import stages

__all__ = ["evaluate", "ablation", "metrics_with_intervals"]


def metrics_with_intervals(cfg: Config, preds: pd.DataFrame) -> pd.DataFrame:
    """Per model and horizon: every metric with its month-bootstrap interval, plus Brier minus
    climatology with its paired interval (plain scores when ``backtest.n_boot`` is 0)."""
    b = cfg.backtest
    if b.n_boot > 0:
        return pd.concat(
            [
                bootstrap_scores(preds, by=("horizon",), n_boot=b.n_boot, seed=cfg.seed),
                paired_brier_difference(preds, by=("horizon",), n_boot=b.n_boot, seed=cfg.seed),
            ],
            ignore_index=True,
        )
    return score_predictions(preds, by=("horizon",))


def evaluate(cfg: Config, preds: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Tables from the backtest predictions (every table has the baselines beside the models).

    ``metrics``: per model, horizon and metric, with a 95 % interval from resampling whole
    origin months (a month's units move together, so the interval reflects month-to-month
    noise), plus Brier minus climatology with its paired interval.
    """
    b = cfg.backtest
    metrics = metrics_with_intervals(cfg, preds)

    def grouped(by):
        if b.n_boot > 0:
            return bootstrap_scores(preds, by=by, n_boot=b.n_boot, seed=cfg.seed)
        return score_predictions(preds, by=by)

    return {
        "metrics": metrics,
        "metrics_by_country": grouped(("horizon", "country")),
        "metrics_by_unit": grouped(("horizon", "unit_id")),
        "reliability": reliability_table(preds, by=("horizon",)),
    }


def ablation(cfg: Config, panel: pd.DataFrame, progress=None, timings: dict | None = None) -> pd.DataFrame:
    """The ablation model backtested with each feature family dropped in turn, same folds."""
    b = cfg.backtest
    models = stages.models_for(cfg)
    if b.ablation_model not in models:
        raise ConfigError(
            f"backtest.ablation_model {b.ablation_model!r} is not a model of set {cfg.model.set!r}",
            key="backtest.ablation_model",
        )
    template = models[b.ablation_model]
    full, _ = stages.feature_sets(cfg)

    def make(cols: list[str]):
        # every columns parameter, nested ones too (Tuned/Calibrated base, Ensemble members)
        est = clone(template)
        keys = [k for k in est.get_params(deep=True) if k == "columns" or k.endswith("__columns")]
        return est.set_params(**{k: tuple(cols) for k in keys})

    return run_ablation(
        panel,
        columns_by_family(full.features),
        make,
        b.horizons,
        reference_model=models["climatology"],
        backtest_kwargs=dict(
            **stages.backtest_kwargs(cfg), n_jobs=b.n_jobs, progress=progress, timings=timings
        ),
    )
