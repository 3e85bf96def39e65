"""Shared test helpers: where the real shared data lives, and seeded random panels."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

PROJECT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real Sahel data not present at {SHARED_DATA} (../shared/data beside the project)")
    return SHARED_DATA


def random_context(seed: int = 0, n_units: int = 7, n_months: int = 40):
    """A seeded random panel: sparse counts, ragged starts, a unit with no events, a random graph."""
    from riskcast.features import FeatureContext

    rng = np.random.default_rng(seed)
    x = rng.poisson(0.6, size=(n_units, n_months)).astype(float)
    x[0] = 0.0  # a unit with no events at all
    x[1, : n_months // 2] = 0.0  # a ragged start
    x[2, 5:15] = 0.0  # a gap
    adj = np.triu(rng.random((n_units, n_units)) < 0.35, 1)
    adj = (adj | adj.T).astype(float)
    months = pd.date_range("2015-01", periods=n_months, freq="MS")
    units = pd.DataFrame({"unit_id": [f"U{i}" for i in range(n_units)], "country": ["A"] * 4 + ["B"] * (n_units - 4)})
    fat = rng.poisson(1.0, size=x.shape) * (x > 0)
    return FeatureContext(arrays={"n_target": x, "n_fatalities": fat.astype(float)}, neighbours=sp.csr_matrix(adj), months=months, units=units)
