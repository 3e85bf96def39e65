"""A unit named the way a person names it: by id, or by name in any case and accents."""

from __future__ import annotations

import pandas as pd
import pytest

from riskcast.regions.names import resolve_unit

UNITS = pd.DataFrame(
    {
        "unit_id": ["ML07", "ML04", "BF01", "NE01"],
        "unit_name": ["Gao", "Ségou", "Sahel", "Sahel"],
        "country": ["Mali", "Mali", "Burkina Faso", "Niger"],
    }
)


@pytest.mark.parametrize("query", ["ML07", "Gao", "gao", " GAO "])
def test_an_id_or_a_name_resolves(query):
    assert resolve_unit(query, UNITS) == "ML07"


def test_accents_and_case_are_folded():
    assert resolve_unit("segou", UNITS) == resolve_unit("SÉGOU", UNITS) == "ML04"


def test_a_shared_name_is_refused_with_the_ids_and_resolves_with_its_country():
    with pytest.raises(
        ValueError, match=r"names 2 units: BF01 \(Sahel, Burkina Faso\), NE01 \(Sahel, Niger\)"
    ):
        resolve_unit("Sahel", UNITS)
    assert resolve_unit("Sahel, Niger", UNITS) == "NE01"
    assert resolve_unit("sahel, burkina", UNITS) == "BF01"  # the country's other spellings too


def test_an_unknown_name_suggests_the_nearest():
    with pytest.raises(ValueError, match="did you mean Ségou"):
        resolve_unit("Segu", UNITS)
