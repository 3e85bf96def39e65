"""Tests of riskcast.regions: names, gazetteers, PRIO-GRID cells, polygons and assignment."""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from riskcast.errors import InputError
from riskcast.facts import load_regions
from riskcast.regions import (
    AssignmentReport,
    Gazetteer,
    assign_units,
    check_unassigned,
    load_boundaries,
    neighbour_matrix,
    normalise_many,
    normalise_name,
    normalise_names,
    priogrid_centroid,
    priogrid_gazetteer,
    priogrid_gid,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


# --------------------------------------------------------------------------- helpers


def regions(rows: list[dict], level: str = "admin1") -> pd.DataFrame:
    """A REGIONS table from a few hand-written rows (defaults for the columns not given)."""
    base = dict(
        country="Mali",
        level=level,
        pcode=None,
        parent=None,
        aliases=None,
        centroid_lat=15.0,
        centroid_lon=-2.0,
        neighbours=None,
        source="test",
    )
    return pd.DataFrame([{**base, **r} for r in rows])


def mali_admin1() -> Gazetteer:
    return Gazetteer(
        regions(
            [
                dict(unit_id="ML06", name="Tombouctou", aliases="Timbuktu|Taoudenit", neighbours="ML07|ML04"),
                dict(unit_id="ML07", name="Gao", neighbours="ML06|ML08"),
                dict(unit_id="ML08", name="Kidal", neighbours="ML07"),
                dict(unit_id="ML04", name="Ségou", aliases="Segou", neighbours="ML06"),
                dict(unit_id="ML02", name="Koulikoro", aliases="Koulikouro"),
                dict(unit_id="BF01", name="Centre-Nord", country="Burkina Faso"),
            ]
        )
    )


def events(rows: list[dict]) -> pd.DataFrame:
    base = dict(country="Mali", admin1=None, admin2=None, latitude=np.nan, longitude=np.nan)
    df = pd.DataFrame([{**base, **r} for r in rows])
    df.insert(0, "event_id", [f"E{i}" for i in range(len(df))])
    return df


# --------------------------------------------------------------------------- names


def test_normalise_name_folds_accents_case_and_punctuation():
    assert normalise_name("Ségou") == normalise_name("Segou") == normalise_name("SEGOU") == "segou"
    assert normalise_name("Centre-Nord") == normalise_name("Centre Nord") == normalise_name(" centre   NORD ")
    assert normalise_name("N'Guigmi") == "n guigmi"
    assert normalise_name("Tillabéri") == "tillaberi"


def _unicode_path(s: str) -> str:
    """normalise_name's general steps, without its ASCII shortcut."""
    decomposed = unicodedata.normalize("NFKD", s)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return re.sub(r"[^0-9a-z]+", " ", plain).strip()


NAMES = [
    "Ségou",
    "SEGOU",
    " centre\t-NORD\n",
    "N'Guigmi",
    "",
    "  ",
    "--",
    "PRIO-GRID 101141",
    "Ménaka ",
    "Straße",
    "Œuvre",
    "Gorom-Gorom",
    "ALL CAPS_and_under",
    "x1 2y",
    "Kidal\u00a0",
    "Tahoua (Tahoua)",
    *[chr(i) * 2 + "a" for i in range(128)],
]


def test_normalise_name_ascii_shortcut_and_batch_give_the_general_keys():
    assert [normalise_name(n) for n in NAMES] == [_unicode_path(n) for n in NAMES]
    assert normalise_many(NAMES) == [_unicode_path(n) for n in NAMES]
    assert normalise_many([]) == []


@given(st.lists(st.text(max_size=12), max_size=20))
@settings(max_examples=200, deadline=None)
def test_normalise_many_equals_one_by_one(names):
    assert normalise_many(names) == [_unicode_path(n) for n in names]


def test_normalise_names_vectorised_keeps_missing():
    s = pd.Series(["Ségou", None, "Centre-Nord", "SEGOU", np.nan, " "])
    out = normalise_names(s)
    assert out.tolist()[:4] == ["segou", None, "centre nord", "segou"]
    assert out.iloc[4] is None and out.iloc[5] is None


def test_alias_lookup_across_spellings():
    g = mali_admin1()
    assert g.lookup("Mali", "SEGOU")[0] == "ML04"
    assert g.lookup("Mali", "Ségou")[0] == "ML04"
    assert g.lookup("Mali", "Timbuktu")[0] == g.lookup("Mali", "Tombouctou")[0] == "ML06"
    assert g.lookup("Mali", "Taoudenit")[0] == "ML06"
    assert g.lookup("MLI", "Kidal")[0] == "ML08"  # ISO3 spelling of the country
    assert g.lookup("Burkina Faso", "Centre Nord")[0] == "BF01"
    assert g.lookup("Burkina Faso", "centre-nord")[0] == "BF01"
    unit, why = g.lookup("Mali", "Centre-Nord")  # a name of another country
    assert unit is None and "no unit named 'Centre-Nord' in Mali" in why


def test_ambiguous_alias_raises_naming_both_units():
    df = regions(
        [dict(unit_id="A", name="Alpha", aliases="Common"), dict(unit_id="B", name="Beta", aliases="common")]
    )
    with pytest.raises(ValueError, match=r"'common'.*\bA\b.*\bB\b"):
        Gazetteer(df)


def test_same_alias_in_two_countries_is_fine():
    df = regions([dict(unit_id="A", name="Est"), dict(unit_id="B", name="Est", country="Burkina Faso")])
    g = Gazetteer(df)
    assert g.lookup("Mali", "Est")[0] == "A" and g.lookup("Burkina Faso", "Est")[0] == "B"


def test_gazetteer_properties_and_bad_tables():
    g = mali_admin1()
    assert g.level == "admin1"
    assert g.unit_ids == ["ML06", "ML07", "ML08", "ML04", "ML02", "BF01"]
    assert list(g.units["unit_id"]) == g.unit_ids
    with pytest.raises(ValueError, match="one level"):
        Gazetteer(
            pd.concat(
                [regions([dict(unit_id="A", name="A")]), regions([dict(unit_id="B", name="B")], "admin2")]
            )
        )
    with pytest.raises(InputError, match="level"):
        Gazetteer(regions([dict(unit_id="A", name="A", level="province")]))


# --------------------------------------------------------------------------- neighbours


def test_neighbour_matrix_symmetric_in_unit_order():
    g = mali_admin1()
    m = g.neighbour_matrix()
    assert m.shape == (6, 6)
    dense = m.toarray()
    assert (dense == dense.T).all() and set(np.unique(dense)) <= {0, 1}
    assert dense.diagonal().sum() == 0
    i = {u: k for k, u in enumerate(g.unit_ids)}
    assert dense[i["ML06"], i["ML07"]] == 1 and dense[i["ML08"], i["ML06"]] == 0
    # ML04 lists ML06 and ML06 lists ML04; ML02 lists nobody and nobody lists it.
    assert dense[i["ML04"], i["ML06"]] == 1 and dense[i["ML02"]].sum() == 0


def test_neighbour_matrix_made_symmetric_from_one_sided_lists():
    g = Gazetteer(regions([dict(unit_id="A", name="A", neighbours="B"), dict(unit_id="B", name="B")]))
    assert g.neighbour_matrix().toarray().tolist() == [[0, 1], [1, 0]]


def test_unknown_neighbour_raises_naming_the_unit():
    g = Gazetteer(regions([dict(unit_id="A", name="A", neighbours="B|ZZ"), dict(unit_id="B", name="B")]))
    with pytest.raises(ValueError, match=r"unit 'A' lists neighbour 'ZZ'"):
        g.neighbour_matrix()


def reference_neighbour_matrix(g: Gazetteer, file: str = "regions") -> sparse.csr_matrix:
    """The obvious builder (the one neighbour_matrix had before it was vectorised): one cell,
    one item, one dict lookup at a time."""
    units = g.units
    index = {u: i for i, u in enumerate(g.unit_ids)}
    rows, cols = [], []
    for uid, cell in zip(units["unit_id"], units["neighbours"]):
        items = [] if cell is None or (not isinstance(cell, str) and pd.isna(cell)) else str(cell).split("|")
        for nb in (x.strip() for x in items):
            if not nb:
                continue
            if nb not in index:
                raise ValueError(
                    f"{file}: unit {uid!r} lists neighbour {nb!r}, which is not a unit of this {g.level} gazetteer"
                )
            if nb != uid:
                rows.append(index[uid])
                cols.append(index[nb])
    n = len(index)
    m = sparse.coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n)).tocsr()
    m = ((m + m.T) > 0).astype(np.int8).tocsr()
    m.sort_indices()
    return m


def assert_same_neighbour_matrix(g: Gazetteer) -> None:
    """neighbour_matrix() equals the reference array for array, or both raise the same error."""
    try:
        want = reference_neighbour_matrix(g)
    except ValueError as e:
        with pytest.raises(ValueError) as got:
            g.neighbour_matrix()
        assert str(got.value) == str(e)
        return
    got = g.neighbour_matrix()
    assert isinstance(got, sparse.csr_matrix)
    got, want = got.tocsr(), want.tocsr()
    assert got.shape == want.shape and got.dtype == want.dtype
    for a in ("indices", "indptr", "data"):
        assert getattr(got, a).dtype == getattr(want, a).dtype, a
        np.testing.assert_array_equal(getattr(got, a), getattr(want, a), err_msg=a)
    assert got.has_sorted_indices == want.has_sorted_indices


def grid_units(side: int) -> pd.DataFrame:
    """The benchmarks' synthetic PRIO-GRID block (benchmarks/synthetic.py, not an installed module)."""
    spec = importlib.util.spec_from_file_location("synthetic", BENCHMARKS / "synthetic.py")
    synthetic = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synthetic)
    return synthetic.grid_units(side)


def test_neighbour_matrix_equals_reference_on_shipped_gazetteers():
    a1 = Gazetteer(load_regions("admin1"))
    assert_same_neighbour_matrix(a1)
    a2 = Gazetteer(load_regions("admin2"), parents=a1)
    assert a2.neighbour_matrix().nnz > 0
    assert_same_neighbour_matrix(a2)


def test_neighbour_matrix_equals_reference_on_10000_priogrid_cells():
    g = Gazetteer(grid_units(100))
    assert len(g) == 10_000
    assert_same_neighbour_matrix(g)
    assert g.neighbour_matrix().nnz == 4 * 3 + 4 * 98 * 5 + 98 * 98 * 8  # queen: corners, edges, inside


def test_neighbour_matrix_of_the_table_alone_equals_the_gazetteers():
    units = grid_units(30)
    want = Gazetteer(units).neighbour_matrix()
    got = neighbour_matrix(units)
    assert got.dtype == want.dtype and (got != want).nnz == 0
    np.testing.assert_array_equal(got.indices, want.indices)
    shuffled = units.sample(frac=1.0, random_state=0)  # in the order of the rows given
    order = pd.Index(units["unit_id"]).get_indexer(shuffled["unit_id"])
    assert (neighbour_matrix(shuffled) != want[order][:, order]).nnz == 0


def test_neighbour_matrix_of_the_table_alone_refuses_repeated_ids():
    units = grid_units(3)
    with pytest.raises(ValueError, match="unit_id must be unique"):
        neighbour_matrix(pd.concat([units, units.iloc[:1]]))
    bad = units.assign(
        neighbours=units["neighbours"].where(units.index != 4, "PG0|" + units["neighbours"][4])
    )
    with pytest.raises(
        ValueError, match=r"lists neighbour 'PG0', which is not a unit of this priogrid gazetteer"
    ):
        neighbour_matrix(bad)


@pytest.mark.parametrize(
    "cells",
    [
        [None, None, None],  # nobody lists anybody
        ["", " ", " | |"],  # empty lists in all spellings
        [float("nan"), pd.NA, "A"],  # missing cells; a self-reference only
        ["B|B|C", "A|A", None],  # duplicates, and both sides listing
        [" B |C ", "\tA\u00a0", "A|  |B|"],  # whitespace (an ASCII tab, a no-break space) and empty items
        ["A|B|C", "B", "C|A"],  # self-references among real neighbours
        ["B|ZZ", "ZZ", "A"],  # an unknown id: the first in table order is named
        ["A", "B|YY|ZZ", "XX"],  # an unknown id after a self-reference
        ["B", "C", " QQ "],  # an unknown id padded with spaces, named stripped
        ["b", "a", None],  # ids are case-sensitive
        ["B" + "|B" * 200, None, None],  # more duplicates than an int8 holds
    ],
)
def test_neighbour_matrix_equals_reference_on_edge_cases(cells):
    rows = [dict(unit_id=u, name=u, neighbours=c) for u, c in zip(["C", "A", "B"], cells)]  # not sorted
    assert_same_neighbour_matrix(Gazetteer(regions(rows)))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["U0", "U1", "U2", "U3", "U4", " U1", "U2 ", "", " ", "U9"]), max_size=6),
        min_size=1,
        max_size=5,
    ),
    st.booleans(),
)
def test_neighbour_matrix_equals_reference_on_random_lists(lists, some_missing):
    rows = [
        dict(unit_id=f"U{i}", name=f"U{i}", neighbours=None if some_missing and i % 2 else "|".join(items))
        for i, items in enumerate(lists)
    ]
    assert_same_neighbour_matrix(Gazetteer(regions(rows)))


# --------------------------------------------------------------------------- assignment by name


def test_assign_by_name_counts_and_lists_unknown():
    ev = events(
        [
            dict(admin1="Segou"),
            dict(admin1="SÉGOU"),
            dict(admin1="Timbuktu"),
            dict(admin1="Foo"),
            dict(admin1="Foo"),
            dict(admin1=None),
            dict(country="Chad", admin1="Lac"),
            dict(country="Burkina Faso", admin1="Centre Nord"),
        ]
    )
    out, rep = assign_units(ev, mali_admin1())
    assert isinstance(rep, AssignmentReport)
    assert out["unit_id"].tolist() == ["ML04", "ML04", "ML06", "BF01"]
    assert out["event_id"].tolist() == ["E0", "E1", "E2", "E7"]
    assert (rep.n_events, rep.n_assigned, rep.n_by_name, rep.n_by_polygon) == (8, 4, 4, 0)
    assert rep.share_unassigned == pytest.approx(0.5)
    u = rep.unassigned.set_index("event_id")
    assert list(rep.unassigned.columns)[:7] == [
        "event_id",
        "country",
        "admin1",
        "admin2",
        "latitude",
        "longitude",
        "name",
    ]
    assert u.loc["E3", "reason"] == "no unit named 'Foo' in Mali"
    assert u.loc["E5", "reason"] == "no admin1 name"
    assert "country 'Chad' not in gazetteer" in u.loc["E6", "reason"]
    summary = rep.unassigned_by_name()
    assert summary.iloc[0][["country", "name", "n"]].tolist() == ["Mali", "Foo", 2]
    assert summary["n"].sum() == 4
    d = rep.to_dict()
    json.dumps(d)  # JSON-able
    assert d["n_unassigned"] == 4 and len(d["unassigned_examples"]) == 4
    assert d["unassigned_summary"][0]["name"] == "Foo"


def test_to_dict_lists_at_most_50_examples():
    ev = events([dict(admin1=f"Nowhere{i}") for i in range(80)])
    _, rep = assign_units(ev, mali_admin1())
    d = rep.to_dict()
    assert len(d["unassigned_examples"]) == 50 and len(d["unassigned_summary"]) == 80
    json.dumps(d)


def test_check_unassigned_raises_with_top_names():
    ev = events([dict(admin1="Foo")] * 3 + [dict(admin1="Bar")] + [dict(admin1="Gao")] * 6)
    _, rep = assign_units(ev, mali_admin1(), file="acled.csv")
    check_unassigned(rep, 0.5, file="acled.csv")  # 40% <= 50%: fine
    with pytest.raises(InputError) as exc:
        check_unassigned(rep, 0.05, file="acled.csv")
    msg = str(exc.value)
    assert msg.startswith("acled.csv: 40.0% of 10 events could not be assigned")
    assert "(limit 5.0%)" in msg and "'Foo' (Mali) x 3, 'Bar' (Mali) x 1" in msg


def test_no_events():
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in ["event_id", "country", "admin1", "admin2"]})
    empty[["latitude", "longitude"]] = np.empty((0, 2))
    out, rep = assign_units(empty, mali_admin1())
    assert out.empty and "unit_id" in out.columns and rep.share_unassigned == 0.0
    check_unassigned(rep, 0.0, file="x")


def test_missing_column_is_input_error():
    with pytest.raises(InputError, match="admin1"):
        assign_units(events([dict(admin1="Gao")]).drop(columns="admin1"), mali_admin1(), file="ev.csv")


# --------------------------------------------------------------------------- admin2 homonyms


def admin2_with_homonyms() -> tuple[Gazetteer, pd.DataFrame]:
    a1 = Gazetteer(
        regions([dict(unit_id="R1", name="Nord"), dict(unit_id="R2", name="Sud", aliases="South")])
    )
    df = regions(
        [
            dict(unit_id="C1", name="Bourg", parent="R1"),
            dict(unit_id="C2", name="Bourg", parent="R2"),
            dict(unit_id="C3", name="Unique", parent="R1"),
        ],
        level="admin2",
    )
    return a1, df


def test_admin2_homonyms_told_apart_by_admin1():
    a1, df = admin2_with_homonyms()
    g = Gazetteer(df, parents=a1)
    ev = events(
        [
            dict(admin1="Nord", admin2="Bourg"),
            dict(admin1="south", admin2="BOURG"),
            dict(admin1="Sud", admin2="Unique"),  # unique name: the admin1 does not matter
            dict(admin1="Ouest", admin2="Bourg"),
        ]
    )
    out, rep = assign_units(ev, g)
    assert out["unit_id"].tolist() == ["C1", "C2", "C3"]
    assert "names 2 units in Mali (C1, C2)" in rep.unassigned["reason"].iloc[0]


def test_admin2_homonyms_without_parents_are_unassigned_with_reason():
    _, df = admin2_with_homonyms()
    out, rep = assign_units(events([dict(admin1="Nord", admin2="Bourg")]), Gazetteer(df))
    assert out.empty and "pass parents=" in rep.unassigned["reason"].iloc[0]


def test_admin2_homonyms_with_the_same_parent_raise():
    df = regions(
        [dict(unit_id="C1", name="Bourg", parent="R1"), dict(unit_id="C2", name="Bourg", parent="R1")],
        "admin2",
    )
    with pytest.raises(ValueError, match="C1.*C2"):
        Gazetteer(df)


# --------------------------------------------------------------------------- polygons


def square(x0: float, y0: float, size: float = 1.0) -> dict:
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
def two_squares(tmp_path) -> Path:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"shapeName": "Alpha"}, "geometry": square(0, 10)},
            {"type": "Feature", "properties": {"shapeName": "Beta-Zone"}, "geometry": square(1, 10)},
        ],
    }
    p = tmp_path / "squares.geojson"
    p.write_text(json.dumps(fc))
    return p


def test_point_in_polygon(two_squares):
    g = Gazetteer(regions([dict(unit_id="A", name="Alpha"), dict(unit_id="B", name="Beta Zone")]))
    bounds = load_boundaries(two_squares)
    assert [n for n, _ in bounds] == ["Alpha", "Beta-Zone"]
    ev = events(
        [
            dict(latitude=10.5, longitude=0.5, admin1="Beta Zone"),  # inside A, whatever its name says
            dict(latitude=10.5, longitude=1.5),  # inside B
            dict(latitude=20.0, longitude=20.0, admin1="Alpha"),  # outside both: no name fallback
            dict(admin1="Beta Zone"),  # no coordinates: by name
            dict(admin1=None),  # no coordinates and no name
        ]
    )
    out, rep = assign_units(ev, g, boundaries=bounds)
    assert dict(zip(out["event_id"], out["unit_id"])) == {"E0": "A", "E1": "B", "E3": "B"}
    assert (rep.n_by_polygon, rep.n_by_name, rep.n_assigned) == (2, 1, 3)
    reasons = dict(zip(rep.unassigned["event_id"], rep.unassigned["reason"]))
    assert reasons["E2"] == "point outside every polygon"
    assert reasons["E4"] == "no admin1 name and no coordinates"


def test_polygon_name_not_in_gazetteer(two_squares):
    g = Gazetteer(regions([dict(unit_id="A", name="Alpha")]))
    out, rep = assign_units(
        events([dict(latitude=10.5, longitude=1.5)]), g, boundaries=load_boundaries(two_squares)
    )
    assert out.empty
    assert rep.unassigned["reason"].iloc[0] == "no unit named 'Beta-Zone' in Mali"
    assert rep.unassigned_by_name()["name"].iloc[0] == "Beta-Zone"


def test_load_boundaries_errors(tmp_path):
    p = tmp_path / "x.geojson"
    p.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": square(0, 0)}))
    with pytest.raises(InputError, match=r"x\.geojson.*FeatureCollection"):
        load_boundaries(p)
    p.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"shapeName": "A"}, "geometry": square(0, 0)},
                    {"type": "Feature", "properties": {"name": "B"}, "geometry": square(1, 0)},
                ],
            }
        )
    )
    with pytest.raises(InputError, match=r"x\.geojson.*feature 1 .*'shapeName'"):
        load_boundaries(p)
    p.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"name": "B"}, "geometry": None},
                ],
            }
        )
    )
    with pytest.raises(InputError, match=r"feature 0 .*'B'.* no geometry"):
        load_boundaries(p, name_property="name")
    p.write_text("{not json")
    with pytest.raises(InputError, match="not a JSON file"):
        load_boundaries(p)
    with pytest.raises(InputError, match="not found"):
        load_boundaries(tmp_path / "missing.geojson")


# --------------------------------------------------------------------------- PRIO-GRID


def test_priogrid_gid_known_values():
    # gid 1 is the south-west corner cell; the formula by hand for the others.
    assert priogrid_gid(-89.75, -179.75).item() == 1
    assert priogrid_gid(-89.75, 179.75).item() == 720
    assert priogrid_gid(-89.25, -179.75).item() == 721
    assert priogrid_gid(89.75, 179.75).item() == 259200
    # From the RADPKO file: the cell with centroid lat 9.25, lon -11.25 is gid 142898
    # (row floor(99.25/0.5)=198, col floor(168.75/0.5)=337: 198*720+337+1).
    assert priogrid_gid(9.25, -11.25).item() == 142898
    # Bamako (12.65, -8.0): row floor(102.65/0.5)=205, col floor(172/0.5)=344 -> 205*720+344+1.
    assert priogrid_gid(12.65, -8.0).item() == 205 * 720 + 345 == 147945
    # Vectorised, and edges belong to the cell north/east of them.
    np.testing.assert_array_equal(priogrid_gid([9.0, 9.49], [-11.5, -11.01]), [142898, 142898])
    assert priogrid_gid(9.5, -11.0).item() == 142898 + 720 + 1
    with pytest.raises(ValueError):
        priogrid_gid([10.0, np.nan], [0.0, 0.0])


def test_priogrid_centroid_round_trip():
    gids = np.array([1, 720, 721, 142898, 147945, 259200])
    lat, lon = priogrid_centroid(gids)
    assert (lat[3], lon[3]) == (9.25, -11.25)
    np.testing.assert_array_equal(priogrid_gid(lat, lon), gids)
    with pytest.raises(ValueError):
        priogrid_centroid([0])


@settings(max_examples=300, deadline=None)
@given(
    st.floats(min_value=-90, max_value=90, allow_nan=False),
    st.floats(min_value=-180, max_value=180, allow_nan=False),
)
def test_priogrid_property_every_point_in_its_cell(lat, lon):
    gid = priogrid_gid(lat, lon).item()
    assert 1 <= gid <= 259200
    clat, clon = priogrid_centroid(gid)
    assert abs(clat - lat) <= 0.25 + 1e-9 and abs(clon - lon) <= 0.25 + 1e-9


def block_3x3(centre: int = 142898) -> list[int]:
    return [centre + dr * 720 + dc for dr in (-1, 0, 1) for dc in (-1, 0, 1)]


def test_priogrid_gazetteer_queen_neighbours():
    df = priogrid_gazetteer(block_3x3() + [1], country="Mali")
    assert df["unit_id"].iloc[0] == "PG1" and df["name"].iloc[-1] == "PRIO-GRID 143619"
    assert (df["level"] == "priogrid").all() and (df["source"] == "PRIO-GRID v2 geometry (computed)").all()
    nb = dict(zip(df["unit_id"], df["neighbours"]))
    assert len(nb["PG142898"].split("|")) == 8
    assert len(nb["PG142177"].split("|")) == 3  # a corner of the block
    assert len(nb["PG142178"].split("|")) == 5  # an edge of the block
    assert pd.isna(nb["PG1"])  # alone
    g = Gazetteer(df)
    m = g.neighbour_matrix()
    assert (m != m.T).nnz == 0 and m.sum() == 4 * 3 + 4 * 5 + 8  # 4 corners, 4 edges, the centre
    lat, lon = df.set_index("unit_id").loc["PG142898", ["centroid_lat", "centroid_lon"]]
    assert (lat, lon) == (9.25, -11.25)


def test_assign_priogrid():
    g = Gazetteer(priogrid_gazetteer(block_3x3(), country="Mali"))
    ev = events(
        [
            dict(latitude=9.3, longitude=-11.2),  # the centre cell
            dict(latitude=12.65, longitude=-8.0),  # Bamako: not in the block
            dict(),  # no coordinates
        ]
    )
    ev["priogrid_gid"] = pd.array([None, None, 142899], dtype="Int64")  # a given gid is kept
    out, rep = assign_units(ev, g)
    assert out["unit_id"].tolist() == ["PG142898", "PG142899"]
    assert rep.n_by_cell == 2 and rep.n_assigned == 2
    assert rep.unassigned["reason"].tolist() == ["cell not in gazetteer"]
    assert rep.unassigned["name"].tolist() == ["PG147945"]
    ev2 = events([dict()])
    _, rep2 = assign_units(ev2, g)
    assert rep2.unassigned["reason"].tolist() == ["no coordinates"]


# --------------------------------------------------------------------------- the curated gazetteer


def test_curated_gazetteer_if_present():
    facts = pytest.importorskip("riskcast.facts")
    if not hasattr(facts, "load_regions"):
        pytest.skip("riskcast.facts.load_regions is not written yet")
    a1 = Gazetteer(facts.load_regions("admin1", ["Mali", "Burkina Faso", "Niger"]))
    assert a1.level == "admin1"
    for name in ("Segou", "Ségou", "SEGOU", "Timbuktu", "Tombouctou", "Koulikouro", "Taoudenit"):
        unit, why = a1.lookup("Mali", name)
        assert unit is not None, why
    assert a1.lookup("Mali", "Timbuktu")[0] == a1.lookup("Mali", "Tombouctou")[0]
    m = a1.neighbour_matrix()
    assert (m != m.T).nnz == 0
    a2 = Gazetteer(facts.load_regions("admin2", ["Mali"]), parents=a1)
    assert a2.lookup("Mali", "Gourma-Rharous", "Tombouctou")[0] is not None
    # Every admin1 name of the real ACLED files resolves (when the shared data is here).
    for f in ("mali_1997_2019-06", "burkina_faso_1997_2020-08", "niger_1997_2020-08"):
        path = SHARED_DATA / "events" / f"acled_hdx_{f}.csv"
        if path.exists():
            ev = pd.read_csv(path, skiprows=[1], usecols=["event_id_cnty", "country", "admin1", "admin2"])
            _, rep = assign_units(ev.rename(columns={"event_id_cnty": "event_id"}), a1, file=str(path))
            check_unassigned(rep, 0.0, file=str(path))


# --------------------------------------------------------------------------- real boundaries


def test_real_mali_adm1_boundaries():
    path = SHARED_DATA / "boundaries" / "geoBoundaries_MLI_ADM1_simplified.geojson"
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (only on developer machines and CI)")
    bounds = load_boundaries(path)
    assert len(bounds) == 9 and "Koulikouro" in [n for n, _ in bounds]
    g = Gazetteer(
        regions(
            [
                dict(unit_id="ML01", name="Kayes"),
                dict(unit_id="ML02", name="Koulikoro", aliases="Koulikouro"),
                dict(unit_id="ML03", name="Sikasso"),
                dict(unit_id="ML04", name="Ségou", aliases="Segou"),
                dict(unit_id="ML05", name="Mopti"),
                dict(unit_id="ML06", name="Tombouctou", aliases="Timbuktu|Taoudenit"),
                dict(unit_id="ML07", name="Gao"),
                dict(unit_id="ML08", name="Kidal"),
                dict(unit_id="ML09", name="Bamako"),
                dict(unit_id="ML10", name="Ménaka"),
            ]
        )
    )
    ev = events(
        [
            dict(latitude=16.27, longitude=-0.04, admin1="Kidal"),  # Gao town, whatever the name says
            dict(latitude=14.49, longitude=-4.19),  # Mopti
            dict(latitude=18.44, longitude=1.41),  # Kidal
            dict(latitude=12.65, longitude=-8.0),  # Bamako
            dict(latitude=12.86, longitude=-7.56),  # Koulikoro town
            dict(latitude=5.0, longitude=-4.0),  # Abidjan: outside Mali
        ]
    )
    out, rep = assign_units(ev, g, boundaries=bounds, file="towns")
    assert out["unit_id"].tolist() == ["ML07", "ML05", "ML08", "ML09", "ML02"]
    assert rep.n_by_polygon == 5
    assert rep.unassigned["reason"].tolist() == ["point outside every polygon"]


def test_real_acled_mali_by_name_and_polygon():
    path = SHARED_DATA / "events" / "acled_hdx_mali_1997_2019-06.csv"
    bpath = SHARED_DATA / "boundaries" / "geoBoundaries_MLI_ADM1_simplified.geojson"
    if not path.exists() or not bpath.exists():
        pytest.skip(f"shared data not found under {SHARED_DATA}")
    raw = pd.read_csv(
        path, skiprows=[1], usecols=["event_id_cnty", "country", "admin1", "admin2", "latitude", "longitude"]
    )
    ev = raw.rename(columns={"event_id_cnty": "event_id"})
    names = [
        "Kayes",
        "Koulikoro|Koulikouro",
        "Sikasso",
        "Ségou|Segou",
        "Mopti",
        "Tombouctou|Timbuktu",
        "Gao",
        "Kidal",
        "Bamako",
    ]
    g = Gazetteer(
        regions([dict(unit_id=f"ML{i:02d}", name=n.split("|")[0], aliases=n) for i, n in enumerate(names, 1)])
    )
    out, rep = assign_units(ev, g)
    assert rep.n_assigned == len(ev) == rep.n_by_name
    check_unassigned(rep, 0.0, file=str(path))
    out_p, rep_p = assign_units(ev, g, boundaries=load_boundaries(bpath))
    # Simplified polygons move a few border events; almost all must agree with ACLED's names.
    assert rep_p.share_unassigned < 0.01
    agree = (
        out.set_index("event_id")["unit_id"].reindex(out_p["event_id"]).to_numpy()
        == out_p["unit_id"].to_numpy()
    )
    assert agree.mean() > 0.97
