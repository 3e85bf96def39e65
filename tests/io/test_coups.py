"""Powell & Thyne coups: the real (comma-separated) file and a tab-separated fixture."""

from __future__ import annotations

import pandas as pd
import pytest

from riskcast.errors import InputError
from riskcast.io.coups import read_powell_thyne
from tests.io._helpers import check_error, shared_file, write

COUPS = "shocks/powell_thyne_coups_V2022.11.29.csv"

# The coups the data README lists for the three countries: (country, date, coup code).
README_COUPS = [
    ("Mali", "2012-03-22", "coup"),
    ("Mali", "2012-05-01", "coup_attempt"),
    ("Mali", "2020-08-18", "coup"),
    ("Mali", "2021-05-21", "coup"),
    ("Niger", "2021-03-31", "coup_attempt"),
    ("Burkina Faso", "2022-01-23", "coup"),
    ("Burkina Faso", "2022-09-30", "coup"),
]


@pytest.fixture(scope="module")
def coups():
    return read_powell_thyne(shared_file(COUPS))


def test_real_file_three_countries(coups):
    t, rep = coups.table, coups.report
    assert rep.rows_read == 488 and len(t) == 25
    assert rep.dropped == {"country not selected": 463}
    assert "delimiter detected: ','" in rep.notes
    assert t["country"].value_counts().to_dict() == {"Burkina Faso": 10, "Mali": 8, "Niger": 7}
    have = set(zip(t["country"], t["date"].dt.strftime("%Y-%m-%d"), t["kind"]))
    assert set(README_COUPS) <= have
    # the file (V2022.11.29) predates Niger's coup of 2023-07-26
    assert t["date"].max() == pd.Timestamp("2022-09-30")
    assert set(t["source"]) == {"Powell & Thyne coups V2022.11.29"}
    row = t[(t["country"] == "Mali") & (t["date"] == "2012-03-22")].iloc[0]
    assert row["description"] == "Successful coup (Powell & Thyne)"


def test_all_countries(tmp_path):
    res = read_powell_thyne(shared_file(COUPS), countries=None)
    assert len(res.table) == 488 and not res.report.dropped


TSV = [
    "country\tccode\tyear\tmonth\tday\tcoup\tversion",
    "Mali\t432\t2012\t3\t22\t2\tVtest",
    "Invented Land\t999\t2001\t6\t1\t1\tVtest",
    "Niger\t436\t2021\t3\t31\t1\tVtest",
]


def test_tab_separated_fixture(tmp_path):
    p = write(tmp_path, "coups.txt", "\n".join(TSV) + "\n")
    res = read_powell_thyne(p)
    assert res.report.notes[0] == "delimiter detected: '\\t'"
    assert list(res.table["kind"]) == ["coup", "coup_attempt"]
    assert res.table["description"].iloc[1] == "Failed coup attempt (Powell & Thyne)"
    assert res.report.dropped == {"country not selected": 1}
    assert any("Burkina Faso" in n for n in res.report.notes)  # asked for, absent


def test_day_that_does_not_exist(tmp_path):
    lines = TSV[:3] + ["Niger\t436\t2021\t2\t30\t1\tVtest"]
    p = write(tmp_path, "coups.txt", "\n".join(lines) + "\n")
    with pytest.raises(InputError) as exc:
        read_powell_thyne(p)
    check_error(exc, file=p, row=4, column="day", says="exists in that month")


def test_bad_coup_code(tmp_path):
    lines = TSV[:1] + ["Mali\t432\t2012\t3\t22\t3\tVtest"]
    p = write(tmp_path, "coups.txt", "\n".join(lines) + "\n")
    with pytest.raises(InputError) as exc:
        read_powell_thyne(p)
    check_error(exc, file=p, row=2, column="coup", says="got '3'")


def test_future_coup(tmp_path):
    lines = TSV[:1] + ["Mali\t432\t2097\t3\t22\t2\tVtest"]
    p = write(tmp_path, "coups.txt", "\n".join(lines) + "\n")
    with pytest.raises(InputError) as exc:
        read_powell_thyne(p)
    check_error(exc, file=p, row=2, column="year", says="not in the future")


def test_missing_column(tmp_path):
    p = write(tmp_path, "coups.csv", "country,year,month,dday,coup\nMali,2012,3,22,2\n")
    with pytest.raises(InputError) as exc:
        read_powell_thyne(p)
    check_error(exc, file=p, row=1, column="day", says="missing column 'day'")
