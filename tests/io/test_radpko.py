"""RADPKO grid-month file: only cell-months with troops become PRESENCE rows."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from riskcast.errors import InputError
from riskcast.io.radpko import FORCE, NO_TROOPS, read_radpko
from tests.io._helpers import check_error, shared_file, write

RADPKO = "presence/radpko_acled_gridmonth_sahel_bbox_kunkel_plot.parquet"


@pytest.fixture(scope="module")
def radpko():
    t0 = time.perf_counter()
    res = read_radpko(shared_file(RADPKO))
    return res, time.perf_counter() - t0


def test_real_file(radpko):
    res, seconds = radpko
    t, rep = res.table, res.report
    assert rep.rows_read == 528264
    assert len(t) == 1245 and rep.dropped == {NO_TROOPS: 528264 - 1245}
    assert (t["troops"] > 0).all() and set(t["force"]) == {FORCE}
    assert (t["start_month"] == t["end_month"]).all()
    assert t["location"].iloc[0] == f"PRIO-GRID {t['priogrid_gid'].iloc[0]}"
    assert seconds < 10


def test_real_file_years(radpko):
    t = radpko[0].table
    # Mali's cells (MINUSMA) have troops only 2014-2017 ...
    mali = t[(t["latitude"] > 10) & (t["longitude"] < 5)]
    assert mali["start_month"].dt.year.between(2014, 2017).all()
    assert mali["start_month"].min() == pd.Timestamp("2014-03-01")
    # ... but the bounding box also cuts into Sierra Leone / Cote d'Ivoire (lat 9-10) and
    # Chad, whose earlier missions show up from 2000 on (the data README says 2014-2017 only).
    assert t["start_month"].min() == pd.Timestamp("2000-05-01")
    assert t["start_month"].max() == pd.Timestamp("2017-12-01")


CSV = """gid,year,month,radpko_pko_deployed,radpko_units_deployed,lat,lon
150000,2015,1,0,0,14.25,-0.25
150000,2015,2,120.5,2,14.25,-0.25
150001,2015,2,,0,14.25,0.25
150001,2015,3,40,1,14.25,0.25
"""


def test_fixture(tmp_path):
    res = read_radpko(write(tmp_path, "r.csv", CSV), country="Mali")
    t = res.table
    assert list(t["troops"]) == [120.5, 40.0]
    assert list(t["priogrid_gid"]) == [150000, 150001]
    assert set(t["country"]) == {"Mali"}
    assert res.report.dropped == {NO_TROOPS: 2}


def test_negative_troops(tmp_path):
    p = write(tmp_path, "r.csv", CSV.replace("2015,3,40,", "2015,3,-40,"))
    with pytest.raises(InputError) as exc:
        read_radpko(p)
    check_error(exc, file=p, row=5, column="radpko_pko_deployed")


def test_missing_column(tmp_path):
    p = write(tmp_path, "r.csv", CSV.replace("radpko_pko_deployed", "pko_deployed"))
    with pytest.raises(InputError) as exc:
        read_radpko(p)
    check_error(exc, file=p, row=1, column="radpko_pko_deployed", says="missing column")
