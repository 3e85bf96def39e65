"""Burkina Faso's admin-2 gazetteer (45 provinces): its shape, and how well it covers the real
ACLED names when the shared data are present."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcast.facts import load_region_files, load_regions
from riskcast.regions import Gazetteer, assign_units

#: Burkina Faso's extent (lat 9.4-15.1 N, lon 5.6 W-2.4 E), with a little margin.
BBOX = {"lat": (9.3, 15.2), "lon": (-5.6, 2.5)}


@pytest.fixture(scope="module")
def provinces() -> pd.DataFrame:
    return load_region_files("admin2")["regions_bfa_admin2.csv"]


def _split(cell: object) -> list[str]:
    return [] if pd.isna(cell) or cell == "" else str(cell).split("|")


def test_45_provinces_with_unique_ocha_ids(provinces: pd.DataFrame) -> None:
    assert len(provinces) == 45
    assert provinces["unit_id"].is_unique and provinces["name"].is_unique
    assert set(provinces["country"]) == {"Burkina Faso"} and set(provinces["level"]) == {"admin2"}
    assert (provinces["unit_id"] == provinces["pcode"]).all()
    assert provinces["unit_id"].str.fullmatch(r"BF\d{4}").all()
    # An OCHA admin-2 P-code starts with its admin-1 P-code.
    assert (provinces["unit_id"].str[:4] == provinces["parent"]).all()


def test_parents_are_burkina_regions(provinces: pd.DataFrame) -> None:
    regions = load_regions("admin1", ["Burkina Faso"])
    assert set(provinces["parent"]) == set(regions["unit_id"])  # every region has provinces


def test_every_row_cites_its_sources(provinces: pd.DataFrame) -> None:
    src = provinces["source"].fillna("")
    assert (src.str.strip() != "").all()
    assert src.str.contains("OCHA COD-AB").all() and src.str.contains("provincial capital").all()


def test_coordinates_inside_burkina(provinces: pd.DataFrame) -> None:
    lat, lon = provinces["centroid_lat"].astype(float), provinces["centroid_lon"].astype(float)
    assert lat.between(*BBOX["lat"]).all() and lon.between(*BBOX["lon"]).all()


def test_neighbours_symmetric_and_every_province_has_one(provinces: pd.DataFrame) -> None:
    nb = {u: set(_split(c)) for u, c in zip(provinces["unit_id"], provinces["neighbours"])}
    for unit, others in nb.items():
        assert others, f"{unit} has no neighbour"
        assert others <= set(nb) and unit not in others
        assert all(unit in nb[o] for o in others), f"{unit}: asymmetric neighbours"


def test_neighbours_are_near(provinces: pd.DataFrame) -> None:
    """A typo in a neighbour id would link far-apart provinces: no pair of capitals is more
    than 200 km apart (the largest, Boulsa-Djibo for Namentenga-Soum, is about 197 km)."""
    p = provinces.set_index("unit_id")
    lat, lon = np.radians(p["centroid_lat"].astype(float)), np.radians(p["centroid_lon"].astype(float))
    for u, cell in p["neighbours"].items():
        for v in _split(cell):
            h = (
                np.sin((lat[v] - lat[u]) / 2) ** 2
                + np.cos(lat[u]) * np.cos(lat[v]) * np.sin((lon[v] - lon[u]) / 2) ** 2
            )
            assert 2 * 6371 * np.arcsin(np.sqrt(h)) < 200, (u, v)


def test_names_and_aliases_resolve(provinces: pd.DataFrame) -> None:
    gaz = Gazetteer(load_regions("admin2"), parents=Gazetteer(load_regions("admin1")))
    for spelling, uid in [
        ("Kourwéogo", "BF5502"),
        ("Kourweogo", "BF5502"),
        ("Kouritenga", "BF4803"),
        ("Komonjdjari", "BF5203"),
        ("Komondjari", "BF5203"),
        ("Séno", "BF5602"),
        ("Kadiogo", "BF1300"),
    ]:
        assert gaz.lookup("Burkina Faso", spelling) == (uid, None)
    assert gaz.lookup("BFA", "Fada N'Gourma")[0] is None  # a town, not a province


def test_real_acled_events_resolve(shared_data) -> None:
    path = shared_data / "events" / "acled_hdx_burkina_faso_1997_2020-08.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent: cannot check the gazetteer against real ACLED names")
    from riskcast.io.registry import read_input

    events = read_input("events", "acled_hdx", path).table
    events = events[pd.to_datetime(events["date"]) >= "2012-01-01"]
    gaz = Gazetteer(
        load_regions("admin2", ["Burkina Faso"]), parents=Gazetteer(load_regions("admin1", ["Burkina Faso"]))
    )
    assigned, report = assign_units(events, gaz)
    assert len(events) > 2000
    assert report.n_assigned / report.n_events >= 0.99, report.unassigned_by_name()
    assert set(assigned["unit_id"]) <= set(gaz.unit_ids)


def test_real_aggregate_names_resolve(shared_data) -> None:
    path = shared_data / "aggregates" / "acled_hdx_bfa_political_violence_admin2_month_1997_2020.xlsx"
    if not path.exists():
        pytest.skip(f"{path} is absent: cannot check the gazetteer against the HDX aggregate names")
    agg = pd.read_excel(path, sheet_name="Data", usecols=["Admin2", "Admin2 Pcode"]).drop_duplicates()
    gaz = Gazetteer(load_regions("admin2", ["Burkina Faso"]))
    got = {name: gaz.lookup("Burkina Faso", name)[0] for name in agg["Admin2"]}
    # Each spelling resolves, and to the P-code HDX gives it.
    assert got == dict(zip(agg["Admin2"], agg["Admin2 Pcode"]))
