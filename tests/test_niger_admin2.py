"""Niger's admin-2 gazetteer (67 departments): its shape, and how well it covers the real ACLED
names when the shared data are present."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcast.facts import load_region_files, load_regions
from riskcast.regions import Gazetteer, assign_units

#: Niger's extent (lat 11.7-23.5 N, lon 0.2-16.0 E), with a little margin.
BBOX = {"lat": (11.6, 23.6), "lon": (0.1, 16.0)}


@pytest.fixture(scope="module")
def departments() -> pd.DataFrame:
    return load_region_files("admin2")["regions_ner_admin2.csv"]


def _split(cell: object) -> list[str]:
    return [] if pd.isna(cell) or cell == "" else str(cell).split("|")


def _km(p: pd.DataFrame, u: str, v: str) -> float:
    lat, lon = np.radians(p["centroid_lat"].astype(float)), np.radians(p["centroid_lon"].astype(float))
    h = (
        np.sin((lat[v] - lat[u]) / 2) ** 2
        + np.cos(lat[u]) * np.cos(lat[v]) * np.sin((lon[v] - lon[u]) / 2) ** 2
    )
    return float(2 * 6371 * np.arcsin(np.sqrt(h)))


def test_67_departments_with_unique_ocha_ids(departments: pd.DataFrame) -> None:
    assert len(departments) == 67
    assert departments["unit_id"].is_unique and departments["name"].is_unique
    assert set(departments["country"]) == {"Niger"} and set(departments["level"]) == {"admin2"}
    assert (departments["unit_id"] == departments["pcode"]).all()
    assert departments["unit_id"].str.fullmatch(r"NE\d{6}").all()
    # An OCHA admin-2 P-code starts with its admin-1 P-code.
    assert (departments["unit_id"].str[:5] == departments["parent"]).all()
    # The four cities with special status are units of their own.
    cities = departments.loc[departments["name"].str.startswith("Ville de"), "name"]
    assert set(cities) == {"Ville de Niamey", "Ville de Maradi", "Ville de Tahoua", "Ville de Zinder"}


def test_parents_are_niger_regions(departments: pd.DataFrame) -> None:
    regions = load_regions("admin1", ["Niger"])
    assert set(departments["parent"]) == set(regions["unit_id"])  # every region has departments
    counts = departments["parent"].value_counts().to_dict()
    assert counts == {
        "NE001": 6,
        "NE002": 6,
        "NE003": 8,
        "NE004": 9,
        "NE005": 13,
        "NE006": 13,
        "NE007": 11,
        "NE008": 1,
    }


def test_every_row_cites_its_sources(departments: pd.DataFrame) -> None:
    src = departments["source"].fillna("")
    assert (src.str.strip() != "").all()
    assert src.str.contains("OCHA COD-AB NER ADM2").all()
    assert src.str.contains("centroid = coordinates of").all() and src.str.contains("Delaunay").all()


def test_coordinates_inside_niger_and_distinct(departments: pd.DataFrame) -> None:
    lat, lon = departments["centroid_lat"].astype(float), departments["centroid_lon"].astype(float)
    assert lat.between(*BBOX["lat"]).all() and lon.between(*BBOX["lon"]).all()
    # A department and the city it surrounds (Tahoua) must not share a point.
    assert not pd.DataFrame({"lat": lat, "lon": lon}).duplicated().any()


def test_seats_of_known_departments(departments: pd.DataFrame) -> None:
    """A few seats that are easy to get wrong: Téra, Say, Ouallam, Diffa, N'Guigmi, Bilma, Arlit."""
    p = departments.set_index("name")[["centroid_lat", "centroid_lon"]].astype(float)
    for name, lat, lon in [
        ("Téra", 14.01, 0.75),
        ("Say", 13.10, 2.37),
        ("Ouallam", 14.32, 2.09),
        ("Diffa", 13.32, 12.61),
        ("N'Guigmi", 14.25, 13.11),
        ("Bilma", 18.69, 12.92),
        ("Arlit", 18.74, 7.39),
    ]:
        assert tuple(p.loc[name]) == (lat, lon), name


def test_neighbours_symmetric_and_every_department_has_one(departments: pd.DataFrame) -> None:
    nb = {u: set(_split(c)) for u, c in zip(departments["unit_id"], departments["neighbours"])}
    for unit, others in nb.items():
        assert others, f"{unit} has no neighbour"
        assert others <= set(nb) and unit not in others
        assert all(unit in nb[o] for o in others), f"{unit}: asymmetric neighbours"
    assert all(c == "|".join(sorted(_split(c))) for c in departments["neighbours"])  # sorted, as written


def test_neighbours_are_near(departments: pd.DataFrame) -> None:
    """Edges over 300 km were dropped, except Bilma-N'Gourti (about 373 km), kept because Bilma
    would otherwise have no neighbour. A typo in a neighbour id would break this."""
    p = departments.set_index("unit_id")
    far = {
        tuple(sorted((u, v)))
        for u, cell in p["neighbours"].items()
        for v in _split(cell)
        if _km(p, u, v) > 300
    }
    assert far == {("NE001003", "NE002005")}
    assert _split(p.loc["NE001003", "neighbours"]) == ["NE002005"]


def test_names_and_aliases_resolve(departments: pd.DataFrame) -> None:
    gaz = Gazetteer(load_regions("admin2"), parents=Gazetteer(load_regions("admin1")))
    for spelling, uid in [
        ("Ayorou", "NE006002"),
        ("Ayérou", "NE006002"),
        ("Tillaberi", "NE006012"),
        ("Tera", "NE006011"),
        ("Maine Soroa", "NE002004"),
        ("Birni N'Konni", "NE005003"),
        ("Gueskerou", "NE002002"),
        ("Maradi", "NE004007"),
        ("Niamey", "NE008001"),
        ("Ville de Niamey", "NE008001"),
        ("Tahoua", "NE005009"),
        ("Ville de Tahoua", "NE005013"),
    ]:
        assert gaz.lookup("NER", spelling)[0] == uid, spelling
    assert gaz.lookup("Niger", "N'Guigmi") == ("NE002006", None)
    assert gaz.lookup("Niger", "Agadez")[0] is None  # a town of Tchirozerine department, not a department


def test_real_acled_events_resolve(shared_data) -> None:
    path = shared_data / "events" / "acled_hdx_niger_1997_2020-08.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent: cannot check the gazetteer against real ACLED names")
    from riskcast.io.registry import read_input

    events = read_input("events", "acled_hdx", path).table
    a1 = Gazetteer(load_regions("admin1", ["Niger"]))
    gaz = Gazetteer(load_regions("admin2", ["Niger"]), parents=a1)
    assigned, report = assign_units(events, gaz)
    assert len(events) > 1000
    # Every event, and so every (admin1, admin2) pair, resolves to exactly one department ...
    assert report.n_unassigned == 0, report.unassigned_by_name()
    assert report.n_assigned == len(events) and set(assigned["unit_id"]) <= set(gaz.unit_ids)
    pairs = assigned.groupby(["admin1", "admin2"])["unit_id"].nunique()
    assert (pairs == 1).all()
    # ... of the event's own region.
    parent = dict(zip(gaz.units["unit_id"], gaz.units["parent"]))
    region = {a: a1.lookup("Niger", a)[0] for a in assigned["admin1"].unique()}
    assert (assigned["unit_id"].map(parent) == assigned["admin1"].map(region)).all()
