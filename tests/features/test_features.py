"""Each vectorised feature against a slow, obviously-correct loop; and causality."""
from __future__ import annotations

import numpy as np
import pytest

from riskcast.features import (CountryTotal, Current, Decay, Lag, RollingShareAny, RollingSum, SpatialLag, TimeSince,
                               default_features)
from tests.conftest import random_context


def oracle(feature, ctx) -> np.ndarray:
    x = ctx.arrays[getattr(feature, "source", "n_target")]
    n_u, n_m = x.shape
    adj = ctx.neighbours.toarray() > 0
    out = np.zeros((n_u, n_m))
    for u in range(n_u):
        for t in range(n_m):
            name = type(feature).__name__
            if name == "Current":
                out[u, t] = x[u, t]
            elif name == "Lag":
                out[u, t] = x[u, t - feature.k] if t - feature.k >= 0 else 0.0
            elif name == "RollingSum":
                out[u, t] = sum(x[u, s] for s in range(max(0, t - feature.window + 1), t + 1))
            elif name == "RollingShareAny":
                out[u, t] = sum(x[u, s] > 0 for s in range(max(0, t - feature.window + 1), t + 1)) / feature.window
            elif name in ("TimeSince", "Decay"):
                past = [s for s in range(t + 1) if x[u, s] > 0]
                if name == "TimeSince":
                    out[u, t] = min(t - past[-1], feature.cap) if past else feature.cap
                else:
                    out[u, t] = 2 ** (-(t - past[-1]) / feature.halflife) if past else 0.0
            elif name == "SpatialLag":
                # units exactly `order` steps away by breadth-first search
                dist = {u: 0}
                frontier = [u]
                while frontier:
                    nxt = []
                    for a in frontier:
                        for b in range(n_u):
                            if adj[a, b] and b not in dist:
                                dist[b] = dist[a] + 1
                                nxt.append(b)
                    frontier = nxt
                ring = [b for b, d in dist.items() if d == feature.order]
                vals = [x[b, t] for b in ring]
                out[u, t] = (sum(vals) / len(vals) if vals else 0.0) if feature.stat == "mean" else sum(vals)
            elif name == "CountryTotal":
                c = ctx.units["country"].iloc[u]
                out[u, t] = sum(x[v, t] for v in range(n_u) if ctx.units["country"].iloc[v] == c)
    return out


FEATURES = [Current(), Current(source="n_fatalities"), Lag(1), Lag(3), RollingSum(3), RollingSum(12), RollingShareAny(6),
            TimeSince(), TimeSince(cap=5), Decay(3.0), Decay(12.0), SpatialLag(1), SpatialLag(1, stat="mean"), SpatialLag(2),
            SpatialLag(3, stat="mean"), CountryTotal()]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("feature", FEATURES, ids=lambda f: f.name)
def test_feature_matches_oracle(feature, seed):
    ctx = random_context(seed)
    np.testing.assert_allclose(feature.compute(ctx), oracle(feature, ctx), rtol=0, atol=1e-12)


def test_names_say_how_a_feature_was_computed():
    assert Decay(12).name == "decay_halflife12"
    assert SpatialLag(2, stat="mean").name == "spatial_lag_order2_mean"
    assert Lag(1).name == "lag_k1"
    assert Current(source="n_fatalities").name == "current_n_fatalities"
    names = [f.name for f in default_features()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("t", [0, 7, 20, 38])
def test_features_at_t_ignore_everything_after_t(t):
    """Scramble every month after t: no feature value at months <= t may move."""
    ctx = random_context(5)
    rng = np.random.default_rng(99)
    scrambled = {k: v.copy() for k, v in ctx.arrays.items()}
    for v in scrambled.values():
        v[:, t + 1 :] = rng.poisson(3.0, size=v[:, t + 1 :].shape)
    ctx2 = type(ctx)(arrays=scrambled, neighbours=ctx.neighbours, months=ctx.months, units=ctx.units)
    for f in default_features() + FEATURES:
        a, b = f.compute(ctx), f.compute(ctx2)
        np.testing.assert_array_equal(a[:, : t + 1], b[:, : t + 1], err_msg=f.name)
