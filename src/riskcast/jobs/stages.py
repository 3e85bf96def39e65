"""The stages of a run after ingestion: features, backtest, train (+ registry), score.

Each stage is a plain function: tables in, tables out. The run job (``jobs/run.py``) chains
them and writes their outputs atomically.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from riskcast.config import Config
from riskcast.errors import ConfigError
from riskcast.evaluation.metrics import score_predictions
from riskcast.evaluation.splits import RollingOriginSplit
from riskcast.features import Events, Indicator, Rolling
from riskcast.features.base import FeatureContext
from riskcast.features.context import build_context, load_actor_groups
from riskcast.features.spec import FeatureSet, load_feature_set
from riskcast.features.targets import (
    baseline_features_of,
    count_column,
    indicator_of,
    quantity_of,
    shift_ahead,
    target_column,
)
from riskcast.jobs.ingest import Ingested
from riskcast.models import baselines
from riskcast.models.spec import load_model_set, refit_overrides
from riskcast.outputs import BlockPanel
from riskcast.panel import build_panel, month_range, panel_arrays, target_mask, to_month
from riskcast.regions import neighbour_matrix
from riskcast.scale import backend_for, fits_on_blocks

__all__ = [
    "baseline_names",
    "build_feature_panel",
    "build_block_panel",
    "on_blocks",
    "events_outside_panel",
    "backtest",
    "fit_final",
    "feature_columns",
    "feature_sets",
    "model_columns",
    "models_for",
    "feature_definitions",
    "intensity_names",
]

_KEYS = ["unit_id", "unit_name", "country", "month"]


def feature_sets(cfg: Config) -> tuple[FeatureSet, FeatureSet | None]:
    """The run's feature set and the history-only baseline set (declared in features/*.toml)."""
    full = load_feature_set(cfg.features.set)
    base = load_feature_set(cfg.features.baseline_set) if cfg.features.baseline_set else None
    return full, base


def _baseline_features(cfg: Config) -> dict[str, object]:
    """The columns the climatology and persistence baselines read."""
    k = cfg.model.climatology_months
    return {"share": Rolling(k, "mean", Indicator()), "sum": Rolling(k), "current": Events()}


def _intensity_baselines(cfg: Config) -> dict[str, dict[str, object]]:
    """Per intensity target, the columns its climatology and persistence read."""
    return {t.name: baseline_features_of(t, cfg.model.climatology_months) for t in cfg.target.intensity}


def _feature_list(cfg: Config):
    full, base = feature_sets(cfg)
    feats = list(full.features)
    names = {x.name for x in feats}
    extras = [f for cols in _intensity_baselines(cfg).values() for f in cols.values()]
    for extra in [*(base.features if base else []), *_baseline_features(cfg).values(), *extras]:
        if extra.name not in names:
            names.add(extra.name)
            feats.append(extra)
    return feats


def feature_definitions(cfg: Config) -> dict[str, str]:
    """Every panel feature column with its definition in plain words."""
    return {f.name: f.describe() for f in _feature_list(cfg)}


def model_columns(cfg: Config, target: str = "any") -> dict[str, object]:
    """Which columns each model reads: the full set, the history-only set, the baselines'.

    For an intensity target the baselines read the target's own climatology and indicator, and
    the full and history-only models read those two columns as well.
    """
    full, base = feature_sets(cfg)
    b = _baseline_features(cfg) if target == "any" else _intensity_baselines(cfg)[target]
    own = [] if target == "any" else [b["share"].name, b["current"].name]
    return {
        "full": [*full.columns, *own],
        "history": [*base.columns, *own] if base else None,
        "share": b["share"].name,
        "sum": b["sum"].name,
        "current": b["current"].name,
    }


def models_for(cfg: Config, target: str = "any") -> dict:
    """The run's models, declared in ``models/<cfg.model.set>.toml``; every one is backtested.

    For an intensity target: the set's baselines and ``model.intensity_models``.
    """
    cols = model_columns(cfg, target)
    columns = {"full": list(cols["full"]), "history": list(cols["history"]) if cols["history"] else None}
    baseline = {"share": cols["share"], "sum": cols["sum"], "current": cols["current"]}
    models = load_model_set(cfg.model.set, columns, baseline, climatology_window=cfg.model.climatology_months)
    if cfg.model.champion != "auto" and cfg.model.champion not in models:
        raise ConfigError(
            f"model.champion {cfg.model.champion!r} is not a model of set {cfg.model.set!r} ({', '.join(models)})",
            key="model.champion",
        )
    unknown = [m for m in cfg.model.intensity_models if m not in models]
    if unknown and cfg.target.intensity:
        raise ConfigError(
            f"model.intensity_models {unknown} are not models of set {cfg.model.set!r} ({', '.join(models)})",
            key="model.intensity_models",
        )
    if target != "any":
        keep = set(_baseline_names(models)) | set(cfg.model.intensity_models)
        models = {n: m for n, m in models.items() if n in keep}
        for name, model in models.items():
            parts = [model, *(v for v in model.get_params(deep=True).values() if hasattr(v, "get_params"))]
            if any(getattr(p, "_proba_from_count", False) for p in parts):
                raise ConfigError(
                    f"model.intensity_models: {name!r} forecasts P(count >= 1) from its count head, "
                    f"not the 0/1 intensity target {target!r}; choose a classifier (logistic, lgbm)",
                    key="model.intensity_models",
                )
    return models


def _baseline_names(models: dict) -> list[str]:
    return [n for n, m in models.items() if type(m).__module__ == baselines.__name__]


def intensity_names(cfg: Config) -> list[str]:
    """The configured intensity targets, in config order."""
    return [t.name for t in cfg.target.intensity]


def _context(cfg: Config, data: Ingested, months: pd.DatetimeIndex, arrays: dict) -> FeatureContext:
    return build_context(
        units=data.units,
        months=months,
        neighbours=neighbour_matrix(data.units),  # the units were validated when ingested
        arrays=arrays,
        events=data.events,
        presence=data.presence,
        shocks=data.shocks,
        target=cfg.target,
        actor_groups=load_actor_groups(cfg.features.actor_groups),
    )


def _unplaced(ctx: FeatureContext) -> dict[str, dict]:
    """Presence rows and shocks that could not be placed on the grid: counted, never silent."""
    return {
        kind: dict(getattr(ctx, kind).attrs.get("unplaced", {}))
        for kind in ("presence", "shocks")
        if getattr(ctx, kind) is not None
    }


def on_blocks(cfg: Config) -> bool:
    """Whether the run keeps its panel in the workers' block files (never gathered): on Dask,
    when every model of the set can be fitted from blocks (``compute.panel``)."""
    if cfg.compute.backend != "dask" or cfg.compute.panel == "gathered":
        return False
    unfit = [n for n, m in models_for(cfg).items() if not fits_on_blocks(m)]
    if cfg.compute.panel == "blocks" and unfit:
        raise ConfigError(
            f"compute.panel = 'blocks': models {unfit} of set {cfg.model.set!r} need the whole panel in "
            "memory (only the baselines and LightGBM hurdles are fitted from block files); "
            'choose model.set = "grid" or compute.panel = "auto"',
            key="compute.panel",
        )
    return not unfit


def build_block_panel(cfg: Config, data: Ingested, out_dir) -> BlockPanel:
    """The panel written by the Dask workers, one file per spatial block, into ``out_dir``."""
    if cfg.target.intensity:
        raise ConfigError(
            "intensity targets are not built on a block panel yet: remove [[target.intensity]] or set "
            'compute.panel = "gathered"',
            key="target.intensity",
        )
    if cfg.backtest.ablation:  # refused here, before the features, not after them
        raise ConfigError(
            "the ablation needs the panel in memory: set backtest.ablation = false or compute.panel = 'gathered'",
            key="backtest.ablation",
        )
    months, arrays = panel_arrays(
        data.events, data.units, cfg.target, start=cfg.panel.start, end=cfg.panel.end, counts=data.counts
    )
    ctx = _context(cfg, data, months, arrays)
    backend_for(cfg.compute).write_panel(_feature_list(cfg), ctx, cfg.backtest.horizons, out_dir)
    panel = BlockPanel(out_dir)
    panel.unplaced = _unplaced(ctx)
    return panel


def build_feature_panel(cfg: Config, data: Ingested) -> pd.DataFrame:
    """The region-month panel: keys, observed counts, features and ``target_*`` columns."""
    panel, arrays = build_panel(
        data.events,
        data.units,
        cfg.target,
        cfg.backtest.horizons,
        start=cfg.panel.start,
        end=cfg.panel.end,
        counts=data.counts,
    )
    months = month_range(panel["month"].min(), panel["month"].max())
    ctx = _context(cfg, data, months, arrays)
    feats = backend_for(cfg.compute).features(_feature_list(cfg), ctx)
    unplaced = _unplaced(ctx)
    intensity = {}
    for spec in cfg.target.intensity:  # each target = its indicator (and quantity) at t + h
        hit, quantity = ctx.get(indicator_of(spec)), ctx.get(quantity_of(spec))
        for h in cfg.backtest.horizons:
            intensity[target_column(spec.name, h)] = shift_ahead(hit, h).ravel()
            intensity[count_column(spec.name, h)] = shift_ahead(quantity, h).ravel()
    targets = [c for c in panel.columns if c.startswith("target_")]
    observed = ["n_target", "n_fatalities", "n_all"]
    # Assemble from column arrays: pd.concat(axis=1) would copy every feature into one block
    # (about 7 GB extra on a 10,000-cell x 420-month grid; see benchmarks/README.md).
    columns = {c: panel[c].to_numpy() for c in _KEYS + observed}
    columns.update({c: feats[c].to_numpy() for c in feats.columns})
    columns.update({c: panel[c].to_numpy() for c in targets})
    columns.update(intensity)
    out = pd.DataFrame(columns, copy=False)
    out.attrs["unplaced"] = unplaced
    return out


def events_outside_panel(cfg: Config, data: Ingested, months: pd.DatetimeIndex) -> dict[str, int]:
    """Events read and placed but not counted in the panel of ``months``, by reason (nothing silent)."""
    month = to_month(data.events["date"])
    before = month < months.min()
    after = month > months.max()
    inside = ~(before | after)
    return {
        "before the panel start": int(before.sum()),
        "after the panel end": int(after.sum()),
        "in the window but not a target event (type/actor/fatalities)": int(
            (inside & ~target_mask(data.events, cfg.target)).sum()
        ),
    }


def feature_columns(panel: pd.DataFrame) -> list[str]:
    """Model inputs: every feature column. Keys (unit ids, names, months) never enter."""
    skip = set(_KEYS) | {"n_target", "n_fatalities", "n_all"}
    return [c for c in panel.columns if c not in skip and not c.startswith("target_")]


def n_folds(cfg: Config, panel: pd.DataFrame) -> int:
    """Number of (horizon, origin) folds the backtest will run (for the progress bar)."""
    b = cfg.backtest
    months = panel.months if isinstance(panel, BlockPanel) else panel["month"]
    return sum(
        RollingOriginSplit(
            h, b.min_train_months, b.eval_months, b.window, b.sliding_months, b.eval_start
        ).get_n_splits(groups=months)
        for h in b.horizons
    )


def backtest_kwargs(cfg: Config) -> dict:
    """The ``run_backtest`` arguments the config sets: the folds and the refit cadence."""
    b = cfg.backtest
    return dict(
        min_train_months=b.min_train_months,
        eval_months=b.eval_months,
        window=b.window,
        sliding_months=b.sliding_months,
        eval_start=b.eval_start,
        refit_every=b.refit_every,
        refit_overrides=refit_overrides(cfg.model.set),
    )


def backtest(
    cfg: Config,
    panel: pd.DataFrame,
    progress: Callable[[int], None] | None = None,
    target: str = "any",
    timings: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rolling-origin backtest of every model of ``target`` (P(any attack) by default); returns
    (predictions, metrics). ``timings`` receives each model's seconds."""
    b = cfg.backtest
    common = dict(**backtest_kwargs(cfg), progress=progress, target=target, timings=timings)
    backend = backend_for(cfg.compute, b.n_jobs)
    if isinstance(panel, BlockPanel):
        _require_dask(cfg, panel)
        preds = backend.backtest_blocks(
            panel,
            feature_columns(panel),
            models_for(cfg, target),
            b.horizons,
            unit_order=panel.unit_order(),
            n_jobs=b.n_jobs,
            **common,
        )
    else:
        preds = backend.backtest(panel, feature_columns(panel), models_for(cfg, target), b.horizons, **common)
    return preds, score_predictions(preds)


def _require_dask(cfg: Config, panel: BlockPanel) -> None:
    """A panel in block files is read by the Dask workers: refuse a config without them, in words."""
    if cfg.compute.backend != "dask":
        raise ConfigError(
            f"{panel.path} is a Dask run's folder of block files, read by the cluster's workers: "
            'run with compute.backend = "dask", or rebuild the features (`riskcast features`) with this config',
            key="compute.backend",
        )


def baseline_names(cfg: Config) -> list[str]:
    """Names of the set's baselines (models of ``riskcast.models.baselines``), reference first."""
    names = _baseline_names(models_for(cfg))
    return sorted(names, key=lambda n: (n != "climatology", names.index(n)))


def fit_final(
    cfg: Config, panel: pd.DataFrame, model_name: str | None = None, target: str = "any"
) -> tuple[dict[int, object], dict]:
    """Fit the champion candidate on every row whose target is known, one fit per horizon."""
    base = models_for(cfg, target)[model_name or cfg.model.champion]
    cols = feature_columns(panel)
    backend = backend_for(cfg.compute)
    if isinstance(panel, BlockPanel):
        _require_dask(cfg, panel)
        fits = backend.fit_blocks(
            panel, base, cols, cfg.backtest.horizons, unit_order=panel.unit_order(), target=target
        )
        return (
            {h: est for h, (est, _) in fits.items()},
            {h: (f"{a:%Y-%m}", f"{b:%Y-%m}") for h, (_, (a, b)) in fits.items()},
        )
    fitted, windows = {}, {}
    for h in cfg.backtest.horizons:
        y = panel[target_column(target, h)].to_numpy(dtype=float)
        known = ~np.isnan(y)
        rows = panel[known]
        fitted[h] = backend.fit(
            base,
            rows[cols],
            y[known],
            rows[count_column(target, h)].to_numpy(dtype=float),
            rows["month"],
            h,
            target=target,
        )
        windows[h] = (f"{rows['month'].min():%Y-%m}", f"{rows['month'].max():%Y-%m}")
    return fitted, windows
