"""Tuned: one hyper-parameter chosen on a temporal hold-out, never on later rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from riskcast.errors import ConfigError
from riskcast.models import LogisticCount
from riskcast.models.spec import load_model_set
from riskcast.models.tuning import Tuned


def _panel(n_units=20, n_months=60, n_noise=30, seed=0):
    rng = np.random.default_rng(seed)
    months = np.repeat(pd.date_range("2015-01-01", periods=n_months, freq="MS").to_numpy(), n_units)
    signal = rng.normal(size=len(months))
    X = pd.DataFrame(
        {"signal": signal, **{f"noise{i}": rng.normal(size=len(months)) for i in range(n_noise)}}
    )
    y = (rng.random(len(months)) < 1 / (1 + np.exp(-0.8 * signal))).astype(float)
    return X, y, months


class _Recorder(ClassifierMixin, BaseEstimator):
    """Records the months it was fitted on; predicts a constant given by ``level``."""

    seen: list = []

    def __init__(self, level: float = 0.5) -> None:
        self.level = level

    def fit(self, X, y, y_count=None, months=None):
        _Recorder.seen.append((self.level, pd.DatetimeIndex(months)))
        self.classes_ = np.array([0.0, 1.0])
        return self

    def predict_proba(self, X):
        return np.column_stack([np.full(len(X), 1 - self.level), np.full(len(X), self.level)])


def test_choice_minimises_holdout_brier_and_keeps_the_gap():
    X, y, months = _panel()
    _Recorder.seen = []
    m = Tuned(_Recorder(), param="level", grid=(0.1, 0.5, float(y.mean())), holdout_months=12, horizon=3).fit(
        X, y, months=months
    )
    held_first = pd.Timestamp(np.unique(months)[-12])
    # candidates were fitted only on rows at least h months before the hold-out
    for level, seen in _Recorder.seen[:-1]:
        assert seen.max() <= held_first - pd.DateOffset(months=3)
    assert _Recorder.seen[-1][1].max() == pd.Timestamp(months.max())  # then refitted on everything
    held = pd.DatetimeIndex(months) >= held_first
    best = min((0.1, 0.5, float(y.mean())), key=lambda v: np.mean((v - y[held]) ** 2))
    assert m.chosen_ == best and "lowest Brier" in m.tuning_note_


def test_noise_features_push_the_choice_to_strong_regularisation():
    X, y, months = _panel(n_units=10, n_months=48, n_noise=60)
    m = Tuned(LogisticCount(C=1.0), param="C", grid=(0.001, 0.01, 0.1, 10.0), holdout_months=12).fit(
        X, y, months=months
    )
    assert m.chosen_ in (0.001, 0.01, 0.1) and m.scores_[m.chosen_] <= m.scores_[10.0]
    p = m.predict_proba(X)[:, 1]
    assert np.all((p > 0) & (p < 1)) and m.contributions(X).shape == (len(X), X.shape[1] + 1)


def test_too_few_months_keeps_the_estimators_value_and_says_why():
    X, y, months = _panel(n_months=20)
    m = Tuned(LogisticCount(C=0.05), param="C", grid=(0.001, 0.1), holdout_months=12).fit(X, y, months=months)
    assert m.chosen_ == 0.05 and "not tuned" in m.tuning_note_
    with pytest.raises(ValueError, match="no parameter"):
        Tuned(LogisticCount(), param="Cc", grid=(1,)).fit(X, y, months=months)


def test_clone_and_nested_params():
    t = Tuned(LogisticCount(columns=("a",), C=0.01), param="C", grid=(0.01, 0.1))
    c = clone(t).set_params(estimator__columns=("b",))
    assert c.estimator.columns == ("b",) and t.estimator.columns == ("a",)


def test_part_only_models_are_building_blocks(tmp_path):
    f = tmp_path / "set.toml"
    f.write_text("""
[[models]]
name = "climatology"
model = "Climatology"
[[models]]
name = "base"
model = "LogisticCount"
features = "full"
part_only = true
[[models]]
name = "tuned"
model = "Tuned"
base = "base"
params = { param = "C", grid = [0.01, 0.1] }
""")
    models = load_model_set(f, {"full": ["a", "b"]}, {"share": "s", "sum": "t", "current": "c"})
    assert list(models) == ["climatology", "tuned"] and models["tuned"].estimator.columns == ("a", "b")
    f.write_text(
        f.read_text().replace(
            'name = "climatology"\nmodel = "Climatology"',
            'name = "climatology"\nmodel = "Climatology"\npart_only = true',
        )
    )
    with pytest.raises(ConfigError, match="cannot be part_only"):
        load_model_set(f, {"full": ["a", "b"]}, {"share": "s", "sum": "t", "current": "c"})


def _months_upto(months, last: str):
    keep = pd.DatetimeIndex(months) <= pd.Timestamp(last)
    return keep


def test_search_every_reuses_an_earlier_origins_choice_then_searches_again():
    X, y, months = _panel()
    spec = Tuned(_Recorder(), param="level", grid=(0.1, 0.5, 0.3), holdout_months=12, search_every=12)
    first_rows = _months_upto(months, "2017-12-01")
    _Recorder.seen = []
    first = clone(spec).fit(X[first_rows], y[first_rows], months=months[first_rows])
    assert len(_Recorder.seen) == 4 and first.searched_at_ == pd.Period(
        "2017-12", "M"
    )  # 3 candidates + the refit

    # 11 months later: the choice is reused, only the refit runs, on the newer rows
    rows = _months_upto(months, "2018-11-01")
    _Recorder.seen = []
    later = clone(spec).follow(first).fit(X[rows], y[rows], months=months[rows])
    assert len(_Recorder.seen) == 1 and _Recorder.seen[0][1].max() == pd.Timestamp("2018-11-01")
    assert (
        later.chosen_ == first.chosen_
        and later.searched_at_ == first.searched_at_
        and "reused" in later.tuning_note_
    )
    assert "_previous" not in later.__dict__  # the earlier fit is not kept alive by the later one

    # 12 months later: a new search
    rows = _months_upto(months, "2018-12-01")
    _Recorder.seen = []
    again = clone(spec).follow(later).fit(X[rows], y[rows], months=months[rows])
    assert len(_Recorder.seen) == 4 and again.searched_at_ == pd.Period("2018-12", "M")


def test_a_search_is_never_taken_from_a_later_origin_nor_without_a_cadence():
    X, y, months = _panel()
    rows = _months_upto(months, "2018-06-01")
    late = Tuned(_Recorder(), param="level", grid=(0.1, 0.5), search_every=12).fit(
        X, y, months=months
    )  # searched at the newest month
    _Recorder.seen = []
    Tuned(_Recorder(), param="level", grid=(0.1, 0.5), search_every=12).follow(late).fit(
        X[rows], y[rows], months=months[rows]
    )
    assert len(_Recorder.seen) == 3  # searched afresh: the later origin's choice saw rows after 2018-06
    _Recorder.seen = []
    Tuned(_Recorder(), param="level", grid=(0.1, 0.5)).follow(late).fit(X, y, months=months)
    assert len(_Recorder.seen) == 3  # search_every = 1 (the default): every fit searches
    with pytest.raises(ValueError, match="search_every"):
        Tuned(_Recorder(), param="level", grid=(0.1,), search_every=0).fit(X, y, months=months)


def test_backtest_with_a_search_cadence_searches_once_a_year_and_is_deterministic():
    from riskcast.evaluation.backtest import run_backtest
    from riskcast.features.targets import count_column, target_column

    X, y, months = _panel(n_units=6, n_months=72, n_noise=3)
    units = np.tile([f"u{i}" for i in range(6)], 72)
    panel = X.assign(
        unit_id=units,
        unit_name=units,
        country="C",
        month=months,
        **{target_column("any", 1): y, count_column("any", 1): y},
    )
    kw = dict(min_train_months=36, eval_months=24)
    _Recorder.seen = []
    preds = run_backtest(
        panel,
        list(X.columns),
        {"t": Tuned(_Recorder(), param="level", grid=(0.1, 0.5, 0.3), search_every=12)},
        (1,),
        **kw,
    )
    n_origins = preds["origin"].nunique()
    assert (
        n_origins == 24 and len(_Recorder.seen) == n_origins + 2 * 3
    )  # one refit per origin, a 3-value search at 2 of them

    tuned = Tuned(
        LogisticCount(C=0.05), param="C", grid=(0.001, 0.1, 10.0), holdout_months=12, search_every=12
    )
    a = run_backtest(panel, list(X.columns), {"t": tuned}, (1,), **kw)
    b = run_backtest(panel, list(X.columns), {"t": tuned}, (1,), n_jobs=2, **kw)
    pd.testing.assert_frame_equal(a, b)
    every = run_backtest(panel, list(X.columns), {"t": clone(tuned).set_params(search_every=1)}, (1,), **kw)
    first = a["origin"] == a["origin"].min()  # searched in both runs: the same forecasts
    pd.testing.assert_frame_equal(
        a[first].reset_index(drop=True), every[every["origin"] == a["origin"].min()].reset_index(drop=True)
    )
