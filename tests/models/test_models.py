"""Forecast models keep the contract: scikit-learn checks, shapes, determinism, coherent outputs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats
from sklearn.utils.estimator_checks import parametrize_with_checks
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from riskcast.models._dist import SIZE_MAX, fit_nb_size, hurdle_quantiles, nb_prob_any, nb_quantiles
from riskcast.models.baselines import Climatology, LastValue, Persistence, ZeroCount
from riskcast.models.gbm import LGBMHurdle
from riskcast.models.glm import CountGLM
from riskcast.models.linear import LogisticCount

# Why each scikit-learn check cannot apply to these models. y is "any attack at t+h", so the
# models accept exactly the labels 0/1 (other labels would silently change meaning).
_ZERO_ONE = "y must be 0/1 (any attack at t+h); the check uses other labels"
_BINARY_ONLY = {
    "check_estimators_dtypes": _ZERO_ONE + " ({1, 2})",
    "check_classifier_data_not_an_array": _ZERO_ONE + " ({1, 2})",
    "check_classifiers_classes": _ZERO_ONE + " (strings)",
    "check_fit2d_1feature": _ZERO_ONE + " ({1, 2})",
}
# Baselines read one named column (a position on arrays) and ignore the rest by design, so
# they cannot learn the check's toy problems.
_READS_ONE_COLUMN = {
    **_BINARY_ONLY,
    "check_classifiers_train": "a baseline reads one fixed column; it cannot learn the toy blobs",
}
_CLIMATOLOGY = {
    **_READS_ONE_COLUMN,
    "check_classifiers_one_label": "climatology's P(any) is the share column, not the training labels",
}


def _expected_failed_checks(est) -> dict[str, str]:
    if isinstance(est, Climatology):
        return _CLIMATOLOGY
    if isinstance(est, (Persistence, ZeroCount, LastValue)):
        return _READS_ONE_COLUMN
    return _BINARY_ONLY


@parametrize_with_checks(
    [
        LogisticCount(),
        # The checks' toy blobs are a 2-feature, well-separated problem: the default ridge, tuned
        # for 60 collinear features, would flatten it; with y as the count, P(any) = 1 - exp(-mu)
        # needs a steep fit to cross 0.5.
        CountGLM(alpha=1e-2),
        CountGLM(family="poisson", alpha=1e-2),
        # The defaults want >= 50 rows per leaf; the checks' toy sets have ~100 rows.
        LGBMHurdle(n_estimators=20, learning_rate=0.2, min_child_samples=5),
        Climatology(share_column=0, sum_column=1),
        Persistence(column=0),
        ZeroCount(column=0),
        LastValue(column=0),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


# --- a seeded random panel ------------------------------------------------------------------

FEATURES = ("current", "share12", "sum12", "noise1", "noise2", "collinear")


def _panel(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Counts that depend on last month's count; features look like the pipeline's (>= 0, skewed)."""
    rng = np.random.default_rng(seed)
    current = rng.negative_binomial(2, 0.4, n).astype(float)
    share12 = np.clip(rng.beta(2, 2, n) + 0.05 * (current > 0), 0, 1)
    sum12 = rng.poisson(12 * (0.5 + current / 3)).astype(float)
    X = pd.DataFrame(
        {
            "current": current,
            "share12": share12,
            "sum12": sum12,
            "noise1": rng.exponential(1, n),
            "noise2": rng.normal(0, 1, n),
            "collinear": 2 * current + 1e-6,
        },
        index=pd.RangeIndex(100, 100 + n),
    )
    mu = np.exp(-0.5 + 0.6 * np.log1p(current) + 0.5 * share12)
    count = rng.negative_binomial(3, 3 / (3 + mu)).astype(float)
    months = np.repeat(pd.date_range("2015-01-01", periods=n // 10 + 1, freq="MS").to_numpy(), 10)[:n]
    return X, (count > 0).astype(float), count, months


MODELS = {
    "logistic": lambda: LogisticCount(),
    "glm_negbin": lambda: CountGLM(),
    "glm_poisson": lambda: CountGLM(family="poisson"),
    "lgbm": lambda: LGBMHurdle(n_estimators=50),
    "climatology": lambda: Climatology(share_column="share12", sum_column="sum12"),
    "persistence": lambda: Persistence(column="current"),
    "zero": lambda: ZeroCount(column="current"),
    "last": lambda: LastValue(column="current"),
}


@pytest.fixture(scope="module")
def panel():
    return _panel()


@pytest.fixture(scope="module", params=sorted(MODELS))
def fitted(request, panel):
    X, y, count, months = panel
    return request.param, MODELS[request.param]().fit(
        X.iloc[:500], y[:500], y_count=count[:500], months=months[:500]
    )


def test_output_shapes_and_ranges(fitted, panel):
    name, est = fitted
    X = panel[0].iloc[500:]
    proba = est.predict_proba(X)
    assert proba.shape == (100, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_array_equal(est.classes_, [0.0, 1.0])
    np.testing.assert_array_equal(est.predict(X), (proba[:, 1] >= 0.5).astype(float))
    count = est.predict_count(X)
    assert count.shape == (100,) and np.all(np.isfinite(count)) and np.all(count >= 0)


def test_quantiles_are_monotone_integers(fitted, panel):
    name, est = fitted
    q = est.predict_quantiles(panel[0].iloc[500:], q=(0.1, 0.5, 0.9))
    assert q.shape == (100, 3)
    assert np.all(np.isfinite(q)) and np.all(q == np.round(q)) and np.all(q >= 0)
    assert np.all(q[:, 0] <= q[:, 1]) and np.all(q[:, 1] <= q[:, 2])


def test_contributions_frame(fitted, panel):
    name, est = fitted
    X = panel[0].iloc[500:]
    contrib = est.contributions(X)
    assert contrib.index.equals(X.index)
    assert contrib.columns[-1] == "bias" and np.all(np.isfinite(contrib.to_numpy()))


@pytest.mark.parametrize("name", ["logistic", "lgbm", "climatology", "persistence", "zero", "last"])
def test_contributions_sum_to_log_odds(name, panel):
    X, y, count, months = panel
    est = MODELS[name]().fit(X, y, y_count=count)
    p = est.predict_proba(X)[:, 1]
    np.testing.assert_allclose(est.contributions(X).sum(axis=1), special.logit(p), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("family", ["poisson", "negbin"])
def test_glm_contributions_sum_to_log_count(family, panel):
    X, y, count, months = panel
    est = CountGLM(family=family).fit(X, y, y_count=count)
    np.testing.assert_allclose(est.contributions(X).sum(axis=1), np.log(est.predict_count(X)), rtol=1e-9)
    assert list(est.contributions(X).columns) == [*FEATURES, "bias"]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_two_fits_identical(name, panel):
    X, y, count, months = panel
    a = MODELS[name]().fit(X, y, y_count=count, months=months)
    b = MODELS[name]().fit(X, y, y_count=count, months=months)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_array_equal(a.predict_count(X), b.predict_count(X))
    np.testing.assert_array_equal(a.predict_quantiles(X), b.predict_quantiles(X))


def test_models_read_only_their_columns(panel):
    X, y, count, months = panel
    cols = ("current", "share12")
    for est in (
        LogisticCount(columns=cols),
        CountGLM(columns=cols),
        LGBMHurdle(columns=cols, n_estimators=20),
    ):
        est.fit(X, y, y_count=count)
        extra = X.assign(unrelated=np.arange(len(X)))[["unrelated", *X.columns]]
        np.testing.assert_array_equal(est.predict_proba(extra), est.predict_proba(X))
        assert list(est.contributions(X).columns) == [*cols, "bias"]


def test_no_count_head_gives_nan(panel):
    X, y, count, months = panel
    for est in (LogisticCount(), LGBMHurdle(n_estimators=10)):
        est.fit(X, y)
        assert np.all(np.isnan(est.predict_count(X))) and np.all(np.isnan(est.predict_quantiles(X)))


def test_glm_recovers_a_poisson_coefficient():
    # The GLM standardises signed-log1p(x); simulate on that scale so the truth is a GLM coefficient.
    rng = np.random.default_rng(1)
    n = 20_000
    x = rng.exponential(2.0, n)
    z = np.log1p(x)
    z = (z - z.mean()) / z.std()
    count = rng.poisson(np.exp(0.3 + 0.7 * z)).astype(float)
    est = CountGLM(family="poisson", alpha=1e-6).fit(
        pd.DataFrame({"x": x}), (count > 0).astype(float), y_count=count
    )
    assert est.coef_[0] == pytest.approx(0.7, abs=0.02)
    assert est.intercept_ == pytest.approx(0.3, abs=0.02)
    # P(any) is P(count >= 1) under the same Poisson.
    np.testing.assert_allclose(
        est.predict_proba(pd.DataFrame({"x": x}))[:, 1],
        1 - np.exp(-est.predict_count(pd.DataFrame({"x": x}))),
    )


def test_glm_negbin_finds_the_dispersion():
    rng = np.random.default_rng(2)
    n = 20_000
    x = rng.normal(0, 1, n)
    mu = np.exp(0.5 + 0.4 * x)
    count = rng.negative_binomial(2.0, 2.0 / (2.0 + mu)).astype(float)
    est = CountGLM(alpha=1e-6).fit(pd.DataFrame({"x": x}), (count > 0).astype(float), y_count=count)
    assert est.nb_size_ == pytest.approx(2.0, rel=0.1)


def test_glm_stays_finite_with_collinear_features(panel):
    X, y, count, months = panel
    wide = pd.concat([X] + [X.add_suffix(f"_copy{i}") * (1 + 1e-9 * i) for i in range(10)], axis=1)
    est = CountGLM().fit(wide, y, y_count=count)
    assert not est.fallback_ and np.all(np.isfinite(est.predict_count(wide)))


def test_glm_falls_back_with_a_warning(panel, monkeypatch):
    X, y, count, months = panel

    def broken(self, exog, count):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(CountGLM, "_fit_statsmodels", broken)
    with pytest.warns(RuntimeWarning, match=r"statsmodels fit failed \(LinAlgError: singular\)"):
        est = CountGLM().fit(X, y, y_count=count)
    assert est.fallback_
    np.testing.assert_allclose(est.predict_count(X), count.mean())


def test_lgbm_probability_and_quantiles_agree(panel):
    X, y, count, months = panel
    est = LGBMHurdle(n_estimators=50).fit(X, y, y_count=count)
    p = est.predict_proba(X)[:, 1]
    q = est.predict_quantiles(X, q=(0.1, 0.5, 0.9))
    # The hurdle's q-quantile is 0 exactly when 1 - p >= q.
    np.testing.assert_array_equal(q[:, 1] == 0, 1 - p >= 0.5)
    assert np.all(est.predict_count_given_any(X) >= 1)
    np.testing.assert_allclose(est.predict_count(X), p * est.predict_count_given_any(X))


def test_fit_rejects_non_binary_targets(panel):
    X, y, count, months = panel
    with pytest.raises(ValueError, match="y must be 0/1"):
        LogisticCount().fit(X, y + 1)
    with pytest.raises(ValueError, match="Unknown label type"):
        CountGLM().fit(X, count + 0.5)


# --- the distribution helpers against scipy directly ------------------------------------------


def test_nb_size_recovered_by_both_methods():
    rng = np.random.default_rng(3)
    mu = rng.uniform(0.5, 5, 50_000)
    y = rng.negative_binomial(1.5, 1.5 / (1.5 + mu))
    assert fit_nb_size(y, mu, "ml") == pytest.approx(1.5, rel=0.05)
    assert fit_nb_size(y, mu, "moments") == pytest.approx(1.5, rel=0.1)
    # Poisson data: no over-dispersion, the Poisson limit.
    assert fit_nb_size(rng.poisson(mu), mu, "moments") >= 50
    assert fit_nb_size(np.zeros(10), np.ones(10)) == SIZE_MAX


def test_nb_quantiles_and_p_any_match_scipy():
    mu = np.array([0.0, 0.3, 2.0, 10.0, np.nan])
    got = nb_quantiles(mu, 2.0, (0.1, 0.5, 0.9))
    want = stats.nbinom.ppf([[0.1, 0.5, 0.9]], 2.0, 2.0 / (2.0 + mu[1:4, None]))
    np.testing.assert_array_equal(got[1:4], want)
    np.testing.assert_array_equal(got[0], 0.0)
    assert np.all(np.isnan(got[4]))
    np.testing.assert_allclose(nb_prob_any(mu[:4], 2.0), 1 - stats.nbinom.pmf(0, 2.0, 2.0 / (2.0 + mu[:4])))
    np.testing.assert_allclose(nb_prob_any(mu[:4], SIZE_MAX), 1 - np.exp(-mu[:4]))


def test_hurdle_quantiles_by_simulation():
    rng = np.random.default_rng(4)
    p, mu_pos, size = 0.6, 4.0, 2.0
    draws = np.where(
        rng.random(200_000) < p, 1 + rng.negative_binomial(size, size / (size + mu_pos - 1), 200_000), 0
    )
    got = hurdle_quantiles([p], [mu_pos], size, (0.1, 0.3, 0.5, 0.9))[0]
    np.testing.assert_array_equal(got, np.quantile(draws, [0.1, 0.3, 0.5, 0.9], method="inverted_cdf"))


def test_glm_keeps_coefficients_when_only_tolerance_is_missed(panel, monkeypatch):
    X, y, count, months = panel
    real = CountGLM._fit_statsmodels

    def noisy(self, exog, count):
        warnings.warn("GLM ridge optimization may have failed", ConvergenceWarning)
        return real(self, exog, count)

    monkeypatch.setattr(CountGLM, "_fit_statsmodels", noisy)
    with pytest.warns(RuntimeWarning, match="did not fully converge"):
        est = CountGLM().fit(X, y, y_count=count)
    assert not est.converged_ and not est.fallback_
