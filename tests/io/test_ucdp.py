"""UCDP GED reader on the hand-made codebook fixture (no real GED file in shared/data)."""

from __future__ import annotations

import pandas as pd
import pytest

from riskcast.errors import InputError
from riskcast.io.ucdp import read_ucdp_ged
from tests.io._helpers import FIXTURES, check_error, fixture_lines, with_lines, write

GED = FIXTURES / "ucdp_ged_sample.csv"


@pytest.fixture(scope="module")
def ged():
    return read_ucdp_ged(GED)


def test_fixture_has_every_codebook_column():
    header = fixture_lines("ucdp_ged_sample.csv")[0].split(",")
    assert len(header) == 47 and header[0] == "id" and header[-1] == "low"


def test_mapping(ged):
    t = ged.table.set_index("event_id")
    assert len(t) == ged.report.rows_kept == 12
    assert set(t["source_dataset"]) == {"UCDP GED"}
    e = t.loc["GED-990001"]
    assert e["date"] == pd.Timestamp("2019-03-17")
    assert (e["admin1"], e["admin2"]) == ("Mopti", "Douentza")
    assert (e["actor1"], e["actor2"]) == ("Government of Mali", "Invented Jihadist Front")
    assert e["event_type"] == "state-based" and e["fatalities"] == 5 and e["priogrid_gid"] == 151555
    assert pd.isna(e["sub_event_type"])
    assert t.loc["GED-990008", "admin2"] == "Soum"  # " province" stripped
    assert t.loc["GED-990010", "admin1"] == "Centre-Nord"
    assert pd.isna(t.loc["GED-990011", "admin2"])
    assert t.loc["GED-990002", "event_type"] == "one-sided"
    assert t.loc["GED-990003", "event_type"] == "non-state"


@pytest.mark.parametrize(
    "eid, precision, geo",
    [
        ("GED-990001", 1, 2),  # date_prec 1, where_prec 2
        ("GED-990003", 2, 2),  # 3, 3
        ("GED-990004", 2, 2),  # 2, 2
        ("GED-990005", 3, 3),  # 4, 4
        ("GED-990006", 1, 3),  # 1, 5
        ("GED-990007", 3, 3),  # 5, 6
        ("GED-990011", 1, 3),  # 1, 7
    ],
)
def test_precision_scales(ged, eid, precision, geo):
    e = ged.table.set_index("event_id").loc[eid]
    assert (e["precision"], e["geo_precision"]) == (precision, geo)


def test_events_spanning_months_noted(ged):
    assert any(n.startswith("2 events end in a later month") for n in ged.report.notes)


def _variant(tmp_path, line: int, old: str, new: str):
    lines = fixture_lines("ucdp_ged_sample.csv")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return with_lines(tmp_path, "ged.csv", lines)


def test_violence_type_outside_codebook(tmp_path):
    p = _variant(tmp_path, 3, ",Clear,3,", ",Clear,4,")
    with pytest.raises(InputError) as exc:
        read_ucdp_ged(p)
    check_error(exc, file=p, row=3, column="type_of_violence", says="codebook codes [1, 2, 3]")


def test_unparseable_date(tmp_path):
    p = _variant(tmp_path, 4, "2018-05-01 00:00:00.000", "01/05/2018x")
    with pytest.raises(InputError) as exc:
        read_ucdp_ged(p)
    check_error(exc, file=p, row=4, column="date_start", says="'01/05/2018x'")


def test_future_date(tmp_path):
    p = _variant(tmp_path, 4, "2018-05-01 00:00:00.000", "2098-05-01 00:00:00.000")
    with pytest.raises(InputError) as exc:
        read_ucdp_ged(p)
    check_error(exc, file=p, row=4, column="date_start", says="not in the future")


def test_negative_best(tmp_path):
    p = _variant(tmp_path, 2, ",2,3,0,0,5,7,4", ",2,3,0,0,-5,7,4")
    with pytest.raises(InputError) as exc:
        read_ucdp_ged(p)
    check_error(exc, file=p, row=2, column="best")


def test_longitude_out_of_range(tmp_path):
    p = _variant(tmp_path, 2, ",15.0,-2.95,", ",15.0,-200.95,")
    with pytest.raises(InputError) as exc:
        read_ucdp_ged(p)
    check_error(exc, file=p, row=2, column="longitude")


def test_duplicate_id(tmp_path):
    p = _variant(tmp_path, 5, "990004,", "990002,")
    with pytest.raises(InputError) as exc:
        read_ucdp_ged(p)
    check_error(exc, file=p, row=5, column="id", says="rows 3 and 5")


def test_missing_column(tmp_path):
    lines = fixture_lines("ucdp_ged_sample.csv")
    lines[0] = lines[0].replace(",best,", ",bets,")
    p = with_lines(tmp_path, "ged.csv", lines)
    with pytest.raises(InputError) as exc:
        read_ucdp_ged(p)
    check_error(exc, file=p, row=1, column="best", says="found 'bets': misspelt?")


def test_empty(tmp_path):
    p = write(tmp_path, "ged.csv", "")
    with pytest.raises(InputError) as exc:
        read_ucdp_ged(p)
    check_error(exc, file=p, row=None, column=None, says="empty")
