"""Everything the backtest's predictions say: metrics with intervals, per country and unit,
reliability, the ablation by feature family, figures; and the one backtest that forecasts them
all (:func:`backtest_all`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sklearn.base import clone

from riskcast.config import Config
from riskcast.errors import ConfigError
from riskcast.evaluation.ablation import (
    AblationModels,
    ablation_from_predictions,
    ablation_models,
    run_ablation,
)
from riskcast.evaluation.bootstrap import bootstrap_scores, paired_brier_difference
from riskcast.evaluation.calibration_metrics import reliability_table
from riskcast.evaluation.metrics import score_predictions
from riskcast.features.families import columns_by_family
from riskcast.jobs import stages
from riskcast.outputs import BlockPanel
from riskcast.scale import backend_for
from riskcast.tracking.runs import setup_mlflow, tracking_uri

__all__ = [
    "evaluate",
    "ablation",
    "metrics_with_intervals",
    "backtest_all",
    "Backtested",
    "ABLATION",
    "PARTS",
    "open_tracking",
]

#: the ablation's group (and model-name prefix) in :func:`backtest_all`
ABLATION = "ablation"


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
    return run_ablation(
        panel,
        *_ablation_args(cfg),
        b.horizons,
        reference_model=stages.models_for(cfg)["climatology"],
        backtest_kwargs=dict(
            **stages.backtest_kwargs(cfg), n_jobs=b.n_jobs, progress=progress, timings=timings
        ),
    )


def _ablation_args(cfg: Config) -> tuple[dict, Callable]:
    """The full feature set's columns by family, and the ablation model with other columns."""
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

    return columns_by_family(full.features), make


@dataclass
class Backtested:
    """What :func:`backtest_all` forecast and scored, filled part by part."""

    #: P(any attack): every model of the set, and its tables (``evaluate``, plus ``ablation``)
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: every intensity target, with a ``target`` column (empty frames when there is none)
    intensity_predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    intensity_metrics: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: seconds this process spent scoring each part (``metrics``, ``intensity``, ``ablation``),
    #: while the workers went on with the forecasts of the others
    seconds: dict[str, float] = field(default_factory=dict)


#: the parts of a run's backtest, in the order their tasks are dispatched
PARTS = ("any", "intensity", ABLATION)


def backtest_all(
    cfg: Config,
    panel: pd.DataFrame | BlockPanel,
    progress: Callable[[float], None] | None = None,
    timings: dict | None = None,
    on_part: Callable[[str, Backtested], None] | None = None,
) -> Backtested:
    """P(any attack), the intensity targets and the ablation in one backtest: one pool of
    workers, the longest tasks first, and each part scored here as soon as its last forecast is
    in, while the workers go on with the others; ``on_part(part, result so far)`` then runs
    (parts: ``PARTS``; a run writes that part's tables there).

    The forecasts are those of backtesting each part on its own (``stages.backtest``,
    :func:`riskcast.jobs.intensity.backtest_intensity`, :func:`ablation`), byte for byte: the
    same folds, targets and cadences, and every model reads only its own columns. Model names
    are the main set's, ``<target>:<model>`` and ``ablation:<variant>``; ``timings`` receives
    each one's worker seconds.
    """
    b = cfg.backtest
    result = Backtested()
    if isinstance(panel, BlockPanel):
        return _backtest_blocks(cfg, panel, progress, timings, on_part, result)
    main = stages.models_for(cfg)
    kwargs = stages.backtest_kwargs(cfg)
    cadences = kwargs.pop("refit_overrides") or {}  # the set's own, by model name
    overrides = dict(cadences)
    names = stages.intensity_names(cfg)
    models, targets, groups = dict(main), {}, {"any": list(main)}
    for target in names:
        own = {f"{target}:{n}": m for n, m in stages.models_for(cfg, target).items()}
        overrides.update({f"{target}:{n}": k for n, k in cadences.items() if f"{target}:{n}" in own})
        models.update(own)
        targets.update(dict.fromkeys(own, target))
        groups[target] = list(own)
    spec: AblationModels | None = None
    if b.ablation:  # the variants keep the run's cadence: the set's own cadences are by name
        spec = ablation_models(panel, *_ablation_args(cfg), reference_model=main["climatology"])
        own = {f"{ABLATION}:{n}": m for n, m in spec.models.items()}
        models.update(own)
        groups[ABLATION] = list(own)
    if len(models) != sum(len(g) for g in groups.values()):
        raise ConfigError(
            f"model names of set {cfg.model.set!r} clash with '<target>:<model>' names", key="model.set"
        )
    intensity: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}

    def score(group: str, preds: pd.DataFrame) -> None:
        start = time.perf_counter()
        if group == "any":
            result.predictions = preds
            result.tables.update(evaluate(cfg, preds))
            part = "metrics"
        elif group == ABLATION:
            result.tables["ablation"] = ablation_from_predictions(
                _own(preds, group), spec.variants, spec.skipped
            )
            part = "ablation"
        else:
            p = _own(preds, group)
            intensity[group] = (p.assign(target=group), metrics_with_intervals(cfg, p).assign(target=group))
            part = "intensity"
            if len(intensity) == len(names):
                result.intensity_predictions = pd.concat([intensity[t][0] for t in names], ignore_index=True)
                result.intensity_metrics = pd.concat([intensity[t][1] for t in names], ignore_index=True)
        result.seconds[part] = result.seconds.get(part, 0.0) + time.perf_counter() - start
        if on_part is not None and (part != "intensity" or len(intensity) == len(names)):
            on_part("intensity" if part == "intensity" else group, result)

    backend_for(cfg.compute, b.n_jobs).backtest(
        panel,
        stages.feature_columns(panel),
        models,
        b.horizons,
        **kwargs,
        refit_overrides=overrides,
        targets=targets,
        groups=groups,
        on_group=score,
        progress=progress,
        timings=timings,
    )
    return result


def _backtest_blocks(
    cfg: Config, panel: BlockPanel, progress, timings, on_part, result: Backtested
) -> Backtested:
    """A panel kept in the Dask workers' block files: P(any attack) only, by the block backtest
    (the intensity targets are refused when such a panel is built)."""
    if cfg.backtest.ablation:
        raise ConfigError(
            "the ablation needs the panel in memory: set backtest.ablation = false or compute.panel = 'gathered'",
            key="backtest.ablation",
        )
    result.predictions, _ = stages.backtest(cfg, panel, progress=progress, timings=timings)
    start = time.perf_counter()
    result.tables.update(evaluate(cfg, result.predictions))
    result.seconds["metrics"] = time.perf_counter() - start
    if on_part is not None:
        on_part("any", result)
    return result


def open_tracking(cfg: Config, out: Path) -> threading.Thread:
    """Open the run's MLflow store and experiment in a thread, while the backtest computes.

    A new SQLite store runs its migrations, commit by commit: 4-5 s, of which 1.5 s of CPU and
    the rest waiting on the disk, which the backtest's workers need not wait for. ``join`` the
    thread before logging; a failure here is left to the logging to report.
    """

    def open_store() -> None:
        try:
            setup_mlflow(
                tracking_uri(cfg.tracking.uri, out), cfg.tracking.experiment, out, cfg.tracking.registry_uri
            )
        except Exception:  # noqa: BLE001 - the backtest's own logging opens the store again and says why
            pass

    thread = threading.Thread(target=open_store, name="riskcast-open-tracking", daemon=True)
    thread.start()
    return thread


def _own(preds: pd.DataFrame, group: str) -> pd.DataFrame:
    """A group's predictions under their own model names (``k5:logistic`` -> ``logistic``)."""
    return preds.assign(model=preds["model"].str.removeprefix(f"{group}:"))
