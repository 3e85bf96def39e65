from __future__ import annotations

import numpy as np

from riskcast.features import Decay, Events, Lag
from riskcast.features.history import Interaction
from tests.conftest import random_context


def test_interaction_is_the_product_and_names_both_parts():
    ctx = random_context(3)
    f = Interaction(of=Events(), by=Lag(1))
    x = ctx.arrays["n_target"]
    expected = np.zeros_like(x)
    for u in range(x.shape[0]):
        for t in range(x.shape[1]):
            expected[u, t] = x[u, t] * (x[u, t - 1] if t else 0.0)
    np.testing.assert_array_equal(ctx.get(f), expected)
    assert f.name == "interaction_by_lag_k1"
    assert Interaction(of=Decay(12), by=Events()).name == "interaction_of_decay_halflife12"
    assert "while" in f.describe()
