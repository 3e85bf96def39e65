"""ACLED HDX and export readers: the real shared files, hand-made fixtures and bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from riskcast.errors import InputError
from riskcast.io.acled import DYADIC_DUPLICATE, read_acled_export, read_acled_hdx
from tests.io._helpers import FIXTURES, check_error, fixture_lines, shared_file, with_lines, write

HDX_MALI = "events/acled_hdx_mali_1997_2019-06.csv"
EXPORT_MALI = "events/acled_export_mali_2017_2019-06_dyadic.csv"
HDX = FIXTURES / "acled_hdx_sample.csv"
EXPORT = FIXTURES / "acled_export_sample.csv"


@pytest.fixture(scope="module")
def hdx_mali():
    return read_acled_hdx(shared_file(HDX_MALI))


@pytest.fixture(scope="module")
def export_mali():
    return read_acled_export(shared_file(EXPORT_MALI))


# --- real files -------------------------------------------------------------------------


def test_hdx_mali_counts_and_dates(hdx_mali):
    t, rep = hdx_mali.table, hdx_mali.report
    assert len(t) == rep.rows_read == rep.rows_kept == 2913
    assert any("HXL" in n for n in rep.notes)
    assert not t["event_id"].str.startswith("#").any()
    assert t["date"].min() == pd.Timestamp("1997-01-06")
    assert t["date"].max() == pd.Timestamp("2019-06-30")
    assert set(t["source_dataset"]) == {"ACLED"}
    # The data README says 10 admin1 incl. Menaka; the HDX Mali file itself has 9 (no Menaka:
    # its events are under Gao). Pin what the file holds.
    assert t["admin1"].nunique() == 9 and "Menaka" not in set(t["admin1"])


@pytest.mark.parametrize(
    "rel, n, n_admin1",
    [
        ("events/acled_hdx_burkina_faso_1997_2020-08.csv", 2730, 13),
        ("events/acled_hdx_niger_1997_2020-08.csv", 1349, 8),
    ],
)
def test_hdx_other_countries(rel, n, n_admin1):
    res = read_acled_hdx(shared_file(rel))
    assert len(res.table) == n and res.table["event_id"].is_unique
    assert res.table["admin1"].nunique() == n_admin1
    assert res.table["date"].max() < pd.Timestamp("2020-09-01")


def test_export_mali_deduplicated(export_mali):
    raw = pd.read_csv(shared_file(EXPORT_MALI), usecols=["event_id_cnty"])
    t, rep = export_mali.table, export_mali.report
    assert rep.rows_read == len(raw) == 4149
    assert len(t) == raw["event_id_cnty"].nunique() == 2216
    assert rep.dropped[DYADIC_DUPLICATE] == len(raw) - 2216 == 1933
    assert t["event_id"].is_unique
    # actor2 rebuilt from the second row of each two-row event.
    two_rows = raw["event_id_cnty"].value_counts()
    assert t.set_index("event_id").loc[two_rows[two_rows == 2].index, "actor2"].notna().all()
    # "20 December 2020" style dates parsed; the file runs past its name's 2019-06.
    assert t["date"].min() == pd.Timestamp("2017-01-01")
    assert t["date"].max() == pd.Timestamp("2020-12-20")


# --- hand-made fixtures -----------------------------------------------------------------


def test_hdx_fixture_skips_hxl_row_and_maps_columns():
    res = read_acled_hdx(HDX)
    t = res.table
    assert list(t["event_id"]) == ["TST901", "TST902", "TST903", "TST904", "TST905"]
    assert res.report.rows_read == 5 and res.report.notes == ["HXL hashtag row (file row 2) skipped"]
    first = t.iloc[0]
    assert first["date"] == pd.Timestamp("2018-02-03") and first["precision"] == 1
    assert first["geo_precision"] == 2 and first["fatalities"] == 3
    assert first["actor2"] == "Invented Armed Group A" and first["location"] == "Invented Village One"
    assert t["notes"].iloc[1] == "Invented note two, with a comma."
    assert pd.isna(t["actor2"].iloc[2])


def test_hdx_without_hxl_row_is_read_too(tmp_path):
    lines = fixture_lines("acled_hdx_sample.csv")
    p = with_lines(tmp_path, "no_hxl.csv", [lines[0]] + lines[2:])
    res = read_acled_hdx(p)
    assert len(res.table) == 5 and res.report.notes == []


def test_export_fixture_dyadic():
    res = read_acled_export(EXPORT)
    t = res.table.set_index("event_id")
    assert list(t.index) == ["TST904", "TST906", "TST907"]
    assert res.report.dropped == {DYADIC_DUPLICATE: 2}
    assert t.loc["TST904", "actor1"] == "Invented Armed Group B"
    assert t.loc["TST904", "actor2"] == "Military Forces of Mali"
    assert pd.isna(t.loc["TST907", "actor2"])
    # long-form and ISO dates in one file
    assert t.loc["TST904", "date"] == pd.Timestamp("2018-03-15")
    assert t.loc["TST907", "date"] == pd.Timestamp("2018-06-09")


# --- bad input --------------------------------------------------------------------------


def _hdx_variant(tmp_path, old: str, new: str, line: int = 4):
    lines = fixture_lines("acled_hdx_sample.csv")
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return with_lines(tmp_path, "bad.csv", lines)


def test_malformed_csv(tmp_path):
    p = _hdx_variant(tmp_path, '"Invented note two, with a comma."', "Unquoted, extra, comma")
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=4, column=None, says="malformed CSV")


def test_missing_column(tmp_path):
    lines = fixture_lines("acled_hdx_sample.csv")
    lines[0] = lines[0].replace("fatalities", "deaths")
    p = with_lines(tmp_path, "bad.csv", lines)
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=1, column="fatalities", says="missing column 'fatalities'")
    assert "misspelt" not in str(exc.value)


def test_misspelt_column_hint(tmp_path):
    lines = fixture_lines("acled_hdx_sample.csv")
    lines[0] = lines[0].replace("event_date", "event_dat")
    p = with_lines(tmp_path, "bad.csv", lines)
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=1, column="event_date", says="found 'event_dat': misspelt?")


def test_unparseable_date(tmp_path):
    p = _hdx_variant(tmp_path, "2018-02-10", "2018-02-31")
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=4, column="event_date", says="'2018-02-31'")


def test_date_in_future(tmp_path):
    p = _hdx_variant(tmp_path, "2018-03-01", "2099-03-01", line=5)
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=5, column="event_date", says="not in the future")


def test_negative_fatalities(tmp_path):
    p = _hdx_variant(tmp_path, "Invented note four.,7", "Invented note four.,-7", line=6)
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=6, column="fatalities", says="-7")


def test_fatalities_not_a_number(tmp_path):
    p = _hdx_variant(tmp_path, "Invented note four.,7", "Invented note four.,seven", line=6)
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=6, column="fatalities", says="expected a number, got 'seven'")


def test_latitude_out_of_range(tmp_path):
    p = _hdx_variant(tmp_path, "16.41", "96.41", line=7)
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=7, column="latitude", says="96.41")


def test_duplicate_event_id(tmp_path):
    p = _hdx_variant(tmp_path, "TST904", "TST901", line=6)
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=6, column="event_id_cnty", says="rows 3 and 6")


def test_empty_file(tmp_path):
    p = write(tmp_path, "empty.csv", "")
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=None, column=None, says="empty")


def test_header_only(tmp_path):
    p = with_lines(tmp_path, "header.csv", fixture_lines("acled_hdx_sample.csv")[:1])
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=2, column=None, says="no data rows")


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as exc:
        read_acled_hdx(tmp_path / "nope.csv")
    check_error(exc, file=tmp_path / "nope.csv", row=None, column=None, says="not found")


def test_export_rows_of_one_event_disagree(tmp_path):
    lines = fixture_lines("acled_export_sample.csv")
    lines[4] = lines[4].replace("Invented note six.,4", "Invented note six.,5")
    p = with_lines(tmp_path, "bad.csv", lines)
    with pytest.raises(InputError) as exc:
        read_acled_export(p)
    check_error(exc, file=p, row=5, column="fatalities", says="rows 4 and 5")


def test_export_unparseable_long_date(tmp_path):
    lines = fixture_lines("acled_export_sample.csv")
    lines[3] = lines[3].replace("2 May 2018", "2 Mai 2018")
    p = with_lines(tmp_path, "bad.csv", lines)
    with pytest.raises(InputError) as exc:
        read_acled_export(p)
    check_error(exc, file=p, row=4, column="event_date", says="'2 Mai 2018'")


# --- record times (ACLED's timestamp) ---------------------------------------------------


def _with_timestamp(tmp_path, stamps: list[str]):
    lines = fixture_lines("acled_hdx_sample.csv")
    out = [lines[0] + ",timestamp", lines[1] + ",#date+recorded"]
    out += [ln + "," + s for ln, s in zip(lines[2:], stamps)]
    return with_lines(tmp_path, "ts.csv", out)


def test_timestamp_read_as_recorded(tmp_path):
    p = _with_timestamp(tmp_path, ["1518048000", "", "1520000000", "1520000000", "1520000000"])
    t = read_acled_hdx(p).table
    assert t["recorded"].iloc[0] == pd.Timestamp("2018-02-08")  # 1518048000 s after the epoch
    assert pd.isna(t["recorded"].iloc[1])


def test_no_timestamp_column_no_recorded():
    assert "recorded" not in read_acled_hdx(HDX).table.columns


@pytest.mark.parametrize("bad", ["yesterday", "-5", "99999999999"])
def test_bad_timestamp_names_cell(tmp_path, bad):
    p = _with_timestamp(tmp_path, ["1518048000", "1518048000", bad, "1518048000", "1518048000"])
    with pytest.raises(InputError) as exc:
        read_acled_hdx(p)
    check_error(exc, file=p, row=5, column="timestamp")


def test_real_burkina_reporting_lag_is_days_not_months():
    from riskcast.coverage import source_coverage

    t = read_acled_hdx(shared_file("events/acled_hdx_burkina_faso_1997_2020-08.csv")).table
    cov = source_coverage(t, "2020-08").iloc[0]
    # the HDX download of August 2020: most of the last year's events were entered within days
    assert cov["lag_n"] > 500
    assert 1 <= cov["lag_median_days"] <= 30
    assert cov["lag_p90_days"] > cov["lag_median_days"]
