"""Shrunk: a model blended with the unit's climatology by h / (h + half_horizon)."""

from __future__ import annotations

import numpy as np
import pytest

from riskcast.evaluation.backtest import fit_model, predict_frame
from riskcast.models.baselines import Climatology
from riskcast.models.linear import LogisticCount
from riskcast.models.shrinkage import Shrunk, climatology_weight
from tests.models.test_models import _panel


def _shrunk(**kw) -> Shrunk:
    return Shrunk(LogisticCount(C=0.1), share_column="share12", sum_column="sum12", **kw)


def test_weight_schedule():
    assert [round(climatology_weight(h, 12.0), 3) for h in (1, 3, 6, 12)] == [0.077, 0.2, 0.333, 0.5]
    assert climatology_weight(12, float("inf")) == 0.0
    with pytest.raises(ValueError, match="half_horizon must be > 0"):
        climatology_weight(1, 0.0)


@pytest.mark.parametrize("h", [1, 6, 12])
def test_blend_is_the_weighted_mean_of_model_and_climatology(h):
    X, y, count, months = _panel()
    train, test = slice(0, 500), slice(500, None)
    est = fit_model(_shrunk(half_horizon=6.0), X.iloc[train], y[train], count[train], months[train], h)
    lam = h / (h + 6.0)
    assert est.weight_ == pytest.approx(lam)
    base = LogisticCount(C=0.1).fit(X.iloc[train], y[train], y_count=count[train])
    clim = Climatology(share_column="share12", sum_column="sum12").fit(
        X.iloc[train], y[train], y_count=count[train]
    )
    p = est.predict_proba(X.iloc[test])[:, 1]
    np.testing.assert_allclose(
        p, (1 - lam) * base.predict_proba(X.iloc[test])[:, 1] + lam * clim.predict_proba(X.iloc[test])[:, 1]
    )
    np.testing.assert_allclose(
        est.predict_count(X.iloc[test]),
        (1 - lam) * base.predict_count(X.iloc[test]) + lam * clim.predict_count(X.iloc[test]),
    )
    out = predict_frame(est, X.iloc[test])
    q = np.column_stack([out["q10"], out["q50"], out["q90"]])
    assert np.all(np.diff(q, axis=1) >= 0) and np.all(q == np.round(q))
    # contributions are the base model's, and they still explain the base's log-odds
    c = est.contributions(X.iloc[test])
    np.testing.assert_allclose(
        c.sum(axis=1), np.log(base.predict_proba(X.iloc[test])[:, 1] / base.predict_proba(X.iloc[test])[:, 0])
    )


def test_longer_horizons_lean_further_towards_climatology():
    X, y, count, months = _panel()
    clim = X["share12"].clip(0.01, 0.99).to_numpy()[500:]
    gaps = []
    for h in (1, 3, 6, 12):
        est = fit_model(_shrunk(), X.iloc[:500], y[:500], count[:500], months[:500], h)
        gaps.append(np.mean(np.abs(est.predict_proba(X.iloc[500:])[:, 1] - clim)))
    assert gaps == sorted(gaps, reverse=True) and gaps[-1] < gaps[0] * 0.6


def test_two_fits_identical_and_needs_an_estimator():
    X, y, count, months = _panel()
    a = fit_model(_shrunk(), X, y, count, months, 3).predict_proba(X)
    b = fit_model(_shrunk(), X, y, count, months, 3).predict_proba(X)
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="needs an estimator"):
        Shrunk().fit(X, y)
