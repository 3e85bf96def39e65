"""Time flows one way: nothing dated after month t reaches a feature or forecast made at t."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcast.config import default_config
from riskcast.jobs.ingest import ingest
from riskcast.jobs.stages import build_feature_panel, feature_columns
from riskcast.models import make_models


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
    return type(data)(events=ev, counts=data.counts, presence=data.presence, shocks=data.shocks, units=data.units)


@pytest.mark.parametrize("t", ["2015-06", "2018-12", "2022-03"])
@pytest.mark.parametrize("mode", ["removed", "scrambled"])
def test_features_and_forecasts_at_t_do_not_move(setup, t, mode):
    cfg, data, full = setup
    t = pd.Timestamp(t)
    other = build_feature_panel(cfg, _truncated(data, t, np.random.default_rng(1) if mode == "scrambled" else None))
    cols = feature_columns(full)
    upto = full["month"] <= t
    pd.testing.assert_frame_equal(full.loc[upto, cols].reset_index(drop=True), other.loc[upto, cols].reset_index(drop=True))
    assert not full.loc[~upto, cols].equals(other.loc[~upto, cols])  # the change after t is real
    # A forecast made at t trains on rows whose targets (t' + h) are known by t.
    for h in (1, 6):
        train = full["month"] <= t - pd.DateOffset(months=h)
        test = full["month"] == t
        p = []
        for panel in (full, other):
            m = make_models()["logistic"].fit(panel.loc[train, cols], panel.loc[train, f"target_any_h{h}"])
            p.append(m.predict_proba(panel.loc[test, cols])[:, 1])
        np.testing.assert_array_equal(p[0], p[1])


def test_unit_ids_are_never_model_inputs(setup):
    cfg, data, full = setup
    cols = feature_columns(full)
    assert not {"unit_id", "unit_name", "country", "month"} & set(cols)
    assert all(pd.api.types.is_float_dtype(full[c]) for c in cols)
    # Renaming the units changes nothing a model sees.
    renamed = data.units.assign(unit_id=[f"X{i:03d}" for i in range(len(data.units))])
    mapping = dict(zip(data.units["unit_id"], renamed["unit_id"]))
    renamed["neighbours"] = data.units["neighbours"].fillna("").map(lambda s: "|".join(mapping[n] for n in s.split("|") if n))
    data2 = type(data)(events=data.events.assign(unit_id=data.events["unit_id"].map(mapping)), counts=data.counts,
                       presence=data.presence, shocks=data.shocks, units=renamed)
    other = build_feature_panel(cfg, data2)
    pd.testing.assert_frame_equal(full[cols], other[cols])
