"""Calendar features: month of the year and the rainy season from the curated table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from riskcast.facts import load_rainy_season
from riskcast.features import FeatureContext
from riskcast.features.base import FeatureError
from riskcast.features.calendar import MonthOfYear, RainySeason

MONTHS = pd.date_range("2016-11", periods=26, freq="MS")


def ctx(countries=("Mali", "Niger", "Burkina Faso"), rainy=None) -> FeatureContext:
    units = pd.DataFrame({"unit_id": [f"U{i}" for i in range(len(countries))], "country": list(countries)})
    return FeatureContext(
        units=units,
        months=MONTHS,
        neighbours=sp.csr_matrix((len(units), len(units))),
        rainy_season=dict(rainy or {}),
    )


def test_month_of_year_against_a_loop():
    c = ctx()
    for comp, fn in (("sin", np.sin), ("cos", np.cos)):
        got = c.get(MonthOfYear(comp))
        for j, m in enumerate(MONTHS):
            assert (got[:, j] == fn(2 * np.pi * m.month / 12)).all()
    assert MonthOfYear().name == "month_of_year" and MonthOfYear("cos").name == "month_of_year_cos"
    with pytest.raises(FeatureError) as exc:
        MonthOfYear("tan")
    assert exc.value.param == "component"


def test_rainy_season_from_the_curated_table():
    table = load_rainy_season()
    assert set(table["country"]) == {"Mali", "Burkina Faso", "Niger"}
    assert table["source"].str.contains("GIEWS").all()
    got = ctx().get(RainySeason())
    want = np.array([[float(6 <= m.month <= 9) for m in MONTHS]] * 3)
    np.testing.assert_array_equal(got, want)


def test_rainy_season_override_and_missing_country():
    got = ctx(("Mali", "Niger"), rainy={"Niger": (11, 12, 1)}).get(RainySeason())
    assert got[1].tolist() == [float(m.month in (11, 12, 1)) for m in MONTHS]
    assert got[0].tolist() == [float(6 <= m.month <= 9) for m in MONTHS]
    with pytest.raises(ValueError, match=r"no rainy-season months for \['atlantis'\]"):
        ctx(("Mali", "Atlantis")).get(RainySeason())
