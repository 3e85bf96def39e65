"""riskcast's own tables: write atomically, read back with cell-level errors."""

from __future__ import annotations

import pandas as pd
import pytest

from riskcast.errors import InputError
from riskcast.io.acled import read_acled_hdx
from riskcast.io.canonical import read_canonical, write_canonical
from riskcast.io.geopko import read_geopko
from tests.io._helpers import FIXTURES, check_error, write

SHOCKS_CSV = """date,country,region,kind,actor,description,source
2013-01-11,Mali,,deployment,France,Invented description one,invented note
2020-08-18,Mali,,coup,,Invented description two,invented note
"""


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_events_round_trip(tmp_path, suffix):
    events = read_acled_hdx(FIXTURES / "acled_hdx_sample.csv").table
    p = write_canonical(events, tmp_path / f"events{suffix}")
    assert not [f for f in tmp_path.iterdir() if f.name.endswith(".tmp")]
    back = read_canonical(p, table="events")
    pd.testing.assert_frame_equal(back.table, events, check_dtype=True)
    assert back.report.rows_read == back.report.rows_kept == 5


def test_presence_round_trip_with_empty_end(tmp_path):
    csv = "mission,year,month,location,country,latitude,longitude,no.troops\nX,2015,1,B,Mali,15,-2,10\n"
    pres = read_geopko(write(tmp_path, "g.csv", csv), missions=["X"]).table
    pres.loc[0, "end_month"] = pd.NaT
    p = write_canonical(pres, tmp_path / "presence.csv")
    back = read_canonical(p, table="presence").table
    assert pd.isna(back.loc[0, "end_month"]) and back.loc[0, "troops"] == 10.0


def test_shocks_csv(tmp_path):
    res = read_canonical(write(tmp_path, "shocks.csv", SHOCKS_CSV), table="shocks")
    assert list(res.table["kind"]) == ["deployment", "coup"]
    assert res.table["date"].iloc[0] == pd.Timestamp("2013-01-11")


def test_header_only_is_an_empty_table(tmp_path):
    res = read_canonical(write(tmp_path, "shocks.csv", SHOCKS_CSV.splitlines()[0] + "\n"), table="shocks")
    assert res.table.empty and list(res.table.columns)[:3] == ["date", "country", "region"]


def test_bad_date_cell(tmp_path):
    p = write(tmp_path, "shocks.csv", SHOCKS_CSV.replace("2020-08-18", "18/08/2020"))
    with pytest.raises(InputError) as exc:
        read_canonical(p, table="shocks")
    check_error(exc, file=p, row=3, column="date", says="'18/08/2020'")


def test_unknown_kind_value(tmp_path):
    p = write(tmp_path, "shocks.csv", SHOCKS_CSV.replace(",coup,", ",putsch,"))
    with pytest.raises(InputError) as exc:
        read_canonical(p, table="shocks")
    check_error(exc, file=p, row=3, column="kind", says="putsch")


def test_unexpected_column(tmp_path):
    p = write(
        tmp_path,
        "shocks.csv",
        SHOCKS_CSV.replace("source\n", "source,extra\n", 1).replace("note\n", "note,x\n"),
    )
    with pytest.raises(InputError) as exc:
        read_canonical(p, table="shocks")
    check_error(exc, file=p, row=None, column="extra", says="unexpected")


def test_misspelt_column(tmp_path):
    p = write(tmp_path, "shocks.csv", SHOCKS_CSV.replace("description", "descripton", 1))
    with pytest.raises(InputError) as exc:
        read_canonical(p, table="shocks")
    check_error(exc, file=p, row=1, column="description", says="misspelt?")


def test_unknown_table(tmp_path):
    with pytest.raises(InputError, match="unknown table 'incidents'"):
        read_canonical(write(tmp_path, "x.csv", SHOCKS_CSV), table="incidents")


def test_write_rejects_other_suffix(tmp_path):
    with pytest.raises(ValueError):
        write_canonical(pd.DataFrame({"a": [1]}), tmp_path / "x.json")
