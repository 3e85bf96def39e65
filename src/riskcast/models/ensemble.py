"""A weighted ensemble whose weights are learned on held-out later months: ``Ensemble``.

Weights are never learned on the rows the members were fitted on (in-sample, the most flexible
member always wins). The hold-out is the one of :func:`riskcast.models.calibration.temporal_holdout`:
members are fitted on the early rows, predict the last ``calib_months`` origin months, and the
weights minimise the Brier score of the weighted mean there.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import optimize
from sklearn.base import ClassifierMixin, clone
from sklearn.utils.metaestimators import _BaseComposition

from riskcast.models._dist import ParamNames
from riskcast.models.calibration import (
    METHODS,
    apply_calibrator,
    delegate,
    fit_calibrator,
    fit_estimator,
    temporal_holdout,
)
from riskcast.models.outputs import QUANTILES, predict_outputs

__all__ = ["Ensemble", "simplex_brier_weights"]

log = logging.getLogger(__name__)


def simplex_brier_weights(P: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to 1 that minimise ``mean((P @ w - y) ** 2)``.

    A small quadratic programme, solved by SLSQP from equal weights (deterministic). Members
    whose predictions are not all finite get weight 0.
    """
    P, y = np.asarray(P, dtype=float), np.asarray(y, dtype=float)
    k = P.shape[1]
    ok = np.all(np.isfinite(P), axis=0)
    if not ok.any():
        raise ValueError("no ensemble member gave finite predictions on the validation rows")
    Q = P[:, ok]
    m = Q.shape[1]
    w0 = np.full(m, 1.0 / m)

    def loss(w):
        r = Q @ w - y
        return float(r @ r) / len(y), 2.0 * (Q.T @ r) / len(y)

    res = optimize.minimize(
        loss,
        w0,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}],
        options={"ftol": 1e-12, "maxiter": 200},
    )
    # Weights at solver noise (1e-16) would still cost a member refit: snap them to zero.
    w = np.where(res.x > 1e-6, res.x, 0.0)
    w = w / w.sum() if w.sum() > 0 else w0
    if loss(w)[0] > loss(w0)[0]:  # a failed solve must never do worse than the plain mean
        w = w0
    out = np.zeros(k)
    out[ok] = w
    return out


def _weighted_mean(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mean over the last axis (members), skipping NaN members entry by entry."""
    finite = np.isfinite(values)
    num = np.where(finite, values * w, 0.0).sum(axis=-1)
    den = np.where(finite, w, 0.0).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


class Ensemble(ParamNames, ClassifierMixin, _BaseComposition):
    """Weighted mean of member models' P(attack), weights learned on the last ``calib_months``.

    ``members`` is a list of ``(name, estimator)``; nested parameters work as in a Pipeline
    (``set_params(logistic__C=0.1)``). After the weights (and, with ``method`` set, a
    calibrator of the weighted mean on the same validation rows) are learned, members with a
    non-zero weight are refitted on all rows. When no validation split is possible (too few
    months or rows, one class only) the weights are equal, there is no calibration, and
    ``weights_note_`` says why.

    Counts: weighted mean of the members' expected counts (members without a count head are
    skipped, the rest reweighted). Quantiles: weighted mean of member quantiles ("Vincentization"),
    rounded to whole counts: sharper than the quantiles of the mixture, monotone in ``q``.
    Contributions: those of the highest-weight member that has them, unweighted, on that
    member's own link scale (``contributions_member_``); mixing members would add logit and
    log-count numbers.
    """

    _param_choices = {"method": (*METHODS, "none", None)}

    def __init__(
        self, members: list, calib_months: int = 24, horizon: int = 1, method: str | None = "isotonic"
    ) -> None:
        self.members = members
        self.calib_months = calib_months
        self.horizon = horizon
        self.method = method

    def get_params(self, deep: bool = True) -> dict:
        return self._get_params("members", deep=deep)

    def set_params(self, **params) -> "Ensemble":
        self._set_params("members", **params)
        return self

    def fit(self, X: pd.DataFrame, y, y_count=None, months=None) -> "Ensemble":
        if months is None:
            raise ValueError(
                "Ensemble.fit needs months= (the origin month of every row) to learn its weights on later months"
            )
        if not self.members:
            raise ValueError("Ensemble needs at least one member")
        if self.method not in (*METHODS, "none", None):
            raise ValueError(
                f"Ensemble: method must be one of {METHODS}, 'none' or None, not {self.method!r}"
            )
        self._validate_names([n for n, _ in self.members])
        self.classes_ = np.array([0.0, 1.0])
        self.n_features_in_ = X.shape[1]
        y = np.asarray(y, dtype=float)
        names = [n for n, _ in self.members]
        fit_idx, val_idx, reason = temporal_holdout(months, self.calib_months, self.horizon)
        if reason is None and len(np.unique(y[val_idx])) < 2:
            reason = f"the {len(val_idx)} validation rows hold one class only"
        self.calibrator_ = None
        if reason is None:
            P = np.column_stack(
                [
                    fit_estimator(
                        clone(est), X, y, y_count, months, self.horizon, fit_idx, proba_only=True
                    ).predict_proba(X.iloc[val_idx])[:, 1]
                    for _, est in self.members
                ]
            )
            w = simplex_brier_weights(P, y[val_idx])
            self.weights_note_ = f"Brier-optimal on {len(val_idx)} validation rows (members fitted on {len(fit_idx)} earlier rows)"
            if self.method not in (None, "none"):  # "none": TOML has no null
                cal = fit_calibrator(P @ w, y[val_idx], self.method)
                if isinstance(cal, str):
                    self.weights_note_ += f"; uncalibrated: {cal}"
                else:
                    self.calibrator_ = cal
                    self.weights_note_ += f"; {self.method}-calibrated on the same rows"
        else:
            w = np.full(len(names), 1.0 / len(names))
            self.weights_note_ = f"equal weights, uncalibrated: {reason}"
            log.info("Ensemble: %s", self.weights_note_)
        self.weights_ = dict(zip(names, (float(v) for v in w)))
        # Zero-weight members cannot change any output: skip their refit (it is the slow part).
        self.fitted_ = [
            (n, fit_estimator(clone(est), X, y, y_count, months, self.horizon), wt)
            for (n, est), wt in zip(self.members, w)
            if wt > 0
        ]
        # Contributions are additive on one model's own link scale: take the heaviest member that has them.
        ranked = sorted(self.fitted_, key=lambda t: -t[2])
        self.contributions_member_ = next((n for n, est, _ in ranked if hasattr(est, "contributions")), None)
        return self

    @property
    def _w(self) -> np.ndarray:
        return np.array([wt for _, _, wt in self.fitted_])

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        P = np.column_stack([est.predict_proba(X)[:, 1] for _, est, _ in self.fitted_])
        p = _weighted_mean(P, self._w)
        if self.calibrator_ is not None:
            p = apply_calibrator(self.calibrator_, p)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(float)

    def predict_count(self, X: pd.DataFrame) -> np.ndarray:
        C = np.column_stack(
            [np.asarray(delegate(est, "predict_count", X), dtype=float) for _, est, _ in self.fitted_]
        )
        return _weighted_mean(C, self._w)

    def predict_quantiles(self, X: pd.DataFrame, q=(0.1, 0.5, 0.9)) -> np.ndarray:
        Q = np.stack(
            [np.asarray(delegate(est, "predict_quantiles", X, q), dtype=float) for _, est, _ in self.fitted_],
            axis=-1,
        )
        return np.round(_weighted_mean(Q, self._w))

    def predict_outputs(self, X: pd.DataFrame, q=QUANTILES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        outputs = [predict_outputs(est, X, q) for _, est, _ in self.fitted_]
        p = _weighted_mean(np.column_stack([o[0] for o in outputs]), self._w)
        if self.calibrator_ is not None:
            p = apply_calibrator(self.calibrator_, p)
        C = np.column_stack([np.asarray(o[1], dtype=float) for o in outputs])
        Q = np.stack([np.asarray(o[2], dtype=float) for o in outputs], axis=-1)
        return p, _weighted_mean(C, self._w), np.round(_weighted_mean(Q, self._w))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        by_name = {n: est for n, est, _ in self.fitted_}
        est = by_name.get(self.contributions_member_, self.fitted_[0][1])
        return delegate(est, "contributions", X)
