from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from riskcast.evaluation.ablation import ABLATION_COLUMNS, ablation_table, run_ablation
from riskcast.evaluation.metrics import METRICS
from riskcast.features import calendar, history, presence, shocks, spatial
from riskcast.features.base import Feature
from riskcast.features.families import FAMILIES, columns_by_family, feature_family
from riskcast.features.history import Decay, Events, Interaction, Lag, Rolling
from riskcast.features.presence import Present, Withdrawal
from riskcast.features.shocks import PostShock, ShockDecay
from riskcast.features.spatial import SpatialLag
from riskcast.features.spec import load_feature_set
from riskcast.models import Climatology, LogisticCount

FAMILY_COLS = {
    "history": ["h_recent", "h_noise"],
    "spatial": ["s_neighbours", "s_noise"],
    "presence": ["p_troops", "p_noise"],
    "shocks": ["k_coup", "k_noise"],
    "calendar": ["c_sin", "c_cos"],
}


def _panel(n_units: int = 8, n_months: int = 40, seed: int = 0) -> pd.DataFrame:
    """Units x months by hand: attacks depend on troop presence and recent attacks."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2015-01-01", periods=n_months, freq="MS")
    troops = (rng.random((n_units, n_months)) < 0.4).astype(float)
    counts = rng.poisson(0.3 + 1.5 * troops)
    frames = []
    for u in range(n_units):
        c = counts[u].astype(float)
        prev = np.r_[0.0, c[:-1]]
        share = pd.Series(c > 0, dtype=float).rolling(12, min_periods=1).mean().to_numpy()
        total = pd.Series(c).rolling(12, min_periods=1).sum().to_numpy()
        frames.append(
            pd.DataFrame(
                {
                    "unit_id": f"U{u}",
                    "unit_name": f"unit {u}",
                    "country": "Mali" if u < 4 else "Niger",
                    "month": months,
                    "h_recent": prev,
                    "h_noise": rng.normal(size=n_months),
                    "s_neighbours": counts[:, :].mean(axis=0),
                    "s_noise": rng.normal(size=n_months),
                    "p_troops": troops[u],
                    "p_noise": rng.normal(size=n_months),
                    "k_coup": (np.arange(n_months) > 20).astype(float),
                    "k_noise": rng.normal(size=n_months),
                    "c_sin": np.sin(2 * np.pi * months.month / 12),
                    "c_cos": np.cos(2 * np.pi * months.month / 12),
                    "clim_share": share,
                    "clim_sum": total,
                    # the feature at month t describes t; the target is month t + 1 (NaN past the panel's end)
                    "target_count_h1": np.r_[c[1:], np.nan],
                }
            )
        )
    panel = pd.concat(frames, ignore_index=True)
    panel["target_any_h1"] = (
        (panel["target_count_h1"] > 0).astype(float).where(panel["target_count_h1"].notna())
    )
    return panel


def _run(cols_by_family):
    return run_ablation(
        _panel(),
        cols_by_family,
        lambda cols: LogisticCount(columns=tuple(cols)),
        (1,),
        backtest_kwargs={"min_train_months": 12, "eval_months": 6},
        reference_model=Climatology(share_column="clim_share", sum_column="clim_sum", window=12),
    )


def test_ablation_one_row_per_variant_horizon_metric_on_identical_rows():
    a = _run(FAMILY_COLS)
    assert list(a.columns) == ABLATION_COLUMNS
    variants = ["all", *(f"-{f}" for f in FAMILIES)]
    assert sorted(a["variant"].unique()) == sorted(variants)
    assert len(a) == len(variants) * 1 * len(METRICS)
    assert not a.duplicated(["variant", "horizon", "metric"]).any()
    # families without columns here (actors, sub_events, cross_border) are reported as not ablated
    skipped = a["variant"].isin([f"-{f}" for f in FAMILIES if f not in FAMILY_COLS])
    assert (a.loc[skipped, "n"] == 0).all() and a.loc[skipped, "note"].str.contains("no columns").all()
    a = a[~skipped]
    assert a["n"].nunique() == 1 and a["n"].iloc[0] == 8 * 6  # identical folds: 8 units x 6 origins
    assert (a["n_features"] == np.where(a["variant"] == "all", 10, 8)).all()
    full = a[a["variant"] == "all"]
    assert (full["change"].abs() < 1e-12).all()
    a2 = a.set_index(["variant", "metric"])
    row = a2.loc[("-presence", "brier")]
    assert row["change"] == pytest.approx(row["value"] - row["value_all"])
    assert a2.loc[("-presence", "brier_skill_vs_climatology"), "reference_value"] == 0.0
    # the reference is scored on the same rows whichever variant it sits beside
    assert a.loc[a["metric"] == "brier", "reference_value"].nunique() == 1


def test_family_without_columns_is_skipped_with_a_note():
    cols = {**FAMILY_COLS, "calendar": []}
    a = _run(cols)
    skipped = a[a["variant"] == "-calendar"]
    assert len(skipped) == len(METRICS) and skipped["value"].isna().all()
    assert skipped["note"].str.contains("family 'calendar' has no columns").all()
    scored = a[~a["variant"].isin(["-calendar", "-actors", "-sub_events", "-cross_border"])]
    assert scored["n"].nunique() == 1
    wide = ablation_table(a)
    assert list(wide.columns) == [
        "all",
        "climatology",
        "without history",
        "without actors",
        "without sub_events",
        "without spatial",
        "without cross_border",
        "without presence",
        "without shocks",
        "without calendar",
    ]
    assert wide.index.get_level_values("metric")[0] == "auroc"
    assert wide["without calendar"].isna().all()


def test_unknown_family_and_unrestricted_model_are_refused():
    with pytest.raises(ValueError, match="unknown feature families"):
        _run({**FAMILY_COLS, "weather": ["x"]})
    with pytest.raises(ValueError, match="columns=None"):
        run_ablation(
            _panel(),
            FAMILY_COLS,
            lambda cols: LogisticCount(),
            (1,),
            backtest_kwargs={"min_train_months": 12, "eval_months": 6},
            reference_model=Climatology(share_column="clim_share", sum_column="clim_sum"),
        )


# --- family tagging -----------------------------------------------------------------------


def test_every_feature_class_has_a_family():
    for mod in (history, spatial, presence, shocks, calendar):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) and issubclass(obj, Feature):
                assert obj.family in FAMILIES, name
                # declared by the class or a family base (_Presence, _Shock), not inherited from Feature's default
                assert any("family" in vars(c) for c in obj.__mro__ if c not in (Feature, object)), name


def test_composed_features_carry_their_information():
    assert feature_family(Lag(1)) == "history"
    assert feature_family(Lag(1, of=SpatialLag())) == "spatial"
    assert feature_family(Rolling(3, of=SpatialLag())) == "spatial"
    assert feature_family(SpatialLag(of=Withdrawal(force="France"))) == "presence"
    assert feature_family(Decay(of=Present(force="France"))) == "presence"
    assert (
        feature_family(
            Interaction(of=Present(force="France"), by=PostShock(kind="withdrawal_announced", months=12))
        )
        == "presence"
    )
    assert feature_family(Interaction(of=Events(), by=ShockDecay(kind="coup", halflife=3))) == "shocks"


def test_default_set_columns_all_map_to_a_family():
    fs = load_feature_set("default")
    by_fam = columns_by_family(fs)
    assert set(by_fam) == set(FAMILIES)
    assert sorted(c for cols in by_fam.values() for c in cols) == sorted(fs.columns)
    # the default set uses every family but the sub-event types (features/dynamics.toml) and the
    # cross-border exposure (features/sahel.toml, for multi-country panels)
    assert [f for f in FAMILIES if not by_fam[f]] == ["sub_events", "cross_border"]
    assert "rolling_window3_of_events_actor_jnim" in by_fam["actors"]
    dyn = columns_by_family(load_feature_set("dynamics"))
    assert "rolling_window3_of_events_sub_remote_explosive_landmine_ied" in dyn["sub_events"]
    assert "rolling_window3_of_fatalities_actor_jnim" in dyn["actors"]
    assert "across_border" in columns_by_family(load_feature_set("sahel"))["cross_border"]
    assert "spatial_lag_of_withdrawal_force_france" in by_fam["presence"]
    assert "spatial_lag" in by_fam["spatial"] and "rainy_season" in by_fam["calendar"]
