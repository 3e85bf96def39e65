"""UCDP peace agreements: the real v22.1 workbook and an invented workbook."""

from __future__ import annotations

import pandas as pd
import pytest

from riskcast.errors import InputError
from riskcast.io.peace import read_ucdp_peace_agreements
from tests.io._helpers import check_error, shared_file

PEACE = "shocks/ucdp_peace_agreements_221.xlsx"


@pytest.fixture(scope="module")
def peace():
    return read_ucdp_peace_agreements(shared_file(PEACE))


def test_real_file(peace):
    t, rep = peace.table, peace.report
    assert rep.rows_read == 374 and len(t) == 10
    assert t["country"].value_counts().to_dict() == {"Mali": 6, "Niger": 4}  # none for Burkina Faso
    assert set(t["source"]) == {"UCDP Peace Agreements 22.1"}
    by_date = t[t["country"] == "Mali"].set_index("date")
    algiers = by_date.loc[pd.Timestamp("2015-06-20")]
    assert algiers["kind"] == "peace_accord" and "Algiers process" in algiers["description"]
    assert algiers["actor"] == "Government of Mali, CMA"
    ouaga = by_date.loc[pd.Timestamp("2013-06-18")]
    assert ouaga["kind"] == "ceasefire" and "Ouagadougou" in ouaga["description"]
    # Pacte National 1992: a full agreement with a ceasefire clause is an accord
    assert by_date.loc[pd.Timestamp("1992-04-11"), "kind"] == "peace_accord"


def test_wrong_sheet_name():
    p = shared_file(PEACE)
    with pytest.raises(InputError) as exc:
        read_ucdp_peace_agreements(p, sheet="Data")
    check_error(exc, file=p, row=None, column=None, says="no sheet 'Data'; sheets present: ['Dataset']")


def _workbook(tmp_path, rows):
    cols = [
        "paid",
        "gwno",
        "conflict_name",
        "actor_name",
        "pa_name",
        "year",
        "pa_date",
        "cease",
        "pa_type",
        "version",
    ]
    p = tmp_path / "peace.xlsx"
    pd.DataFrame(rows, columns=cols).to_excel(p, sheet_name="Dataset", index=False)
    return p


ROWS = [
    [
        1,
        "432, 439",
        "Invented conflict",
        "Government of Mali, Invented Front",
        "Invented Joint Accord",
        2016,
        "2016-02-01",
        1,
        2,
        22.1,
    ],
    [2, "700", "Invented elsewhere", "Someone", "Invented Far Accord", 2010, "2010-05-05", 0, 1, 22.1],
    [
        3,
        "436",
        "Invented conflict",
        "Government of Niger, Invented Front",
        "Invented Full Peace",
        2017,
        "2017-07-07",
        1,
        1,
        22.1,
    ],
]


def test_multi_country_gwno(tmp_path):
    res = read_ucdp_peace_agreements(_workbook(tmp_path, ROWS))
    t = res.table
    assert list(zip(t["country"], t["kind"])) == [
        ("Mali", "ceasefire"),
        ("Burkina Faso", "ceasefire"),
        ("Niger", "peace_accord"),
    ]
    assert res.report.dropped == {"country (gwno) not selected": 1}
    only = read_ucdp_peace_agreements(
        _workbook(tmp_path, ROWS), gwno=[700], country_names={700: "Afghanistan"}
    )
    assert list(only.table["country"]) == ["Afghanistan"]


def test_bad_date(tmp_path):
    rows = [ROWS[0], ROWS[1], ROWS[2][:6] + ["2017-13-07"] + ROWS[2][7:]]
    p = _workbook(tmp_path, rows)
    with pytest.raises(InputError) as exc:
        read_ucdp_peace_agreements(p)
    check_error(exc, file=p, row=4, column="pa_date", says="'2017-13-07'")


def test_bad_gwno(tmp_path):
    rows = [ROWS[0], ROWS[1][:1] + ["Mali"] + ROWS[1][2:]]
    p = _workbook(tmp_path, rows)
    with pytest.raises(InputError) as exc:
        read_ucdp_peace_agreements(p)
    check_error(exc, file=p, row=3, column="gwno", says="'Mali'")
