"""Rolling-origin backtest: every model, every horizon, the same folds."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import NamedTuple

import joblib
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from riskcast.evaluation.splits import RollingOriginSplit
from riskcast.features.targets import count_column, target_column
from riskcast.models.outputs import QUANTILES, predict_outputs

__all__ = ["run_backtest", "fit_model", "predict_frame", "start_workers", "PREDICTION_COLUMNS", "QUANTILES"]

PREDICTION_COLUMNS = [
    "unit_id",
    "unit_name",
    "country",
    "origin",
    "target_month",
    "horizon",
    "model",
    "y_true",
    "p",
    "expected_count",
    "q10",
    "q50",
    "q90",
    "y_count",
]


def fit_model(
    model, X: pd.DataFrame, y: np.ndarray, y_count: np.ndarray | None, months, horizon: int, previous=None
):
    """Clone and fit ``model`` for one horizon (the backtest and the final fit share this).

    Models with a ``horizon`` parameter get it, so an internal temporal hold-out (calibration,
    ensemble weights) keeps the same gap between its fitting rows and its held-out rows.
    ``previous`` is the same model's fit at the preceding origin; a model that can reuse part of
    it (``follow``: ``Tuned``'s hyper-parameter search) is told of it.
    """
    est = clone(model)
    if "horizon" in est.get_params(deep=False):
        est.set_params(horizon=horizon)
    if previous is not None and hasattr(est, "follow"):
        est.follow(previous)
    return est.fit(
        X, y, y_count=y_count, months=None if months is None else np.asarray(months, dtype="datetime64[ns]")
    )


def predict_frame(est, X: pd.DataFrame, outputs: tuple | None = None) -> dict[str, np.ndarray]:
    """p, expected count and count quantiles of a fitted model (NaN where it has no count head).

    ``outputs``: the model's ``predict_outputs`` on X when the caller has them already.
    """
    p, count, q = predict_outputs(est, X, QUANTILES) if outputs is None else outputs
    out = {"p": p, "expected_count": count}
    for i, name in enumerate(("q10", "q50", "q90")):
        out[name] = np.asarray(q, dtype=float)[:, i]
    return out


def run_backtest(
    panel: pd.DataFrame,
    feature_cols: list[str],
    models: dict,
    horizons: tuple[int, ...],
    *,
    min_train_months: int,
    eval_months: int,
    window: str = "expanding",
    sliding_months: int = 60,
    eval_start=None,
    n_jobs: int = 1,
    progress: Callable[[float], None] | None = None,
    target: str = "any",
    targets: Mapping[str, str] | None = None,
    groups: Mapping[str, Collection[str]] | None = None,
    on_group: Callable[[str, pd.DataFrame], None] | None = None,
    refit_every: int = 1,
    refit_overrides: dict[str, int] | None = None,
    timings: dict | None = None,
) -> pd.DataFrame:
    """Fit each model at each origin on the rows known then; predict the origin's units.

    ``refit_every`` (origins): fit at the first origin and every k-th after it, and predict the
    origins in between with the latest fit, as skforecast's ``refit`` and VIEWS's step-ahead
    models do. A fit made at origin o trained on rows t <= o - h only; the origins after it add
    their own (newer) feature rows, never targets the fit could not have seen, so nothing
    leaks: a later origin is forecast by an older model, no more. 1 refits at every origin.
    A model with ``always_refit`` (the baselines: their fits cost nothing, and the reference of
    every skill score should not change with the cadence) is refitted at every origin.
    ``refit_overrides`` gives some models a cadence of their own (``{name: k}``: LightGBM's
    trees go stale faster than the linear models' coefficients where conflict grows fast).
    ``timings``, when given, receives the seconds each model took (summed over horizons; 0 for a
    model whose forecasts another model's task gave, see below).

    ``target`` names the 0/1 target (``any``: at least one attack; or an intensity target) whose
    ``target_<target>_h<h>`` column is forecast, with its count column for the count heads;
    ``targets`` gives some models another (``{name: target}``), so that several backtests
    (P(any attack), the ablation, the intensity targets) share one pool of workers.

    ``groups`` (``{group: model names}``) with ``on_group``: as soon as every task of a group's
    models is in, ``on_group(group, its predictions)`` runs in this process while the workers
    go on with the other tasks (a run scores P(any attack) while its intensity targets fit).
    The tasks are dispatched group by group, the longest first within a group (LightGBM's
    cadence of 2 before the others, the baselines' quick fits last) so the pool ends together.

    Every (horizon, model) pair is an independent task over the same folds; with ``n_jobs``
    != 1 the tasks run in joblib worker processes (-1 = one per core). Each task is
    deterministic, so the predictions are identical for any ``n_jobs``; two models of the same
    spec, target and cadence are therefore one task, whose predictions both names carry.

    Returns one row per unit, origin, horizon and model (see ``PREDICTION_COLUMNS``).
    """
    X_all = _one_block(panel, feature_cols)
    months = pd.DatetimeIndex(panel["month"])
    keys = panel[["unit_id", "unit_name", "country", "month"]]
    target_of = {name: (targets or {}).get(name, target) for name in models}
    twins = shared_fits(models, target_of)
    derived = {t for ts in twins.values() for t in ts}  # fitted inside their base's task
    cadence = {name: (refit_overrides or {}).get(name, refit_every) for name in models}
    if min(cadence.values(), default=1) < 1:
        raise ValueError(f"refit_every must be >= 1 origin, not {min(cadence.values())!r}")
    group_of = {m: g for g, names in (groups or {}).items() for m in names}
    group_order = {g: i for i, g in enumerate(groups or {})}
    tasks, n_origins = [], {}
    for h in horizons:
        splitter = RollingOriginSplit(h, min_train_months, eval_months, window, sliding_months, eval_start)
        folds = list(splitter.split(X_all, groups=months))  # raises SplitError before any work
        n_origins[h] = len(folds)
        y = {
            t: (
                panel[target_column(t, h)].to_numpy(dtype=float),
                panel[count_column(t, h)].to_numpy(dtype=float),
            )
            for t in dict.fromkeys(target_of.values())
        }
        tasks += [
            _Task(
                h,
                name,
                model,
                folds,
                y[target_of[name]],
                {t: models[t] for t in twins.get(name, [])},
                cadence[name],
            )
            for name, model in models.items()
            if name not in derived
        ]
    step = {h: n_origins[h] / max(len(models) - len(derived), 1) for h in horizons}
    tasks.sort(
        key=lambda t: (
            group_order.get(group_of.get(t.name), len(group_order)),
            bool(getattr(t.model, "always_refit", False)),
            t.refit_every,
        )
    )
    copies = _same_tasks(tasks, target_of)
    run = [i for i in range(len(tasks)) if i not in copies]
    if n_jobs == 1:
        results = (_task(i, X_all, keys, months, *tasks[i]) for i in run)
    else:  # as they finish: a group's on_group need not wait for tasks dispatched before its last
        results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
            delayed(_task)(i, X_all, keys, months, *tasks[i]) for i in run
        )
    frames: dict[int, pd.DataFrame] = {}
    seconds: dict[int, float] = {}
    members = {g: _by_group(tasks, group_of, g) for g in groups or {}}
    for i, frame, took in results:
        frames[i], seconds[i] = frame, took
        same = [j for j, (original, _) in copies.items() if original == i]
        for j in same:  # an identical task's forecasts, under its own names
            frames[j] = _renamed(frame, copies[j][1])
        if progress:
            progress(step[tasks[i].h] * (1 + len(same)))
        for g in [g for g, idx in members.items() if all(k in frames for k in idx)]:
            del members[g]
            if on_group is not None:
                on_group(g, _collect([frames[k] for k in _by_group(tasks, group_of, g)]))
    if timings is not None:  # in the models' order, whatever order the tasks ran in
        took = {name: 0.0 for name in models if name not in derived}
        for k, t in enumerate(tasks):
            took[t.name] += seconds.get(k, 0.0)
        for name, s in took.items():
            timings[name] = timings.get(name, 0.0) + s
    return _collect([frames[k] for k in range(len(tasks))])


def start_workers(n_jobs: int = -1) -> None:
    """Start the worker processes ``run_backtest(n_jobs=...)`` will use, with the models'
    libraries loaded in them (LightGBM, statsmodels, scikit-learn: 2-3 s a process).

    joblib keeps its workers between calls, so a run that calls this in a thread as it starts
    overlaps that loading with its own imports and ingestion instead of waiting for it when the
    backtest begins.
    """
    n = joblib.effective_n_jobs(n_jobs)
    if n > 1:
        Parallel(n_jobs=n_jobs)(delayed(_ready)() for _ in range(n))


def _ready() -> None:
    """Nothing: unpickling it makes a worker import this module, and with it ``riskcast.models``."""


def _one_block(panel: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """``panel[cols]`` as one 2-D array when the columns share a dtype.

    A panel assembled column by column (``stages.build_feature_panel``) keeps one array per
    column, and every fold's ``iloc`` then copies 60-odd arrays one by one: 1.1 against 0.25 ms
    on Mali's cercles, over the ~8,000 row selections of a run. One array also travels to the
    workers as one memory-mapped file instead of being pickled with every task.
    """
    dtypes = {panel[c].dtype for c in cols}
    if len(dtypes) != 1 or not isinstance(next(iter(dtypes)), np.dtype):
        return panel[cols]
    # columns x rows, as pandas lays out a block: the matrices the models take from it are then
    # laid out as before too (F-ordered), and BLAS products round alike to the last bit
    values = np.empty((len(cols), len(panel)), dtype=next(iter(dtypes)))
    for j, c in enumerate(cols):  # column by column: no second copy of the whole frame
        values[j] = panel[c].to_numpy()
    return pd.DataFrame(values.T, index=panel.index, columns=pd.Index(cols), copy=False)


class _Task(NamedTuple):
    """One model (and its twins) at one horizon over every fold."""

    h: int
    name: str
    model: object
    folds: list
    targets: tuple[np.ndarray, np.ndarray]
    derived: dict
    refit_every: int


def _same_tasks(tasks: list[_Task], target_of: Mapping[str, str]) -> dict[int, tuple[int, dict[str, str]]]:
    """Tasks that repeat an earlier one (same horizon, target, spec and cadence, and the same
    twins or none): ``{index: (index of the earlier task, {its model names: this task's})}``.
    The ablation's reference climatology and its full variant are the main backtest's
    climatology and ablation model, for instance."""
    seen: dict[str, tuple[int, str]] = {}
    out = {}
    for i, t in enumerate(tasks):
        key = joblib.hash((t.h, target_of[t.name], t.model, t.refit_every), hash_name="md5")
        twins = joblib.hash(list(t.derived.values()), hash_name="md5")
        if key in seen and (not t.derived or seen[key][1] == twins):
            first = tasks[seen[key][0]]
            names = [first.name, *first.derived] if t.derived else [first.name]
            out[i] = (seen[key][0], dict(zip(names, [t.name, *t.derived])))
        elif key not in seen:
            seen[key] = (i, twins)
    return out


def _renamed(frame: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """The rows of the models ``names`` keys, under its values."""
    return frame[frame["model"].isin(list(names))].assign(model=lambda f: f["model"].map(names))


def _collect(frames: list[pd.DataFrame]) -> pd.DataFrame:
    preds = pd.concat(frames, ignore_index=True)[PREDICTION_COLUMNS]
    return preds.sort_values(["model", "horizon", "origin", "unit_id"], kind="stable").reset_index(drop=True)


def shared_fits(models: dict, target_of: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """Models that can reuse another model's fits: ``{base name: [names of models built on it]}``.

    A model with ``fit_on`` (``Shrunk``) whose ``estimator`` is an identical spec of another
    model in the set, forecasting the same target (``target_of``, by name; one target when
    None), needs no fit of its own: the backtest fits the base once per fold and completes its
    twin around that fit (``fit_on``, then ``predict_on`` from the base's forecasts), so the
    logistic and the shrunk logistic cost one.
    """
    target_of = target_of or {}
    hashes = {name: joblib.hash(model) for name, model in models.items()}
    twins: dict[str, list[str]] = {}
    for name, model in models.items():
        base = getattr(model, "estimator", None)
        if not hasattr(model, "fit_on") or base is None:
            continue
        key = joblib.hash(base)
        match = next(
            (
                other
                for other, hsh in hashes.items()
                if hsh == key and other != name and target_of.get(other) == target_of.get(name)
            ),
            None,
        )
        if match is not None and not hasattr(
            models[match], "fit_on"
        ):  # a base that is fitted in its own task
            twins.setdefault(match, []).append(name)
    return twins


def _by_group(tasks: list[_Task], group_of: Mapping[str, str], group: str) -> list[int]:
    return [k for k, t in enumerate(tasks) if group_of.get(t.name) == group]


def _task(
    index, X_all, keys, months, h, name, model, folds, targets, derived=None, refit_every=1
) -> tuple[int, pd.DataFrame, float]:
    """One model at one horizon over every fold (and the ``derived`` models built on its fits):
    (``index``, predictions, seconds it took in its process); ``index`` says which task it was,
    since the results come back as they finish."""
    start = time.perf_counter()
    y_any, y_cnt = targets
    tests = [test for _, test in folds]
    rows = np.concatenate(tests) if tests else np.array([], dtype=int)
    # the keys of every fold at once: one frame per task, not one per fold
    frame = keys.iloc[rows].rename(columns={"month": "origin"}).reset_index(drop=True)
    frame["target_month"] = (frame["origin"].dt.to_period("M") + h).dt.to_timestamp()
    frame["horizon"] = h
    frame["y_true"] = y_any[rows]
    frame["y_count"] = y_cnt[rows]
    names = [name, *(derived or {})]
    preds = {n: [] for n in names}
    # Each fit is small (thousands of rows, tens of columns): BLAS threads cost more in
    # start-up and contention than they save (measured 17x slower with 2 threads), so
    # every fit runs single-threaded.
    est, twin_ests = None, {}
    with threadpool_limits(limits=1):
        # in origin order: each fit may follow the previous one (Tuned.search_every), and
        # between refits the latest fit forecasts (refit_every)
        for i, (train, test) in enumerate(folds):
            if est is None or i % refit_every == 0 or getattr(model, "always_refit", False):
                train = train[~np.isnan(y_any[train])]
                X, y, c = X_all.iloc[train], y_any[train], y_cnt[train]
                est = fit_model(model, X, y, c, months[train], h, previous=est)
                twin_ests = {
                    t: clone(twin).set_params(horizon=h).fit_on(est, X, y, c)
                    for t, twin in (derived or {}).items()
                }
            X_test = X_all.iloc[test]
            outputs = predict_outputs(est, X_test, QUANTILES)
            preds[name].append(predict_frame(est, X_test, outputs))
            for t, twin_est in twin_ests.items():  # a twin's forecast is built on its base's
                preds[t].append(
                    predict_frame(twin_est, X_test, twin_est.predict_on(outputs, X_test, QUANTILES))
                )
    out = []
    for n in names:
        block = frame.assign(model=n)
        for col in ("p", "expected_count", "q10", "q50", "q90"):
            block[col] = np.concatenate([p[col] for p in preds[n]]) if preds[n] else np.array([], dtype=float)
        out.append(block)
    return index, pd.concat(out, ignore_index=True), time.perf_counter() - start
