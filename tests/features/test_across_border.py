"""AcrossBorder: attacks in other countries' units within a radius (the tri-border area as one theatre)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from riskcast.features import AcrossBorder, Events, FeatureError
from riskcast.features.base import FeatureContext
from riskcast.features.spatial import haversine_km

MONTHS = pd.date_range("2019-01-01", periods=4, freq="MS")
# Two Mali cercles, one near the border; two Burkina provinces, one near it; one Niger department.
UNITS = pd.DataFrame(
    {
        "unit_id": ["ML1", "ML2", "BF1", "BF2", "NE1"],
        "country": ["Mali", "Mali", "Burkina Faso", "Burkina Faso", "Niger"],
        "centroid_lat": [14.5, 17.0, 14.0, 11.0, 14.2],
        "centroid_lon": [-1.5, -3.0, -1.0, -1.5, 0.5],
    }
)


def _ctx(counts: np.ndarray) -> FeatureContext:
    return FeatureContext(
        units=UNITS, months=MONTHS, neighbours=sp.csr_matrix((5, 5)), arrays={"n_target": counts}
    )


def test_sums_other_countries_within_the_radius_only():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 9, size=(5, 4)).astype(float)
    radius = 250.0
    got = AcrossBorder(radius_km=radius).compute(_ctx(x))
    lat, lon = UNITS["centroid_lat"].to_numpy(), UNITS["centroid_lon"].to_numpy()
    km = haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    other = UNITS["country"].to_numpy()[:, None] != UNITS["country"].to_numpy()[None, :]
    expected = ((km <= radius) & other).astype(float) @ x
    np.testing.assert_allclose(got, expected)
    assert expected[0].sum() > 0 and np.all(got[1] == 0)  # the far Mali cercle sees nothing across the border


def test_causal_month_by_month_and_zero_in_one_country():
    x = np.zeros((5, 4))
    x[2, 3] = 7.0  # an attack in BF1 in the last month only
    got = AcrossBorder(radius_km=150.0).compute(_ctx(x))
    assert np.all(got[:, :3] == 0)  # nothing before it happened
    assert got[0, 3] == 7.0 and got[2, 3] == 0.0  # ML1 sees it; BF1 does not count itself
    mali = UNITS.iloc[:2]
    one = FeatureContext(
        units=mali, months=MONTHS, neighbours=sp.csr_matrix((2, 2)), arrays={"n_target": np.ones((2, 4))}
    )
    assert np.all(AcrossBorder().compute(one) == 0)


def test_bad_radius_and_name():
    with pytest.raises(FeatureError, match="radius_km"):
        AcrossBorder(radius_km=0)
    assert AcrossBorder().name == "across_border" and AcrossBorder(
        of=Events(event_type="Battles")
    ).name.startswith("across_border")
