"""Geo-PKO: snapshot months held until the mission's next snapshot."""

from __future__ import annotations

import pandas as pd
import pytest

from riskcast.errors import InputError
from riskcast.io.geopko import read_geopko
from tests.io._helpers import check_error, shared_file, write

GEOPKO = "presence/geopko_v2.1_derived_kunkel_final.parquet"


@pytest.fixture(scope="module")
def minusma():
    return read_geopko(shared_file(GEOPKO))


def test_real_minusma(minusma):
    t, rep = minusma.table, minusma.report
    assert rep.rows_read == 18699 and len(t) == 442
    assert set(t["force"]) == {"MINUSMA"} and set(t["country"]) == {"Mali"}
    assert rep.dropped == {"mission not selected": 18699 - 442}
    assert t["start_month"].nunique() == 33
    assert t["start_month"].min() == pd.Timestamp("2014-03-01")
    assert t["end_month"].max() == pd.Timestamp("2020-12-01")  # last snapshot, held 0 months
    assert set(t["source"]) == {"Geo-PKO v2.1"}


def test_real_minusma_held_between_snapshots(minusma):
    t = minusma.table
    snaps = sorted(t["start_month"].unique())
    nxt = dict(zip(snaps, snaps[1:]))
    for start, end in t[["start_month", "end_month"]].drop_duplicates().itertuples(index=False):
        if start in nxt:
            assert end == nxt[start] - pd.DateOffset(months=1)
        else:
            assert end == start
    # Gao is in every snapshot: its spells tile 2014-03 .. 2020-12 without gaps.
    gao = t[t["location"] == "Gao"].sort_values("start_month")
    assert len(gao) == 33
    assert (
        gao["start_month"].iloc[1:].values == (gao["end_month"].iloc[:-1] + pd.DateOffset(months=1)).values
    ).all()
    # e.g. the 2014-05 snapshot holds through 2014-08 (next snapshot 2014-09)
    row = gao[gao["start_month"] == "2014-05-01"].iloc[0]
    assert row["end_month"] == pd.Timestamp("2014-08-01")


CSV = """mission,year,month,location,country,latitude,longitude,no.troops
INVENTED,2015,1,Base A,Mali,15.1,-2.1,300
INVENTED,2015,1,Base B,Mali,16.2,-1.2,unknown
INVENTED,2015,4,Base A,Mali,15.1,-2.1,350
OTHERPKO,2015,1,Elsewhere,Invented Land,1.0,30.0,100
INVENTED,2015,9,Base A,Mali,15.1,-2.1,NA
"""


def test_fixture_snapshots_and_leaving_base(tmp_path):
    res = read_geopko(write(tmp_path, "g.csv", CSV))
    t = res.table.set_index(["location", "start_month"])
    # Base B is missing from the April snapshot: it left; its January row holds Jan-Mar.
    assert t.loc[("Base B", pd.Timestamp("2015-01-01")), "end_month"] == pd.Timestamp("2015-03-01")
    assert t.loc[("Base A", pd.Timestamp("2015-04-01")), "end_month"] == pd.Timestamp("2015-08-01")
    assert t.loc[("Base A", pd.Timestamp("2015-09-01")), "end_month"] == pd.Timestamp("2015-09-01")
    assert t["troops"].isna().sum() == 2
    assert any(n.startswith("2 rows with troops not reported") for n in res.report.notes)
    assert res.report.dropped == {"mission not selected": 1}


def test_fixture_hold_last_and_mission_option(tmp_path):
    p = write(tmp_path, "g.csv", CSV)
    res = read_geopko(p, missions=["INVENTED", "OTHERPKO"], hold_last_months=2)
    t = res.table
    assert len(t) == 5
    last = t[(t["location"] == "Base A") & (t["start_month"] == "2015-09-01")].iloc[0]
    assert last["end_month"] == pd.Timestamp("2015-11-01")
    other = t[t["force"] == "OTHERPKO"].iloc[0]
    assert other["end_month"] == pd.Timestamp("2015-03-01")  # its own only snapshot, held 2


def test_bad_troops(tmp_path):
    p = write(tmp_path, "g.csv", CSV.replace(",350\n", ",about 350\n"))
    with pytest.raises(InputError) as exc:
        read_geopko(p)
    check_error(exc, file=p, row=4, column="no.troops", says="'about 350'")


def test_bad_month(tmp_path):
    p = write(tmp_path, "g.csv", CSV.replace("INVENTED,2015,4,", "INVENTED,2015,14,"))
    with pytest.raises(InputError) as exc:
        read_geopko(p)
    check_error(exc, file=p, row=4, column="month", says="1-12")


def test_latitude_out_of_range(tmp_path):
    p = write(tmp_path, "g.csv", CSV.replace("16.2,-1.2", "116.2,-1.2"))
    with pytest.raises(InputError) as exc:
        read_geopko(p)
    check_error(exc, file=p, row=3, column="latitude")
