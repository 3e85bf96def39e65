"""The curated fact tables in riskcast/facts: they load, validate, cite sources and agree with the record."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import riskcast.facts as facts
from riskcast.errors import InputError
from riskcast.facts import load_areas, load_presence, load_region_files, load_regions, load_shocks

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
COUNTRIES = ("Mali", "Burkina Faso", "Niger")
MALI_ADMIN1 = {
    "Kayes",
    "Koulikoro",
    "Sikasso",
    "Ségou",
    "Mopti",
    "Tombouctou",
    "Gao",
    "Kidal",
    "Bamako",
    "Ménaka",
}


def _split(cell: object) -> list[str]:
    """The items of a '|'-separated list cell (empty cell -> no items)."""
    return [] if pd.isna(cell) or cell == "" else str(cell).split("|")


TABLES = {
    "shocks": load_shocks,
    "presence": load_presence,
    "regions_admin1": lambda: load_regions("admin1"),
    "regions_admin2": lambda: load_regions("admin2"),
    "areas": load_areas,
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_validates_and_cites_a_source(name: str) -> None:
    df = TABLES[name]()  # validates against the schema, raises InputError otherwise
    assert len(df) > 0
    assert df["source"].notna().all() and (df["source"].str.strip() != "").all()


def test_load_regions_rejects_unknown_level_and_filters_countries() -> None:
    with pytest.raises(ValueError):
        load_regions("admin3")
    niger = load_regions(countries=["Niger"])
    assert set(niger["country"]) == {"Niger"} and len(niger) == 8


def test_admin1_gazetteer_units() -> None:
    df = load_regions("admin1")
    counts = df["country"].value_counts().to_dict()
    assert counts == {"Mali": 10, "Burkina Faso": 13, "Niger": 8}
    assert set(df.loc[df["country"] == "Mali", "name"]) == MALI_ADMIN1
    # Taoudénit is coded inside Tombouctou by ACLED and geoBoundaries: an alias, not a unit.
    assert "Taoudénit" in _split(df.set_index("name").loc["Tombouctou", "aliases"])


def test_admin2_parents_exist() -> None:
    adm1 = set(load_regions("admin1")["unit_id"])
    adm2 = load_regions("admin2")
    # Mali's cercles, Burkina Faso's provinces and Niger's departments, each from its own file.
    assert adm2["country"].value_counts().to_dict() == {"Mali": 50, "Burkina Faso": 45, "Niger": 67}
    assert len(load_regions("admin2", ["Mali"])) == 50 and len(load_regions("admin2", ["Niger"])) == 67
    assert set(adm2["parent"]) <= adm1
    assert adm2["unit_id"].is_unique


def test_admin2_files_load_apart() -> None:
    parts = load_region_files("admin2")
    assert list(parts) == ["regions_mli_admin2.csv", "regions_bfa_admin2.csv", "regions_ner_admin2.csv"]
    assert {name: set(df["country"]) for name, df in parts.items()} == {
        "regions_mli_admin2.csv": {"Mali"},
        "regions_bfa_admin2.csv": {"Burkina Faso"},
        "regions_ner_admin2.csv": {"Niger"},
    }
    with pytest.raises(ValueError):
        load_region_files("admin3")


@pytest.mark.parametrize("country", ["Burkina Faso", "Niger"])
def test_admin2_neighbours_agree_with_admin1(country: str) -> None:
    """Two provinces (departments) of different regions may border only if their regions
    border, and every pair of bordering regions of the country has at least one pair of
    bordering provinces (departments)."""
    a1 = load_regions("admin1", [country])
    a1_nb = {(u, v) for u, c in zip(a1["unit_id"], a1["neighbours"]) for v in _split(c)}
    a2 = load_regions("admin2", [country])
    parent = dict(zip(a2["unit_id"], a2["parent"]))
    links = {(parent[u], parent[v]) for u, c in zip(a2["unit_id"], a2["neighbours"]) for v in _split(c)}
    links = {pair for pair in links if pair[0] != pair[1]}
    assert links <= a1_nb
    assert {pair for pair in a1_nb if pair[1] in set(a1["unit_id"])} <= links


@pytest.mark.parametrize("level", ["admin1", "admin2"])
def test_neighbours_symmetric_and_known(level: str) -> None:
    df = load_regions(level)
    ids = set(df["unit_id"])
    nb = {u: set(_split(c)) for u, c in zip(df["unit_id"], df["neighbours"])}
    for unit, others in nb.items():
        assert others <= ids, f"{unit}: unknown neighbours {others - ids}"
        assert unit not in others
        for other in others:
            assert unit in nb[other], f"{unit} -> {other} but not back"
    # every unit has a neighbour (the three countries form one connected area)
    assert all(nb.values())


def test_cross_border_neighbours() -> None:
    df = load_regions("admin1").set_index("name")
    nb = lambda name: set(_split(df.loc[name, "neighbours"]))  # noqa: E731
    uid = df["unit_id"]
    assert {uid["Nord"], uid["Sahel"]} <= nb("Mopti")
    assert uid["Tillabéri"] in nb("Gao")
    assert {uid["Tillabéri"], uid["Tahoua"]} <= nb("Ménaka")


def test_presence_regions_are_gazetteer_names() -> None:
    regions = load_regions("admin1")
    known = set(zip(regions["country"], regions["name"]))
    pres = load_presence()
    assert set(pres["country"]) <= set(COUNTRIES)
    assert set(zip(pres["country"], pres["region"])) <= known


def test_shock_regions_are_gazetteer_names() -> None:
    regions = load_regions("admin1")
    known = set(zip(regions["country"], regions["name"]))
    shocks = load_shocks().dropna(subset=["region"])
    assert set(zip(shocks["country"], shocks["region"])) <= known


def _has(df: pd.DataFrame, country: str, kind: str, start: str, end: str | None = None) -> bool:
    d = df[(df["country"] == country) & (df["kind"] == kind)]
    return bool(d["date"].between(pd.Timestamp(start), pd.Timestamp(end or start)).any())


def test_key_shocks_present() -> None:
    s = load_shocks()
    assert _has(s, "Mali", "coup", "2012-03-22")
    assert _has(s, "Mali", "coup", "2020-08-18")
    assert _has(s, "Mali", "coup", "2021-05-01", "2021-05-31")
    assert (s[(s["country"] == "Burkina Faso") & (s["kind"] == "coup")]["date"].dt.year == 2022).sum() == 2
    assert _has(s, "Niger", "coup", "2023-07-26")
    assert _has(s, "Mali", "peace_accord", "2015-01-01", "2015-12-31")
    assert _has(s, "Mali", "withdrawal_completed", "2022-08-01", "2022-08-31")  # France leaves Mali
    minusma_end = s[(s["actor"] == "MINUSMA") & (s["kind"] == "withdrawal_completed") & s["region"].isna()]
    assert (minusma_end["date"] == pd.Timestamp("2023-12-31")).any()


def test_no_shock_after_today() -> None:
    assert (load_shocks()["date"] <= pd.Timestamp.today().normalize()).all()


def test_coups_agree_with_powell_thyne() -> None:
    path = SHARED / "shocks" / "powell_thyne_coups_V2022.11.29.csv"
    if not path.exists():
        pytest.skip(f"shared data not available ({path} is absent): cannot cross-check coup dates")
    pt = pd.read_csv(path, sep=None, engine="python")  # documented as tab-separated, copies vary
    pt = pt[pt["country"].isin(COUNTRIES) & (pt["year"] >= 2012)]
    pt_events = {
        (c, pd.Timestamp(year=int(y), month=int(m), day=int(d)), "coup" if int(k) == 2 else "coup_attempt")
        for c, y, m, d, k in zip(pt["country"], pt["year"], pt["month"], pt["day"], pt["coup"])
    }
    s = load_shocks()
    s = s[s["kind"].isin(["coup", "coup_attempt"])]
    ours = set(zip(s["country"], s["date"], s["kind"]))
    assert pt_events <= ours, f"missing or mis-dated: {sorted(pt_events - ours)}"
    # within the period Powell & Thyne V2022.11.29 covers, we add no coups of our own
    covered = {e for e in ours if e[1] <= pd.Timestamp("2022-11-29")}
    assert covered <= pt_events, f"not in Powell & Thyne: {sorted(covered - pt_events)}"


def test_country_outlines_closed_and_hold_their_units() -> None:
    from shapely.geometry import Point, Polygon

    from riskcast.facts import load_country_outlines

    outlines = load_country_outlines()
    assert set(outlines) == set(COUNTRIES)
    assert set(load_country_outlines(["Mali", "Chad"])) == {"Mali"}
    for country, xy in outlines.items():
        assert len(xy) > 30 and (xy[0] == xy[-1]).all(), country
        poly = Polygon(xy)
        assert poly.is_valid, country
        # every gazetteer centroid lies in its country (Natural Earth 1:110m is coarse: 0.3 degree slack)
        for level in ("admin1", "admin2"):
            regs = load_regions(level, [country])
            for _, r in regs.iterrows():
                assert poly.buffer(0.3).contains(Point(r["centroid_lon"], r["centroid_lat"])), (
                    country,
                    r["name"],
                )


def test_country_outline_bad_vertex_names_row(tmp_path, monkeypatch) -> None:
    import riskcast.facts as facts
    from riskcast.errors import InputError

    src = Path(facts.__file__).with_name("country_outlines.csv").read_text(encoding="utf-8").splitlines()
    src[3] = src[3].replace(src[3].split(",")[3], "east", 1)
    bad = tmp_path / "country_outlines.csv"
    bad.write_text("\n".join(src) + "\n", encoding="utf-8")
    monkeypatch.setattr(facts, "facts_file", lambda name: bad)
    with pytest.raises(InputError) as exc:
        facts.load_country_outlines()
    assert exc.value.row == 4 and exc.value.column == "lon" and "east" in str(exc.value)


def test_area_members_are_gazetteer_units_with_their_names() -> None:
    """Every member of a curated area is an admin-2 unit of the gazetteer, named as there, so the
    report can sum the area from the panel's unit ids."""
    areas = load_areas()
    units = load_regions("admin2").set_index("unit_id")
    assert areas["unit_id"].isin(units.index).all(), set(areas["unit_id"]) - set(units.index)
    assert (units.loc[areas["unit_id"], "name"].to_numpy() == areas["name"].to_numpy()).all()
    assert (units.loc[areas["unit_id"], "country"].to_numpy() == areas["country"].to_numpy()).all()
    assert not areas.duplicated(["area", "unit_id"]).any()
    tri = areas[areas["area"] == "Liptako-Gourma tri-border"]
    assert set(tri["country"]) == set(COUNTRIES)  # a tri-border has all three sides
    assert {"Ansongo", "Ménaka", "Oudalan", "Bankilaré"} <= set(tri["name"])


def test_an_empty_area_cell_is_refused_naming_row_and_column(tmp_path, monkeypatch) -> None:
    bad = tmp_path / "areas_sahel.csv"
    bad.write_text(
        "area,unit_id,name,country,why,source\nX,ML0701,Ansongo,Mali,borders Niger,\n", encoding="utf-8"
    )
    monkeypatch.setattr(facts, "facts_file", lambda name: bad)
    with pytest.raises(InputError) as err:
        load_areas()
    assert err.value.row == 2 and err.value.column == "source" and "areas_sahel.csv" in str(err.value)
