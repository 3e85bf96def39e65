"""Intensity targets: each is its indicator feature at t + h, with its own climatology columns."""

from __future__ import annotations

import numpy as np
import pytest

from riskcast.config import IntensitySpec, TargetSpec, default_config
from riskcast.errors import ConfigError
from riskcast.features.base import FeatureContext
from riskcast.features.history import Escalation, Events
from riskcast.features.targets import (
    baseline_features_of,
    count_column,
    describe_target,
    indicator_of,
    shift_ahead,
    target_column,
)
from riskcast.jobs.ingest import ingest
from riskcast.jobs.stages import build_feature_panel, feature_columns, models_for


def test_escalation_kernel_by_hand():
    x = np.array([[0, 1, 1, 1, 5, 0, 3, 1.0]])
    ctx = FeatureContext.__new__(FeatureContext)
    ctx.cache = {}
    ctx.get = lambda f: x if isinstance(f, Events) else f.compute(ctx)  # only the kernel is under test
    hit = Escalation(2.0, 3).compute(ctx)
    # month 1: 1 > 2 x 0/3; month 2: 1 > 2 x 1/3; month 3: 1 < 2 x 2/3; month 4: 5 > 2 x 3/3;
    # month 6: 3 < 2 x 6/3; month 7: 1 < 2 x 8/3; month 5: no attack
    np.testing.assert_array_equal(hit, [[0, 1, 1, 0, 1, 0, 0, 0]])


def test_shift_ahead_and_names():
    x = np.arange(6.0).reshape(1, 6)
    np.testing.assert_array_equal(shift_ahead(x, 2), [[2, 3, 4, 5, np.nan, np.nan]])
    assert np.isnan(shift_ahead(x, 9)).all()
    assert target_column("k5", 3) == "target_k5_h3" and count_column("k5", 3) == "target_k5_count_h3"
    assert count_column("any", 1) == "target_count_h1"
    assert (
        describe_target(IntensitySpec(name="d", kind="fatalities", at_least=10))
        == "at least 10 deaths in attacks in the month"
    )


@pytest.mark.parametrize(
    "bad, match",
    [
        ([{"name": "k5", "kind": "events"}, {"name": "k5", "kind": "fatalities"}], "unique"),
        ([{"name": "any", "kind": "events"}], "not 'any'"),
        ([{"name": "K 5", "kind": "events"}], "pattern"),
        ([{"name": "k5", "kind": "attacks"}], "kind"),
    ],
)
def test_bad_intensity_specs_are_refused(bad, match):
    with pytest.raises(Exception, match=match):
        TargetSpec(intensity=bad)


def test_intensity_models_must_be_in_the_set_and_forecast_the_target():
    cfg = default_config(['model.intensity_models=["nope"]'])
    with pytest.raises(ConfigError, match="intensity_models"):
        models_for(cfg, "k5")
    # a count GLM's P is P(count >= 1), whatever it is trained on: refused for an intensity target
    for name in ("glm_negbin", "ensemble"):
        with pytest.raises(ConfigError, match="P\\(count >= 1\\)"):
            models_for(default_config([f'model.intensity_models=["{name}"]']), "k5")


@pytest.fixture(scope="module")
def demo_panel():
    cfg = default_config(["panel.end=2016-12"])
    return cfg, build_feature_panel(cfg, ingest(cfg))


def test_panel_targets_are_the_indicator_at_t_plus_h(demo_panel):
    cfg, panel = demo_panel
    by_unit = panel.sort_values(["unit_id", "month"]).groupby("unit_id")
    for spec in cfg.target.intensity:
        base = baseline_features_of(spec, cfg.model.climatology_months)
        current = base["current"].name
        assert current == indicator_of(spec).name and current in feature_columns(panel)
        for h in cfg.backtest.horizons:
            for _, g in by_unit:
                expected = g[current].shift(-h).to_numpy()
                np.testing.assert_array_equal(g[target_column(spec.name, h)].to_numpy(), expected)
        # events >= k: the indicator matches the observed count
        if spec.kind == "events":
            np.testing.assert_array_equal(panel[current], (panel["n_target"] >= spec.at_least).astype(float))
        if spec.kind == "fatalities":
            np.testing.assert_array_equal(
                panel[current], (panel["n_fatalities"] >= spec.at_least).astype(float)
            )
            np.testing.assert_array_equal(
                panel.groupby("unit_id")["n_fatalities"].shift(-1).to_numpy(),
                panel[count_column(spec.name, 1)].to_numpy(),
            )


def test_intensity_baselines_read_the_targets_own_climatology(demo_panel):
    cfg, panel = demo_panel
    for spec in cfg.target.intensity:
        models = models_for(cfg, spec.name)
        base = baseline_features_of(spec, cfg.model.climatology_months)
        assert models["climatology"].share_column == base["share"].name
        assert models["persistence"].column == base["current"].name
        assert set(cfg.model.intensity_models) <= set(models) and "lgbm" not in models
        # the full models read the target's share and indicator besides the feature set
        assert {base["share"].name, base["current"].name} <= set(models["logistic"].estimator.columns)
        assert models["logistic_shrunk"].share_column == base["share"].name
