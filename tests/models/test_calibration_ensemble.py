"""Calibrated and Ensemble: the temporal hold-out, what calibration and weighting achieve, fallbacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from riskcast.models.baselines import Persistence
from riskcast.models.calibration import Calibrated, temporal_holdout
from riskcast.models.ensemble import Ensemble, simplex_brier_weights
from riskcast.models.linear import LogisticCount

FIT_LOG: list[dict] = []


class Spy(ClassifierMixin, BaseEstimator):
    """Reads column ``p``; records the origin months (column ``m``) of every fit and prediction."""

    def __init__(self, horizon: int = 1, power: float = 1.0) -> None:
        self.horizon = horizon
        self.power = power

    def fit(self, X, y, y_count=None, months=None):
        FIT_LOG.append({"fit": set(X["m"]), "horizon": self.horizon})
        self.classes_ = np.array([0.0, 1.0])
        return self

    def predict_proba(self, X):
        FIT_LOG.append({"predict": set(X["m"])})
        p = np.clip(X["p"].to_numpy(dtype=float), 1e-6, 1 - 1e-6) ** self.power
        return np.column_stack([1 - p, p])


class Noise(Spy):
    """Uniform noise, whatever the row."""

    def predict_proba(self, X):
        p = np.random.default_rng(len(X)).uniform(0.01, 0.99, len(X))
        return np.column_stack([1 - p, p])


def panel(n_units: int = 8, n_months: int = 60, seed: int = 0):
    """Seeded panel: origin months, month ordinal ``m``, true probability ``p``, features, y, counts."""
    rng = np.random.default_rng(seed)
    months = np.repeat(pd.date_range("2015-01-01", periods=n_months, freq="MS").to_numpy(), n_units)
    n = len(months)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    p = 1 / (1 + np.exp(-(0.3 + 1.2 * x1 - 0.8 * x2)))
    y = (rng.uniform(size=n) < p).astype(float)
    y_count = y * rng.poisson(1 + 2 * p)
    X = pd.DataFrame(
        {
            "m": np.repeat(np.arange(n_months), n_units),
            "p": p,
            "x1": x1,
            "x2": x2,
            "current": rng.poisson(1, n).astype(float),
        }
    )
    return X, y, y_count, months


def ece(p, y, bins: int = 10) -> float:
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return sum(
        abs(p[idx == b].mean() - y[idx == b].mean()) * np.mean(idx == b)
        for b in range(bins)
        if np.any(idx == b)
    )


def test_temporal_holdout_keeps_a_gap_of_horizon_months():
    X, _, _, months = panel(n_units=3, n_months=40)
    fit_idx, held_idx, reason = temporal_holdout(months, calib_months=12, horizon=3)
    assert reason is None
    assert set(X["m"].iloc[held_idx]) == set(range(28, 40))
    assert X["m"].iloc[fit_idx].max() + 3 == 28  # train origin t <= first - h: target t + h already observed
    assert set(X["m"].iloc[fit_idx]) == set(range(0, 26))


@pytest.mark.parametrize("model", ["calibrated", "ensemble"])
def test_held_out_rows_come_after_every_fit_row_plus_horizon(model):
    X, y, yc, months = panel(n_months=48)
    est = (
        Calibrated(Spy(), calib_months=12)
        if model == "calibrated"
        else Ensemble([("a", Spy()), ("b", Spy(power=2.0))], calib_months=12)
    )
    est = clone(est).set_params(horizon=3)
    FIT_LOG.clear()
    est.fit(X, y, yc, months=months)
    k = 1 if model == "calibrated" else 2  # base fits on the early rows, one per member
    fits = [e for e in FIT_LOG if "fit" in e]
    held = [e["predict"] for e in FIT_LOG if "predict" in e][:k]
    for early, rows in zip(fits[:k], held):
        assert early["horizon"] == 3  # passed down to the base
        assert min(rows) >= max(early["fit"]) + 3
        assert rows == set(range(36, 48))
    refits = fits[k:]
    assert len(refits) == k and all(e["fit"] == set(range(48)) and e["horizon"] == 3 for e in refits)


def test_fit_without_months_is_a_clear_error():
    X, y, yc, _ = panel(n_months=30)
    with pytest.raises(ValueError, match="needs months="):
        Calibrated(Spy()).fit(X, y, yc)
    with pytest.raises(ValueError, match="needs months="):
        Ensemble([("a", Spy())]).fit(X, y, yc)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_repairs_a_miscalibrated_base(method):
    X, y, yc, months = panel(n_units=30, n_months=60, seed=1)
    Xt, yt, _, _ = panel(n_units=30, n_months=30, seed=2)
    squared = Spy(power=2.0)  # p**2: badly under-confident on the high side
    raw = squared.fit(X, y).predict_proba(Xt)[:, 1]
    cal = Calibrated(squared, method=method, calib_months=24).fit(X, y, yc, months=months)
    fixed = cal.predict_proba(Xt)[:, 1]
    assert cal.calibrator_ is not None and cal.calibration_note_.startswith(method)
    assert ece(fixed, yt) < 0.5 * ece(raw, yt)
    assert np.all((fixed > 0) & (fixed < 1))


def test_one_class_calibration_rows_fall_back_with_a_note():
    X, y, yc, months = panel(n_months=48)
    y = y.copy()
    y[X["m"].to_numpy() >= 24] = 0.0
    est = Calibrated(LogisticCount(columns=("x1", "x2")), calib_months=24).fit(X, y, yc, months=months)
    assert est.calibrator_ is None
    assert est.calibration_note_.startswith("uncalibrated") and "one class" in est.calibration_note_
    direct = LogisticCount(columns=("x1", "x2")).fit(X, y, yc)
    np.testing.assert_allclose(est.predict_proba(X), direct.predict_proba(X))
    ens = Ensemble([("a", Spy()), ("b", Spy(power=2.0))], calib_months=24).fit(X, y, yc, months=months)
    assert (
        ens.weights_ == {"a": 0.5, "b": 0.5} and "one class" in ens.weights_note_ and ens.calibrator_ is None
    )


def test_too_few_months_fall_back_with_a_note():
    X, y, yc, months = panel(n_months=20)
    est = Calibrated(Spy(), calib_months=24).fit(X, y, yc, months=months)
    assert est.calibrator_ is None and "only 20 origin months" in est.calibration_note_


def test_ensemble_weights_find_the_perfect_member():
    X, y, yc, months = panel(n_months=48)
    X = X.assign(p=np.clip(y, 0.001, 0.999))  # the Spy now reads the answer
    ens = Ensemble([("noise", Noise()), ("perfect", Spy())], calib_months=24, method=None).fit(
        X, y, yc, months=months
    )
    w = ens.weights_
    assert all(v >= 0 for v in w.values()) and sum(w.values()) == pytest.approx(1.0)
    assert w["perfect"] > 0.99


def test_simplex_weights_are_deterministic_and_on_the_simplex():
    rng = np.random.default_rng(3)
    P = rng.uniform(size=(500, 4))
    y = (rng.uniform(size=500) < P[:, 2]).astype(float)
    w1, w2 = simplex_brier_weights(P, y), simplex_brier_weights(P, y)
    np.testing.assert_array_equal(w1, w2)
    assert np.all(w1 >= 0) and w1.sum() == pytest.approx(1.0) and np.argmax(w1) == 2
    P[:, 0] = np.nan
    assert simplex_brier_weights(P, y)[0] == 0.0


def test_ensemble_of_real_models_and_its_count_quantile_contribution_heads():
    X, y, yc, months = panel(n_months=48)
    members = [
        ("logistic", LogisticCount(columns=("x1", "x2"), C=0.1)),
        ("persistence", Persistence(column="current")),
        ("spy", Spy()),
    ]
    ens = Ensemble(members, calib_months=12).fit(X, y, yc, months=months)
    assert set(ens.weights_) == {"logistic", "persistence", "spy"} and sum(
        ens.weights_.values()
    ) == pytest.approx(1.0)
    p = ens.predict_proba(X)
    assert p.shape == (len(X), 2) and np.allclose(p.sum(axis=1), 1)
    count = ens.predict_count(X)
    assert np.all(np.isfinite(count))  # the spy has no count head: skipped, others reweighted
    q = ens.predict_quantiles(X, (0.1, 0.5, 0.9))
    assert q.shape == (len(X), 3)
    assert np.all(np.isnan(q) | (q == np.round(q)))
    contrib = ens.contributions(X)
    assert list(contrib.index) == list(X.index) and "bias" in contrib.columns


def test_ensemble_count_is_the_reweighted_mean_of_members_with_counts():
    X, y, yc, months = panel(n_months=48)
    a = LogisticCount(columns=("x1",)).fit(X, y, yc)
    ens = Ensemble(
        [("a", LogisticCount(columns=("x1",))), ("noise", Noise())], method=None, calib_months=12
    ).fit(X, y, yc, months=months)
    assert 0 < ens.weights_["noise"] < ens.weights_["a"]
    np.testing.assert_allclose(ens.predict_count(X), a.predict_count(X))  # noise has no count head


def test_zero_weight_members_are_not_refitted():
    X, y, yc, months = panel(n_months=48)
    ens = Ensemble([("a", LogisticCount(columns=("x1",))), ("spy", Spy())], method=None, calib_months=12).fit(
        X, y, yc, months=months
    )
    assert ens.weights_ == {"a": 0.0, "spy": 1.0}  # the spy reads the true probability
    assert [n for n, _, _ in ens.fitted_] == ["spy"]


def test_calibrated_delegates_to_the_base_or_gives_nan():
    X, y, yc, months = panel(n_months=48)
    est = Calibrated(LogisticCount(columns=("x1", "x2")), calib_months=12).fit(X, y, yc, months=months)
    np.testing.assert_allclose(
        est.predict_count(X), LogisticCount(columns=("x1", "x2")).fit(X, y, yc).predict_count(X)
    )
    spy = Calibrated(Spy(), calib_months=12).fit(X, y, yc, months=months)
    assert np.isnan(spy.predict_count(X)).all()
    assert (
        spy.predict_quantiles(X, (0.5, 0.9)).shape == (len(X), 2) and np.isnan(spy.predict_quantiles(X)).all()
    )
    c = spy.contributions(X)
    assert c.isna().all().all() and "bias" in c.columns and list(c.index) == list(X.index)


def test_meta_estimators_clone_with_nested_params():
    cal = Calibrated(LogisticCount(C=0.1), method="sigmoid")
    assert cal.get_params()["estimator__C"] == 0.1
    c2 = clone(cal).set_params(estimator__C=0.2, horizon=4)
    assert c2.estimator.C == 0.2 and c2.horizon == 4 and cal.estimator.C == 0.1
    ens = Ensemble([("logistic", LogisticCount(C=0.1)), ("cal", cal)], calib_months=6)
    params = ens.get_params(deep=True)
    assert params["logistic__C"] == 0.1 and params["cal__estimator__C"] == 0.1 and params["calib_months"] == 6
    e2 = clone(ens).set_params(logistic__C=0.3, cal__method="isotonic", horizon=2)
    assert e2.members[0][1].C == 0.3 and e2.members[1][1].method == "isotonic" and e2.horizon == 2
    assert ens.members[0][1].C == 0.1 and ens.members[0][1] is not e2.members[0][1]
