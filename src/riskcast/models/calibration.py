"""Probability calibration on a temporal hold-out: ``Calibrated(estimator)``.

The calibration rows are the last ``calib_months`` origin months of the training rows. The base
is fitted only on rows whose target is already observed at the first calibration month (origin
``<= first - horizon``, the same gap rule as :mod:`riskcast.evaluation.splits`), so the
calibrator sees the base's honest out-of-sample errors, never its in-sample optimism.
"""

from __future__ import annotations

import functools
import inspect
import logging

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from riskcast.models._dist import ParamNames
from riskcast.models.outputs import QUANTILES, predict_outputs

__all__ = [
    "Calibrated",
    "temporal_holdout",
    "fit_estimator",
    "fit_grid",
    "fit_calibrator",
    "apply_calibrator",
    "delegate",
]

log = logging.getLogger(__name__)

#: Fewer calibration rows than this (or fewer base-training months) and the hold-out is noise.
MIN_CALIB_ROWS = 30
# A hold-out model fitted on fewer months learns noise: at h = 12 on real Mali cercles a
# 24-month hold-out left 13 months of 2012 to fit on, and the ensemble's Brier skill fell to
# -0.37. Two seasonal cycles is the least we accept; below that the caller falls back.
MIN_BASE_MONTHS = 24
METHODS = ("isotonic", "sigmoid")
# Isotonic steps reach exactly 0 or 1 at the ends; a floor keeps log loss finite (Climatology
# clips at 0.01 for the same reason, this is gentler because the calibrator saw the data).
_EPS = 1e-3


def temporal_holdout(months, calib_months: int, horizon: int) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Row positions (fit, held-out) of a temporal hold-out, or a reason why there is none.

    Held-out rows: the last ``calib_months`` distinct origin months. Fit rows: origin month
    ``<= first held-out month - horizon`` (their targets, ``origin + horizon``, are observed by
    then). Rows in between are used by neither: their targets fall inside the held-out period.

    Returns:
        ``(fit_idx, held_idx, reason)``; ``reason`` is None when the split is usable, else a
        sentence saying why not (then both index arrays are empty).
    """
    if months is None:
        raise ValueError("a temporal hold-out needs months= (the origin month of every row); got None")
    month = pd.DatetimeIndex(pd.to_datetime(np.asarray(months))).to_period("M").to_timestamp()
    distinct = month.unique().sort_values()
    empty = np.array([], dtype=int)
    if calib_months < 1 or horizon < 1:
        return empty, empty, f"calib_months ({calib_months}) and horizon ({horizon}) must be >= 1"
    if len(distinct) <= calib_months:
        return empty, empty, f"only {len(distinct)} origin months, need more than calib_months={calib_months}"
    first = distinct[-calib_months]
    last_fit = first - pd.DateOffset(months=horizon)
    fit_idx = np.flatnonzero(month <= last_fit)
    held_idx = np.flatnonzero(month >= first)
    n_fit_months = int(np.sum(distinct <= last_fit))
    if n_fit_months < MIN_BASE_MONTHS:
        return (
            empty,
            empty,
            (
                f"only {n_fit_months} origin months before {first:%Y-%m} minus the {horizon}-month gap, "
                f"need {MIN_BASE_MONTHS} to fit on"
            ),
        )
    if len(held_idx) < MIN_CALIB_ROWS:
        return empty, empty, f"only {len(held_idx)} held-out rows, need {MIN_CALIB_ROWS}"
    return fit_idx, held_idx, None


def _take(a, idx):
    if a is None:
        return None
    return a.iloc[idx] if isinstance(a, (pd.DataFrame, pd.Series)) else np.asarray(a)[idx]


def fit_estimator(
    est, X, y, y_count=None, months=None, horizon: int | None = None, idx=None, proba_only: bool = False
):
    """Fit ``est`` (in place) on rows ``idx`` (all when None), passing only what its ``fit`` takes.

    Older estimators' ``fit`` accepts neither ``y_count`` nor ``months``; the contract's do.
    A ``horizon`` parameter of ``est`` is set first so nested hold-outs keep the same gap.
    ``proba_only``: the fit is only asked for P(attack) (a hold-out scored by Brier), so an
    estimator whose P does not read the counts (``_proba_needs_count = False``) skips its
    count head: the logistic's Poisson head was 40 % of every tuning fit, for nothing.
    """
    if horizon is not None and "horizon" in est.get_params(deep=False):
        est.set_params(horizon=horizon)
    if proba_only and getattr(est, "_proba_needs_count", True) is False:
        y_count = None
    if idx is not None:
        X, y, y_count, months = _take(X, idx), _take(y, idx), _take(y_count, idx), _take(months, idx)
    accepts = _fit_parameters(type(est))
    kwargs = {}
    if "y_count" in accepts and y_count is not None:
        kwargs["y_count"] = y_count
    if "months" in accepts:
        kwargs["months"] = months
    return est.fit(X, y, **kwargs)


def fit_grid(
    est, param: str, values, X, y, y_count=None, months=None, horizon: int | None = None, idx=None
) -> list:
    """``est`` fitted once per value of ``param`` on rows ``idx``, for P(attack) only (a hold-out
    scored by Brier): ``fit_estimator(clone(est).set_params(param=v), ..., proba_only=True)``
    for each ``v``. An estimator with ``fit_grid`` (``LogisticCount``) does them all at once
    from one validated, scaled matrix, with the same fits to the bit."""
    if horizon is not None and "horizon" in est.get_params(deep=False):
        est = clone(est).set_params(horizon=horizon)
    if hasattr(est, "fit_grid"):
        y_count = None if getattr(est, "_proba_needs_count", True) is False else y_count
        if idx is not None:
            X, y, y_count, months = _take(X, idx), _take(y, idx), _take(y_count, idx), _take(months, idx)
        return est.fit_grid(param, values, X, y, y_count=y_count, months=months)
    return [
        fit_estimator(
            clone(est).set_params(**{param: v}), X, y, y_count, months, horizon, idx, proba_only=True
        )
        for v in values
    ]


@functools.cache
def _fit_parameters(cls: type) -> frozenset[str]:
    """The parameter names of ``cls.fit``: a backtest fits thousands of times, and reading the
    signature each time was 4 % of it."""
    return frozenset(inspect.signature(cls.fit).parameters)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_calibrator(p, y, method: str):
    """A fitted map from raw to calibrated P(attack), or a reason string if it cannot be fitted."""
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {METHODS}, not {method!r}")
    p, y = np.asarray(p, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(p) & np.isfinite(y)
    p, y = p[ok], y[ok]
    if len(np.unique(y)) < 2:
        return (
            f"the {len(y)} calibration rows hold one class only (all {y[0]:.0f})"
            if len(y)
            else "no calibration rows"
        )
    if method == "isotonic":
        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)
    # Platt scaling on the logit: a 2-parameter fix for over/under-confidence; a large C
    # because two parameters on hundreds of rows need no shrinkage.
    return LogisticRegression(C=1e4, solver="lbfgs").fit(_logit(p)[:, None], y)


def apply_calibrator(cal, p: np.ndarray) -> np.ndarray:
    """Calibrated probabilities from a calibrator made by :func:`fit_calibrator`."""
    if isinstance(cal, IsotonicRegression):
        out = cal.predict(p)
    else:
        out = cal.predict_proba(_logit(p)[:, None])[:, 1]
    return np.clip(out, _EPS, 1 - _EPS)


def delegate(est, method: str, X: pd.DataFrame, *args):
    """``est.method(X, *args)``, or NaN of the contract's shape when ``est`` lacks it."""
    fn = getattr(est, method, None)
    if fn is not None:
        return fn(X, *args)
    n = len(X)
    if method == "predict_quantiles":
        return np.full((n, len(args[0]) if args else 3), np.nan)
    if method == "contributions":
        cols = getattr(est, "columns", None)
        cols = list(cols) if cols else list(X.columns)
        return pd.DataFrame(np.nan, index=X.index, columns=[*cols, "bias"])
    return np.full(n, np.nan)


class Calibrated(ParamNames, ClassifierMixin, BaseEstimator):
    """A base model whose P(attack) is recalibrated on its last ``calib_months`` origin months.

    ``method``: ``"isotonic"`` (monotone step map; needs a few hundred rows) or ``"sigmoid"``
    (Platt scaling on the logit). With ``refit=True`` (default) the base is refitted on all
    rows after the calibrator is learned: the recent months are the most informative ones in a
    rolling backtest, and the calibrator corrects the base's systematic shape (over/under
    confidence), which barely changes when a few more months are added. ``refit=False`` keeps
    the exact base the calibrator saw, at the cost of ``calib_months`` fewer training months.

    When no calibration is possible (too few months or rows, one class only in the calibration
    rows) the base is fitted on all rows and used as is; ``calibration_note_`` says why.
    Counts, quantiles and contributions come from the base (contributions are on the base's
    link scale, before calibration).
    """

    _param_choices = {"method": METHODS}

    def __init__(
        self,
        estimator,
        method: str = "isotonic",
        calib_months: int = 24,
        horizon: int = 1,
        refit: bool = True,
    ) -> None:
        self.estimator = estimator
        self.method = method
        self.calib_months = calib_months
        self.horizon = horizon
        self.refit = refit

    def fit(self, X: pd.DataFrame, y, y_count=None, months=None) -> "Calibrated":
        if months is None:
            raise ValueError(
                "Calibrated.fit needs months= (the origin month of every row) for its temporal hold-out"
            )
        if self.method not in METHODS:
            raise ValueError(f"Calibrated: method must be one of {METHODS}, not {self.method!r}")
        self.classes_ = np.array([0.0, 1.0])
        self.n_features_in_ = X.shape[1]
        y = np.asarray(y, dtype=float)
        fit_idx, cal_idx, reason = temporal_holdout(months, self.calib_months, self.horizon)
        self.calibrator_ = None
        if reason is None:
            base = fit_estimator(clone(self.estimator), X, y, y_count, months, self.horizon, fit_idx)
            p_cal = base.predict_proba(X.iloc[cal_idx])[:, 1]
            cal = fit_calibrator(p_cal, y[cal_idx], self.method)
            if isinstance(cal, str):
                reason = cal
            else:
                self.calibrator_ = cal
                cal_months = pd.DatetimeIndex(np.asarray(months)[cal_idx])
                self.calibration_note_ = (
                    f"{self.method} on {len(cal_idx)} rows ({cal_months.min():%Y-%m}..{cal_months.max():%Y-%m}); "
                    f"base fitted on {len(fit_idx)} earlier rows"
                    + ("; base refitted on all rows" if self.refit else "")
                )
        if self.calibrator_ is None:
            self.calibration_note_ = f"uncalibrated: {reason}"
            log.info("Calibrated(%s): %s", type(self.estimator).__name__, self.calibration_note_)
            self.base_ = fit_estimator(clone(self.estimator), X, y, y_count, months, self.horizon)
        elif self.refit:
            self.base_ = fit_estimator(clone(self.estimator), X, y, y_count, months, self.horizon)
        else:
            self.base_ = base
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.base_.predict_proba(X)[:, 1]
        if self.calibrator_ is not None:
            p = apply_calibrator(self.calibrator_, p)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)

    def predict_count(self, X: pd.DataFrame) -> np.ndarray:
        return delegate(self.base_, "predict_count", X)

    def predict_quantiles(self, X: pd.DataFrame, q=(0.1, 0.5, 0.9)) -> np.ndarray:
        return delegate(self.base_, "predict_quantiles", X, q)

    def predict_outputs(self, X: pd.DataFrame, q=QUANTILES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p, count, quantiles = predict_outputs(self.base_, X, q)
        if self.calibrator_ is not None:
            p = apply_calibrator(self.calibrator_, p)
        return p, count, quantiles

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        return delegate(self.base_, "contributions", X)
