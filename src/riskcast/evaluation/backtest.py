"""Rolling-origin backtest: every model, every horizon, the same folds."""

from __future__ import annotations

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
) -> pd.DataFrame:
    """Fit each model at each origin on the rows known then; predict the origin's units.

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
            (h, name, model, folds, targets, {t: models[t] for t in twins.get(name, [])})
            for name, model in models.items()
            if name not in derived
        ]
    step = {h: n_origins[h] / max(len(models) - len(derived), 1) for h in horizons}
    out = []
    if n_jobs == 1:
        for task in tasks:
            out.append(_task(X_all, keys, months, *task))
            if progress:
                progress(step[task[0]])
    else:
        run = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_task)(X_all, keys, months, *task) for task in tasks
        )
        for (h, *_), frame in zip(tasks, run):
            out.append(frame)
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


def _task(X_all, keys, months, h, name, model, folds, targets, derived=None) -> pd.DataFrame:
    """One model at one horizon over every fold (and the ``derived`` models built on its fits)."""
    y_any, y_cnt = targets
    out = []
    # Each fit is small (thousands of rows, tens of columns): BLAS threads cost more in
    # start-up and contention than they save (measured 17x slower with 2 threads), so
    # every fit runs single-threaded.
    est = None
    with threadpool_limits(limits=1):
        for (
            train,
            test,
        ) in folds:  # in origin order: each fit may follow the previous one (Tuned.search_every)
            train = train[~np.isnan(y_any[train])]
            frame = keys.iloc[test].rename(columns={"month": "origin"})
            frame["target_month"] = frame["origin"] + pd.DateOffset(months=h)
            frame["horizon"] = h
            frame["y_true"] = y_any[test]
            frame["y_count"] = y_cnt[test]
            frame["model"] = name
            est = fit_model(
                model, X_all.iloc[train], y_any[train], y_cnt[train], months[train], h, previous=est
            )
            for col, values in predict_frame(est, X_all.iloc[test]).items():
                frame[col] = values
            out.append(frame)
            for twin_name, twin in (derived or {}).items():
                twin_est = (
                    clone(twin)
                    .set_params(horizon=h)
                    .fit_on(est, X_all.iloc[train], y_any[train], y_cnt[train])
                )
                out.append(frame.assign(model=twin_name, **predict_frame(twin_est, X_all.iloc[test])))
    return pd.concat(out, ignore_index=True)
