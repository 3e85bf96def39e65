"""Rolling-origin backtest: every model, every horizon, the same folds."""

from __future__ import annotations

import time
from collections.abc import Callable

import joblib
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from riskcast.evaluation.splits import RollingOriginSplit
from riskcast.features.targets import count_column, target_column

__all__ = ["run_backtest", "fit_model", "predict_frame", "PREDICTION_COLUMNS", "QUANTILES"]

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
QUANTILES = (0.1, 0.5, 0.9)


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


def predict_frame(est, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """p, expected count and count quantiles of a fitted model (NaN where it has no count head)."""
    n = len(X)
    out = {"p": est.predict_proba(X)[:, 1]}
    out["expected_count"] = est.predict_count(X) if hasattr(est, "predict_count") else np.full(n, np.nan)
    q = (
        est.predict_quantiles(X, QUANTILES)
        if hasattr(est, "predict_quantiles")
        else np.full((n, len(QUANTILES)), np.nan)
    )
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
    ``timings``, when given, receives the seconds each model took (summed over horizons).

    ``target`` names the 0/1 target (``any``: at least one attack; or an intensity target) whose
    ``target_<target>_h<h>`` column is forecast, with its count column for the count heads.

    Every (horizon, model) pair is an independent task over the same folds; with ``n_jobs``
    != 1 the tasks run in joblib worker processes (-1 = one per core). Each task is
    deterministic, so the predictions are identical for any ``n_jobs``.

    Returns one row per unit, origin, horizon and model (see ``PREDICTION_COLUMNS``).
    """
    X_all = panel[feature_cols]
    months = pd.DatetimeIndex(panel["month"])
    keys = panel[["unit_id", "unit_name", "country", "month"]]
    twins = shared_fits(models)
    derived = {t for ts in twins.values() for t in ts}  # fitted inside their base's task
    cadence = {name: (refit_overrides or {}).get(name, refit_every) for name in models}
    if min(cadence.values(), default=1) < 1:
        raise ValueError(f"refit_every must be >= 1 origin, not {min(cadence.values())!r}")
    tasks, n_origins = [], {}
    for h in horizons:
        splitter = RollingOriginSplit(h, min_train_months, eval_months, window, sliding_months, eval_start)
        folds = list(splitter.split(X_all, groups=months))  # raises SplitError before any work
        n_origins[h] = len(folds)
        targets = (
            panel[target_column(target, h)].to_numpy(dtype=float),
            panel[count_column(target, h)].to_numpy(dtype=float),
        )
        tasks += [
            (h, name, model, folds, targets, {t: models[t] for t in twins.get(name, [])}, cadence[name])
            for name, model in models.items()
            if name not in derived
        ]
    step = {h: n_origins[h] / max(len(models) - len(derived), 1) for h in horizons}
    out = []
    if n_jobs == 1:
        results = (_task(X_all, keys, months, *task) for task in tasks)
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_task)(X_all, keys, months, *task) for task in tasks
        )
    for (h, name, *_), (frame, seconds) in zip(tasks, results):
        out.append(frame)
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + seconds
        if progress:
            progress(step[h])
    preds = pd.concat(out, ignore_index=True)[PREDICTION_COLUMNS]
    return preds.sort_values(["model", "horizon", "origin", "unit_id"], kind="stable").reset_index(drop=True)


def shared_fits(models: dict) -> dict[str, list[str]]:
    """Models that can reuse another model's fits: ``{base name: [names of models built on it]}``.

    A model with ``fit_on`` (``Shrunk``) whose ``estimator`` is an identical spec of another
    model in the set needs no fit of its own: the backtest fits the base once per fold and
    completes its twin around that fit (the logistic and the shrunk logistic cost one).
    """
    hashes = {name: joblib.hash(model) for name, model in models.items()}
    twins: dict[str, list[str]] = {}
    for name, model in models.items():
        base = getattr(model, "estimator", None)
        if not hasattr(model, "fit_on") or base is None:
            continue
        key = joblib.hash(base)
        match = next((other for other, hsh in hashes.items() if hsh == key and other != name), None)
        if match is not None and not hasattr(
            models[match], "fit_on"
        ):  # a base that is fitted in its own task
            twins.setdefault(match, []).append(name)
    return twins


def _task(
    X_all, keys, months, h, name, model, folds, targets, derived=None, refit_every=1
) -> tuple[pd.DataFrame, float]:
    """One model at one horizon over every fold (and the ``derived`` models built on its fits):
    (predictions, seconds it took in its process)."""
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
            preds[name].append(predict_frame(est, X_test))
            for t, twin_est in twin_ests.items():
                preds[t].append(predict_frame(twin_est, X_test))
    out = []
    for n in names:
        block = frame.assign(model=n)
        for col in ("p", "expected_count", "q10", "q50", "q90"):
            block[col] = np.concatenate([p[col] for p in preds[n]]) if preds[n] else np.array([], dtype=float)
        out.append(block)
    return pd.concat(out, ignore_index=True), time.perf_counter() - start
