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
    X = pd.DataFrame({"signal": signal, **{f"noise{i}": rng.normal(size=len(months)) for i in range(n_noise)}})
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
    m = Tuned(_Recorder(), param="level", grid=(0.1, 0.5, float(y.mean())), holdout_months=12, horizon=3).fit(X, y, months=months)
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
    m = Tuned(LogisticCount(C=1.0), param="C", grid=(0.001, 0.01, 0.1, 10.0), holdout_months=12).fit(X, y, months=months)
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
    f.write_text('''
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
''')
    models = load_model_set(f, {"full": ["a", "b"]}, {"share": "s", "sum": "t", "current": "c"})
    assert list(models) == ["climatology", "tuned"] and models["tuned"].estimator.columns == ("a", "b")
    f.write_text(f.read_text().replace('name = "climatology"\nmodel = "Climatology"', 'name = "climatology"\nmodel = "Climatology"\npart_only = true'))
    with pytest.raises(ConfigError, match="cannot be part_only"):
        load_model_set(f, {"full": ["a", "b"]}, {"share": "s", "sum": "t", "current": "c"})
