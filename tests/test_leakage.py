"""Time flows one way: nothing dated after month t reaches a feature or forecast made at t."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcast.config import default_config
from riskcast.evaluation.backtest import fit_model, predict_frame
from riskcast.jobs.ingest import ingest
from riskcast.jobs.stages import build_feature_panel, feature_columns, models_for


@pytest.fixture(scope="module")
def setup():
    cfg = default_config(["panel.end=2024-12"])
    data = ingest(cfg)
    return cfg, data, build_feature_panel(cfg, data)


def _truncated(data, t: pd.Timestamp, rng: np.random.Generator | None = None):
    """Events after month t removed, or (with rng) replaced by scrambled ones."""
    ev = data.events
    after = ev["date"] >= t + pd.DateOffset(months=1)
    if rng is None:
        ev = ev[~after]
    else:
        late = ev[after].copy()
        late["unit_id"] = rng.permutation(late["unit_id"].to_numpy())
        late["fatalities"] = rng.integers(0, 50, len(late))
        ev = pd.concat([ev[~after], late, late.assign(event_id=late["event_id"] + "-dup")], ignore_index=True)
    return type(data)(
        events=ev, counts=data.counts, presence=data.presence, shocks=data.shocks, units=data.units
    )


@pytest.mark.parametrize("t", ["2015-06", "2018-12", "2022-03"])
@pytest.mark.parametrize("mode", ["removed", "scrambled"])
def test_features_and_forecasts_at_t_do_not_move(setup, t, mode):
    cfg, data, full = setup
    t = pd.Timestamp(t)
    other = build_feature_panel(
        cfg, _truncated(data, t, np.random.default_rng(1) if mode == "scrambled" else None)
    )
    cols = feature_columns(full)
    upto = full["month"] <= t
    pd.testing.assert_frame_equal(
        full.loc[upto, cols].reset_index(drop=True), other.loc[upto, cols].reset_index(drop=True)
    )
    assert not full.loc[~upto, cols].equals(other.loc[~upto, cols])  # the change after t is real
    # A forecast made at t trains on rows whose targets (t' + h) are known by t: every model of
    # the default set (tuned, boosted, ensembled, with their internal hold-outs) gives the same
    # forecast with or without what happened after t.
    for h in (1, 6):
        train = (full["month"] <= t - pd.DateOffset(months=h)).to_numpy()
        test = (full["month"] == t).to_numpy()
        for name, model in models_for(cfg).items():
            p = []
            for panel in (full, other):
                y = panel[f"target_any_h{h}"].to_numpy(dtype=float)
                rows = train & ~np.isnan(y)
                est = fit_model(
                    model,
                    panel.loc[rows, cols],
                    y[rows],
                    panel.loc[rows, f"target_count_h{h}"].to_numpy(dtype=float),
                    panel.loc[rows, "month"],
                    h,
                )
                p.append(predict_frame(est, panel.loc[test, cols]))
            for key in ("p", "expected_count", "q10", "q90"):
                np.testing.assert_array_equal(p[0][key], p[1][key], err_msg=f"{name} {key} h={h}")


@pytest.mark.parametrize("t", ["2018-12"])
def test_intensity_targets_and_their_forecasts_at_t_do_not_move(setup, t):
    """Every intensity target (at least k attacks, deaths, escalation): the models and baselines
    fitted at t forecast the same with or without what happened after t, and a target at t + h
    is the only column of row t that moves."""
    cfg, data, full = setup
    assert cfg.target.intensity, "the main job's config should carry intensity targets"
    t = pd.Timestamp(t)
    other = build_feature_panel(cfg, _truncated(data, t, np.random.default_rng(3)))
    cols = feature_columns(full)
    for spec in cfg.target.intensity:
        for h in (1, 6):
            y_full, y_other = (f"target_{spec.name}_h{h}" for _ in range(2))
            known = (full["month"] <= t - pd.DateOffset(months=h)).to_numpy()
            np.testing.assert_array_equal(
                full.loc[known, y_full], other.loc[known, y_other]
            )  # targets known by t agree
            test = (full["month"] == t).to_numpy()
            for name, model in models_for(cfg, spec.name).items():
                p = []
                for panel in (full, other):
                    y = panel[f"target_{spec.name}_h{h}"].to_numpy(dtype=float)
                    rows = known & ~np.isnan(y)
                    est = fit_model(
                        model,
                        panel.loc[rows, cols],
                        y[rows],
                        panel.loc[rows, f"target_{spec.name}_count_h{h}"].to_numpy(dtype=float),
                        panel.loc[rows, "month"],
                        h,
                    )
                    p.append(predict_frame(est, panel.loc[test, cols])["p"])
                np.testing.assert_array_equal(p[0], p[1], err_msg=f"{spec.name} {name} h={h}")


def test_unit_ids_are_never_model_inputs(setup):
    cfg, data, full = setup
    cols = feature_columns(full)
    assert not {"unit_id", "unit_name", "country", "month"} & set(cols)
    assert all(pd.api.types.is_float_dtype(full[c]) for c in cols)
    # Renaming the units changes nothing a model sees.
    renamed = data.units.assign(unit_id=[f"X{i:03d}" for i in range(len(data.units))])
    mapping = dict(zip(data.units["unit_id"], renamed["unit_id"]))
    renamed["neighbours"] = (
        data.units["neighbours"].fillna("").map(lambda s: "|".join(mapping[n] for n in s.split("|") if n))
    )
    data2 = type(data)(
        events=data.events.assign(unit_id=data.events["unit_id"].map(mapping)),
        counts=data.counts,
        presence=data.presence,
        shocks=data.shocks,
        units=renamed,
    )
    other = build_feature_panel(cfg, data2)
    pd.testing.assert_frame_equal(full[cols], other[cols])


def _presence_and_shocks_after(data, t: pd.Timestamp, rng: np.random.Generator):
    """Presence rows starting after t moved and re-numbered, end_months after t changed (still
    after t), a new force arriving after t; shocks after t re-dated, re-kinded and duplicated."""
    p = data.presence.copy()
    late = p["start_month"] > t
    straddle = ~late & (p["end_month"].isna() | (p["end_month"] > t))
    p.loc[straddle, "end_month"] = t + pd.DateOffset(months=1)
    p.loc[late, ["start_month", "end_month"]] = p.loc[late, ["start_month", "end_month"]] + pd.DateOffset(
        months=2
    )
    p.loc[late, "troops"] = rng.integers(0, 5000, int(late.sum())).astype(float)
    new = p.iloc[:3].assign(
        force="Newcomers", start_month=t + pd.DateOffset(months=1), end_month=pd.NaT, troops=700.0
    )
    s = data.shocks.copy()
    after = s["date"] >= t + pd.DateOffset(months=1)
    moved = s[after].assign(
        kind=rng.choice(["coup", "peace_accord", "withdrawal_completed"], int(after.sum()))
    )
    moved["date"] = rng.permutation(moved["date"].to_numpy())
    extra = moved.assign(region=None)
    return type(data)(
        events=data.events,
        counts=data.counts,
        presence=pd.concat([p, new], ignore_index=True),
        shocks=pd.concat([s[~after], moved, extra], ignore_index=True),
        units=data.units,
    )


@pytest.mark.parametrize("t", ["2015-06", "2018-12", "2022-03"])
def test_presence_and_shocks_after_t_do_not_move_features_at_t(setup, t):
    cfg, data, full = setup
    t = pd.Timestamp(t)
    other = build_feature_panel(cfg, _presence_and_shocks_after(data, t, np.random.default_rng(2)))
    cols = feature_columns(full)
    upto = full["month"] <= t
    pd.testing.assert_frame_equal(
        full.loc[upto, cols].reset_index(drop=True), other.loc[upto, cols].reset_index(drop=True)
    )
    assert not full.loc[~upto, cols].equals(other.loc[~upto, cols])
    # Shocks removed after t: the same.
    late = data.shocks["date"] >= t + pd.DateOffset(months=1)
    fewer = type(data)(
        events=data.events,
        counts=data.counts,
        presence=data.presence[data.presence["start_month"] <= t],
        shocks=data.shocks[~late],
        units=data.units,
    )
    gone = build_feature_panel(cfg, fewer)
    pd.testing.assert_frame_equal(
        full.loc[upto, cols].reset_index(drop=True), gone.loc[upto, cols].reset_index(drop=True)
    )
