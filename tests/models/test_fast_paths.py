"""The models' fast paths against the slow, obviously-correct ones they replace, to the bit:
all forecasts of a fold in one call, a tuning search from one scaled matrix, the NB likelihood
over distinct pairs, the in-place signed log, the 0/1 target check, cached parameter names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, special
from sklearn.base import BaseEstimator, clone
from statsmodels.genmod import families
from statsmodels.genmod.generalized_linear_model import GLM

from riskcast.models._dist import SIZE_MAX, SIZE_MIN, _clean, fit_input, fit_nb_size
from riskcast.models.baselines import Climatology, LastValue, Persistence, ZeroCount
from riskcast.models.calibration import Calibrated, fit_estimator, fit_grid
from riskcast.models.ensemble import Ensemble
from riskcast.models.gbm import LGBMHurdle
from riskcast.models.glm import CountGLM, _RidgeGLM
from riskcast.models.linear import LogisticCount, signed_log1p
from riskcast.models.outputs import QUANTILES, predict_outputs
from riskcast.models.shrinkage import Shrunk
from riskcast.models.tuning import Tuned

COLS = ("current", "share12", "sum12", "noise")


def _panel(n: int = 720, seed: int = 0):
    rng = np.random.default_rng(seed)
    current = rng.negative_binomial(2, 0.4, n).astype(float)
    X = pd.DataFrame(
        {
            "current": current,
            "share12": np.clip(rng.beta(2, 2, n) + 0.05 * (current > 0), 0, 1),
            "sum12": rng.poisson(12 * (0.5 + current / 3)).astype(float),
            "noise": rng.normal(0, 1, n),
        }
    )
    mu = np.exp(-0.5 + 0.6 * np.log1p(current) + 0.5 * X["share12"].to_numpy())
    count = rng.negative_binomial(3, 3 / (3 + mu)).astype(float)
    months = np.repeat(pd.date_range("2015-01-01", periods=n // 12, freq="MS").to_numpy(), 12)
    return X, (count > 0).astype(float), count, months


def _logistic(**kw) -> LogisticCount:
    return LogisticCount(columns=COLS, **kw)


MODELS = {
    "climatology": lambda: Climatology(share_column="share12", sum_column="sum12"),
    "persistence": lambda: Persistence(column="current"),
    "zero": lambda: ZeroCount(column="current"),
    "last": lambda: LastValue(column="current"),
    "logistic": lambda: _logistic(C=0.1),
    "glm": lambda: CountGLM(columns=COLS),
    "lgbm": lambda: LGBMHurdle(columns=COLS, n_estimators=30),
    "tuned": lambda: Tuned(_logistic(), param="C", grid=(0.01, 0.1, 1.0), holdout_months=12),
    "shrunk": lambda: Shrunk(_logistic(C=0.1), share_column="share12", sum_column="sum12", horizon=3),
    "calibrated": lambda: Calibrated(_logistic(C=0.1), method="sigmoid", calib_months=12),
    "ensemble": lambda: Ensemble(
        [("logistic", _logistic(C=0.1)), ("glm", CountGLM(columns=COLS))], calib_months=12, method="sigmoid"
    ),
}


@pytest.fixture(scope="module")
def panel():
    return _panel()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_all_forecasts_at_once_are_the_three_methods(name, panel):
    X, y, count, months = panel
    est = MODELS[name]().fit(X.iloc[:600], y[:600], y_count=count[:600], months=months[:600])
    test = X.iloc[600:]
    p, mu, q = predict_outputs(est, test, QUANTILES)
    np.testing.assert_array_equal(p, est.predict_proba(test)[:, 1])
    np.testing.assert_array_equal(mu, est.predict_count(test))
    np.testing.assert_array_equal(q, est.predict_quantiles(test, QUANTILES))


def test_a_shrunk_twin_from_its_base_forecasts_is_its_own(panel):
    X, y, count, months = panel
    base = _logistic(C=0.1).fit(X.iloc[:600], y[:600], y_count=count[:600])
    twin = Shrunk(_logistic(C=0.1), share_column="share12", sum_column="sum12", horizon=6)
    twin.fit_on(base, X.iloc[:600], y[:600], count[:600])
    test = X.iloc[600:]
    got = twin.predict_on(predict_outputs(base, test), test)
    for a, b in zip(got, twin.predict_outputs(test)):
        np.testing.assert_array_equal(a, b)


def test_logistic_without_a_count_head_or_with_one_class(panel):
    X, y, count, _ = panel
    test = X.iloc[600:]
    for est in (
        _logistic().fit(X.iloc[:600], y[:600]),
        _logistic().fit(X.iloc[:600], np.zeros(600), count[:600]),
    ):
        p, mu, q = predict_outputs(est, test)
        np.testing.assert_array_equal(p, est.predict_proba(test)[:, 1])
        np.testing.assert_array_equal(mu, est.predict_count(test))
        np.testing.assert_array_equal(q, est.predict_quantiles(test))


@pytest.mark.parametrize(
    "make, param, values",
    [
        (lambda: _logistic(C=0.1), "C", (0.003, 0.03, 0.3)),
        (lambda: _logistic(C=0.1), "alpha", (1e-3, 1.0)),
        (lambda: _logistic(C=0.1), "columns", (COLS, COLS[:2])),
        (lambda: CountGLM(columns=COLS), "alpha", (3.0, 1.0, 0.3)),
        (lambda: CountGLM(columns=COLS), "family", ("poisson", "negbin")),
    ],
)
def test_a_search_from_one_scaled_matrix_fits_as_one_fit_per_value(make, param, values, panel):
    X, y, count, months = panel
    spec = make()
    fits = spec.fit_grid(param, values, X.iloc[:600], y[:600], y_count=count[:600], months=months[:600])
    test = X.iloc[600:]
    for value, got in zip(values, fits):
        want = clone(spec).set_params(**{param: value}).fit(X.iloc[:600], y[:600], y_count=count[:600])
        assert got.get_params() == want.get_params()
        for a, b in zip(predict_outputs(got, test), predict_outputs(want, test)):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(got.feature_names_in_, want.feature_names_in_)
    assert not hasattr(spec, "n_features_in_")  # the spec itself stays unfitted


def test_fit_grid_is_fit_estimator_per_value_for_any_model(panel):
    X, y, count, months = panel
    idx = np.arange(500)
    for spec, param, values in (
        (_logistic(), "C", (0.01, 1.0)),
        (CountGLM(columns=COLS), "alpha", (0.3, 3.0)),
    ):
        fits = fit_grid(spec, param, values, X, y, count, months, 3, idx)
        for value, got in zip(values, fits):
            want = fit_estimator(
                clone(spec).set_params(**{param: value}), X, y, count, months, 3, idx, proba_only=True
            )
            np.testing.assert_array_equal(got.predict_proba(X)[:, 1], want.predict_proba(X)[:, 1])


def _nb_size_oracle(y_count, mu) -> float:
    """The likelihood over every row, as before the distinct pairs."""
    y, m = _clean(y_count, mu)
    if len(y) == 0 or not np.any(y > 0):
        return SIZE_MAX
    log_y_fact = special.gammaln(y + 1)

    def nll(log_r):
        r = np.exp(log_r)
        p = r / (r + m)
        return -float(
            np.sum(
                special.gammaln(r + y)
                - log_y_fact
                - special.gammaln(r)
                + r * np.log(p)
                + special.xlog1py(y, -p)
            )
        )

    res = optimize.minimize_scalar(nll, bounds=(np.log(SIZE_MIN), np.log(SIZE_MAX)), method="bounded")
    return float(np.clip(np.exp(res.x), SIZE_MIN, SIZE_MAX))


@pytest.mark.parametrize("means", ["zero", "last", "rates", "fitted"])
def test_nb_size_over_distinct_pairs_is_the_sum_over_rows(means):
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(30, 3000))
        y = rng.negative_binomial(rng.uniform(0.2, 3), rng.uniform(0.2, 0.9), n).astype(float)
        m = {
            "zero": np.zeros(n),
            "last": np.roll(y, 1),
            "rates": np.round(rng.gamma(1, 2, n) * 12) / 12,
            "fitted": rng.gamma(1, 2, n),
        }[means]
        y[rng.random(n) < 0.02] = np.nan
        assert fit_nb_size(y, m) == _nb_size_oracle(y, m)


def test_signed_log1p_in_place_is_the_formula_with_its_signed_zeros():
    rng = np.random.default_rng(0)
    x = rng.standard_cauchy((400, 20)) * rng.choice([0.0, 1e-300, 1.0, 1e300], (400, 20))
    x[rng.random(x.shape) < 0.1] = -0.0
    x[rng.random(x.shape) < 0.01] = -np.inf
    want = np.sign(x) * np.log1p(np.abs(x))
    got = signed_log1p(x)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    assert np.array_equal(
        signed_log1p([[-1.0, 0.0, 2.0]]), np.sign([[-1.0, 0.0, 2.0]]) * np.log1p([[1.0, 0.0, 2.0]])
    )


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scikit-learn casting the NaN target it refuses
def test_zero_one_targets_pass_as_scikit_learn_would_let_them(panel):
    X = panel[0].iloc[:50]
    for y in (np.r_[np.zeros(25), np.ones(25)], np.zeros(50, dtype=int), np.ones(50)):
        _, got = fit_input(LogisticCount(), X, y)
        assert got.dtype == np.float64 and np.array_equal(got, y)
    for bad in (np.full(50, 2.0), np.r_[np.zeros(49), np.nan], np.r_[np.zeros(49), 0.5]):
        with pytest.raises(ValueError):
            fit_input(LogisticCount(), X, bad)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parameter_names_are_scikit_learns(name):
    est = MODELS[name]()
    assert type(est)._get_param_names() == BaseEstimator._get_param_names.__func__(type(est))
    assert clone(est).get_params(deep=False).keys() == est.get_params(deep=False).keys()


@pytest.mark.parametrize("family", ["poisson", "negbin"])
def test_the_ridge_glm_shares_its_mean_and_keeps_statsmodels_numbers(family):
    rng = np.random.default_rng(4)
    exog = np.column_stack([np.ones(400), rng.normal(size=(400, 5))])
    endog = rng.poisson(np.exp(0.2 + exog[:, 1] * 0.3)).astype(float)
    fam = (
        (lambda: families.Poisson())
        if family == "poisson"
        else (lambda: families.NegativeBinomial(alpha=0.7))
    )
    mine, theirs = _RidgeGLM(endog, exog, family=fam()), GLM(endog, exog, family=fam())
    for _ in range(3):
        params = rng.normal(scale=0.2, size=6)
        for _ in range(2):  # asked twice at the same parameters: the second reads the cache
            assert mine.loglike(params) == theirs.loglike(params)
            np.testing.assert_array_equal(mine.score(params), theirs.score(params))
            np.testing.assert_array_equal(mine.predict(params), theirs.predict(params))
    pen = np.r_[0.0, np.full(5, 0.5)]
    a = mine.fit_regularized(alpha=pen, L1_wt=0.0, opt_method="bfgs").params
    b = theirs.fit_regularized(alpha=pen, L1_wt=0.0, opt_method="bfgs").params
    np.testing.assert_array_equal(a, b)
