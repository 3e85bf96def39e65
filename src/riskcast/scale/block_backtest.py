"""The rolling-origin backtest and the final fit of a run whose panel stays in block files.

The folds, refit cadence and output are :func:`~riskcast.evaluation.backtest.run_backtest`'s.
Two kinds of model, two ways:

* **baselines** read one to three columns: those columns, the keys and the targets are read
  from the blocks into one narrow frame in panel order (about 15 numbers a row; 4.5 M rows of
  an Africa grid are 0.5 GB) and ``run_backtest`` runs on it, so their forecasts are those of
  an in-memory run to the bit;
* the **LightGBM hurdle** is trained on the workers from the block files
  (:mod:`riskcast.scale.block_hurdle`) at each refit origin, and forecasts every unit of the
  origins it serves where the blocks are read.

Nothing dated after an origin reaches its fit: the training window is ``month <= origin - h``,
the rule of :class:`~riskcast.evaluation.splits.RollingOriginSplit`, read by the loaders'
month filters, and a target is known only when its month t + h is in the panel.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pandas.api.types import union_categoricals
from threadpoolctl import threadpool_limits

from riskcast.evaluation.backtest import PREDICTION_COLUMNS, fit_model, run_backtest
from riskcast.evaluation.splits import RollingOriginSplit
from riskcast.features.targets import count_column, target_column
from riskcast.outputs import BlockPanel
from riskcast.scale.block_hurdle import fit_hurdle_on_blocks, predict_on_blocks

__all__ = ["read_narrow", "backtest_on_blocks", "fit_on_blocks", "fit_horizons_on_blocks"]

_KEYS = ["unit_id", "unit_name", "country", "month"]
_NAMES = ["unit_id", "unit_name", "country"]


def read_narrow(panel: BlockPanel, columns: Sequence[str], unit_order: Sequence[str]) -> pd.DataFrame:
    """The keys and ``columns`` of every row, with ``_block`` (the row's file), in panel order
    (units in ``unit_order``, then months): the order an in-memory panel has."""
    cols = list(dict.fromkeys([*_KEYS, *columns]))
    # The key strings as categories: as Python strings, 4.5 M rows x 3 keys are 1 GB of the driver.
    parts = [
        pq.read_table(f, columns=cols, read_dictionary=_NAMES).to_pandas().assign(_block=np.int32(b))
        for b, f in enumerate(panel.files)
    ]
    shared = {c: union_categoricals([p[c] for p in parts], sort_categories=True).categories for c in _NAMES}
    frame = pd.concat(
        [p.assign(**{c: p[c].cat.set_categories(shared[c]) for c in _NAMES}) for p in parts],
        ignore_index=True,
    )
    del parts
    position = pd.Index(list(unit_order)).get_indexer(frame["unit_id"])
    if (position < 0).any():
        raise ValueError(
            f"{panel.path}: unit {frame['unit_id'][position < 0].iloc[0]!r} is not a unit of the run"
        )
    order = np.lexsort((frame["month"].to_numpy(), position))
    return frame.iloc[order].reset_index(drop=True)


def _is_baseline(model) -> bool:
    return getattr(model, "always_refit", False)


def _labels(narrow: pd.DataFrame, target: str, count: str, last, first=None) -> pd.DataFrame:
    """The training window's rows with a known target: ``_block``, ``y``, ``count`` (panel order)."""
    month = narrow["month"]
    keep = (month <= last) & narrow[target].notna()
    if first is not None:
        keep &= month > first
    rows = narrow.loc[keep, ["_block", target, count]]
    return rows.set_axis(["_block", "y", "count"], axis=1)


def _window(origin: pd.Timestamp, h: int, window: str, sliding_months: int):
    last = origin - pd.DateOffset(months=h)
    first = last - pd.DateOffset(months=sliding_months) if window == "sliding" else None
    return last, first


def _lgbm_predictions(
    client, panel, narrow, feature_cols, name, model, h, origins, cadence, split, target, worker
):
    """One LightGBM hurdle at one horizon over every origin, refitted every ``cadence`` origins
    (its fits on ``worker``)."""
    y_col, c_col = target_column(target, h), count_column(target, h)
    frames = []
    for i in range(0, len(origins), cadence):
        last, first = _window(origins[i], h, split["window"], split["sliding_months"])
        est = fit_hurdle_on_blocks(
            client,
            model,
            panel.files,
            _labels(narrow, y_col, c_col, last, first),
            feature_cols,
            target=y_col,
            count=c_col,
            last=last,
            first=first,
            worker=worker,
        )
        served = origins[i : i + cadence]
        frames.append(predict_on_blocks(client, panel.files, served, {name: est}, feature_cols))
    pred = pd.concat(frames, ignore_index=True).rename(columns={"month": "origin"})
    keys = narrow.loc[
        narrow["month"].isin(origins), ["unit_id", "unit_name", "country", "month", y_col, c_col]
    ]
    keys = keys.rename(columns={"month": "origin", y_col: "y_true", c_col: "y_count"})
    keys["unit_id"] = keys["unit_id"].astype(object)
    out = keys.merge(pred, on=["unit_id", "origin"], how="inner", validate="one_to_one")
    out["target_month"] = (out["origin"].dt.to_period("M") + h).dt.to_timestamp()
    out["horizon"] = h
    return out


def backtest_on_blocks(
    client,
    panel: BlockPanel,
    feature_cols: list[str],
    models: dict,
    horizons: tuple[int, ...],
    *,
    unit_order: Sequence[str],
    min_train_months: int,
    eval_months: int,
    window: str = "expanding",
    sliding_months: int = 60,
    eval_start=None,
    refit_every: int = 1,
    refit_overrides: dict[str, int] | None = None,
    progress: Callable[[float], None] | None = None,
    target: str = "any",
    timings: dict | None = None,
    n_jobs: int = -1,
) -> pd.DataFrame:
    """``run_backtest``'s predictions for a panel in block files (see the module's docstring).

    ``models`` may hold baselines and ``LGBMHurdle`` models only; ``unit_order`` is the panel's
    unit order (the ingested units table), which the baselines' rows keep.
    """
    baselines = {n: m for n, m in models.items() if _is_baseline(m)}
    boosted = {n: m for n, m in models.items() if n not in baselines}
    base_cols = sorted({c for m in baselines.values() for c in m._columns()})
    targets = [c for h in horizons for c in (target_column(target, h), count_column(target, h))]
    narrow = read_narrow(panel, [*base_cols, *targets], unit_order)
    split = dict(
        min_train_months=min_train_months,
        eval_months=eval_months,
        window=window,
        sliding_months=sliding_months,
        eval_start=eval_start,
    )
    n_tasks = max(len(baselines) + len(boosted), 1)
    out = []
    if baselines:
        share = len(baselines) / n_tasks
        out.append(
            run_backtest(
                narrow,
                base_cols,
                baselines,
                horizons,
                **split,
                n_jobs=n_jobs,
                progress=(lambda n: progress(n * share)) if progress else None,
                target=target,
                refit_every=refit_every,
                refit_overrides=refit_overrides,
                timings=timings,
            )
        )
    months = narrow["month"].drop_duplicates().sort_values()
    origins = {h: RollingOriginSplit(h, **split).origins(months) for h in horizons}
    tasks = [(h, name, model) for h in horizons for name, model in boosted.items()]
    cadence = {name: (refit_overrides or {}).get(name, refit_every) for name in boosted}
    if min(cadence.values(), default=1) < 1:
        raise ValueError(f"refit_every must be >= 1 origin, not {min(cadence.values())!r}")

    # Each (horizon, model) task fits on one worker at a time; tasks run side by side, one per
    # worker. A task's numbers do not depend on which worker runs it.
    def run(task, worker):
        h, name, model = task
        start = time.perf_counter()
        frame = _lgbm_predictions(
            client,
            panel,
            narrow,
            feature_cols,
            name,
            model,
            h,
            origins[h],
            cadence[name],
            split,
            target,
            worker,
        )
        return frame, time.perf_counter() - start

    for (h, name, _), (frame, seconds) in zip(tasks, _side_by_side(client, run, tasks)):
        out.append(frame)
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + seconds
        if progress:
            progress(len(origins[h]) / n_tasks)
    preds = pd.concat(out, ignore_index=True)[PREDICTION_COLUMNS]
    for c in _NAMES:  # plain strings, as an in-memory backtest gives them
        preds[c] = preds[c].astype(object)
    return preds.sort_values(["model", "horizon", "origin", "unit_id"], kind="stable").reset_index(drop=True)


def fit_on_blocks(
    client,
    panel: BlockPanel,
    model,
    feature_cols: list[str],
    horizon: int,
    *,
    unit_order: Sequence[str],
    target: str = "any",
    worker: str | None = None,
):
    """``model`` fitted for ``horizon`` on every row whose target is known (the final fit), a
    LightGBM hurdle on ``worker``; returns (fitted model, (first, last) month of its training rows)."""
    y_col, c_col = target_column(target, horizon), count_column(target, horizon)
    if _is_baseline(model):
        narrow = read_narrow(panel, [*model._columns(), y_col, c_col], unit_order)
        rows = narrow[narrow[y_col].notna()]
        with threadpool_limits(limits=1):
            est = fit_model(
                model, rows, rows[y_col].to_numpy(dtype=float), rows[c_col].to_numpy(dtype=float),
                rows["month"], horizon,
            )  # fmt: skip
        return est, (rows["month"].min(), rows["month"].max())
    narrow = read_narrow(panel, [y_col, c_col], unit_order)
    last = narrow.loc[narrow[y_col].notna(), "month"].max()
    labels = _labels(narrow, y_col, c_col, last)
    est = fit_hurdle_on_blocks(
        client, model, panel.files, labels, feature_cols, target=y_col, count=c_col, last=last, worker=worker
    )
    first = narrow.loc[narrow[y_col].notna(), "month"].min()
    return est, (first, last)


def fit_horizons_on_blocks(
    client, panel: BlockPanel, model, feature_cols: list[str], horizons, **kwargs
) -> dict:
    """:func:`fit_on_blocks` for every horizon, the horizons side by side, one per worker (a
    fit's numbers do not depend on its worker): ``{h: (fitted, (first, last) month)}``."""
    fits = _side_by_side(
        client,
        lambda h, worker: fit_on_blocks(client, panel, model, feature_cols, h, worker=worker, **kwargs),
        horizons,
    )
    return dict(zip(horizons, fits))


def _side_by_side(client, fn, items) -> list:
    """``fn(item, worker)`` for every item, in threads, each holding one of the client's workers
    while it runs (a fit pinned to its worker); the results in the items' order."""
    free: queue.Queue = queue.Queue()
    for w in sorted(client.scheduler_info(n_workers=-1)["workers"]):
        free.put(w)

    def hold(item):
        worker = free.get()
        try:
            return fn(item, worker)
        finally:
            free.put(worker)

    with ThreadPoolExecutor(max_workers=max(free.qsize(), 1)) as pool:
        return list(pool.map(hold, items))
