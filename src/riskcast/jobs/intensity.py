"""Intensity targets beside P(any attack): backtest, choose, fit and score each configured one.

Every target (``[[target.intensity]]`` in the config: at least k attacks, at least f deaths,
escalation) is backtested on the same folds as P(any attack), with the set's baselines reading
the target's own climatology, and ``model.intensity_models`` beside them. The model with the
lowest mean Brier (over horizons) is fitted on every known row and rides in the registered
bundle, so the champion scores every target. Outputs are long tables with a ``target`` column:
``intensity_predictions.csv``, ``intensity_metrics.csv``, ``intensity_scores.csv``.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from riskcast.config import Config
from riskcast.features.targets import describe_target
from riskcast.jobs import stages
from riskcast.jobs.evaluate import metrics_with_intervals

__all__ = [
    "backtest_intensity",
    "choose_intensity_models",
    "intensity_scores",
    "target_descriptions",
]


def target_descriptions(cfg: Config) -> dict[str, str]:
    """Every target in plain words, P(any attack) first."""
    return {
        "any": "at least one attack in the month",
        **{t.name: describe_target(t) for t in cfg.target.intensity},
    }


def backtest_intensity(
    cfg: Config,
    panel: pd.DataFrame,
    progress: Callable[[int], None] | None = None,
    timings: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(predictions, metrics) of every intensity target, each with a ``target`` column; empty when
    none. ``timings`` receives "<target>:<model>" -> seconds.

    Target by target; a run backtests them in the pool of P(any attack) instead
    (``riskcast.jobs.evaluate.backtest_all``), with the same numbers.
    """
    preds, metrics = [], []
    for name in stages.intensity_names(cfg):
        seconds: dict = {}
        p, _ = stages.backtest(cfg, panel, progress=progress, target=name, timings=seconds)
        if timings is not None:
            timings.update({f"{name}:{m}": s for m, s in seconds.items()})
        preds.append(p.assign(target=name))
        metrics.append(metrics_with_intervals(cfg, p).assign(target=name))
    if not preds:
        return pd.DataFrame(), pd.DataFrame()
    return pd.concat(preds, ignore_index=True), pd.concat(metrics, ignore_index=True)


def choose_intensity_models(cfg: Config, metrics: pd.DataFrame) -> dict[str, str]:
    """Per target, the non-baseline model with the lowest mean Brier over horizons (first by name on ties)."""
    chosen = {}
    baselines = set(stages.baseline_names(cfg))
    for name in stages.intensity_names(cfg):
        m = metrics[
            (metrics["target"] == name) & (metrics["metric"] == "brier") & ~metrics["model"].isin(baselines)
        ]
        if m.empty:
            raise ValueError(f"intensity target {name!r} has no backtest Brier score of a non-baseline model")
        chosen[name] = str(m.groupby("model")["value"].mean().sort_index().idxmin())
    return chosen


def intensity_scores(
    wide: pd.DataFrame,
    rows: pd.DataFrame,
    as_of: pd.Timestamp,
    models: dict[str, str],
    horizons: tuple[int, ...],
) -> pd.DataFrame:
    """The bundle's ``p_{target}_h{h}`` columns as a long table: one row per unit, target and horizon."""
    parts = []
    for name, model in models.items():
        for h in horizons:
            col = f"p_{name}_h{h}"
            if col not in wide.columns:
                continue
            parts.append(
                pd.DataFrame(
                    {
                        "unit_id": rows["unit_id"].to_numpy(),
                        "unit_name": rows["unit_name"].to_numpy(),
                        "country": rows["country"].to_numpy(),
                        "as_of": f"{as_of:%Y-%m}",
                        "target_month": f"{as_of + pd.DateOffset(months=h):%Y-%m}",
                        "horizon": h,
                        "target": name,
                        "p": wide[col].to_numpy(dtype=float),
                        "model": model,
                    }
                )
            )
    if not parts:
        return pd.DataFrame(
            columns=[
                "unit_id",
                "unit_name",
                "country",
                "as_of",
                "target_month",
                "horizon",
                "target",
                "p",
                "model",
            ]
        )
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(
        ["target", "horizon", "p", "unit_id"],
        ascending=[True, True, False, True],
        kind="stable",
        ignore_index=True,
    )
