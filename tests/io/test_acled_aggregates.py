"""ACLED HDX admin2-month aggregates: the real Burkina Faso workbooks and bad input."""

from __future__ import annotations

import pandas as pd
import pytest

from riskcast.errors import InputError
from riskcast.io.acled_aggregates import infer_event_class, read_acled_aggregates
from tests.io._helpers import check_error, shared_file, write

PV = "aggregates/acled_hdx_bfa_political_violence_admin2_month_1997_2020.xlsx"
CT = "aggregates/acled_hdx_bfa_civilian_targeting_admin2_month_1997_2020.xlsx"


@pytest.fixture(scope="module")
def pv():
    return read_acled_aggregates(shared_file(PV))


def test_real_political_violence_grid(pv):
    t = pv.table
    assert t["admin2"].nunique() == 45 and t["admin1"].nunique() == 13
    assert t["month"].nunique() == 288
    assert len(t) == pv.report.rows_kept == 45 * 288
    assert t["month"].min() == pd.Timestamp("1997-01-01") and t["month"].max() == pd.Timestamp("2020-12-01")
    assert (t["month"].dt.day == 1).all()
    assert t.groupby("admin2").size().eq(288).all()
    assert set(t["event_class"]) == {"political_violence"}
    assert set(t["source_dataset"]) == {"ACLED HDX aggregates"}
    assert t["admin2_pcode"].str.match(r"^BF\d{4}$").all()


def test_real_civilian_targeting_class():
    res = read_acled_aggregates(shared_file(CT))
    assert set(res.table["event_class"]) == {"civilian_targeting"}
    assert len(res.table) == 45 * 288


def test_wrong_sheet_name():
    p = shared_file(PV)
    with pytest.raises(InputError) as exc:
        read_acled_aggregates(p, sheet="Daten")
    check_error(exc, file=p, row=None, column=None, says="no sheet 'Daten'; sheets present: ['TOU', 'Data']")


HEADER = "Country,Admin1,Admin2,ISO3,Admin2 Pcode,Admin1 Pcode,Month,Year,Events,Fatalities"
ROWS = [
    "Burkina Faso,Invented Region,Invented Province A,BFA,BF9901,BF99,January,2019,3,5",
    "Burkina Faso,Invented Region,Invented Province B,BFA,BF9902,BF99,January,2019,0,0",
    "Burkina Faso,Invented Region,Invented Province A,BFA,BF9901,BF99,February,2019,1,0",
]


def _csv(tmp_path, rows=ROWS, header=HEADER, name="agg.csv"):
    return write(tmp_path, name, "\n".join([header, *rows]) + "\n")


def test_csv_and_event_class_option(tmp_path):
    res = read_acled_aggregates(_csv(tmp_path), event_class="battles")
    t = res.table
    assert list(t["month"]) == [pd.Timestamp("2019-01-01")] * 2 + [pd.Timestamp("2019-02-01")]
    assert list(t["events"]) == [3, 0, 1] and set(t["event_class"]) == {"battles"}
    assert infer_event_class(tmp_path / "agg.csv") == "events"


def test_xlsx_round_trip_default_sheet(tmp_path):
    df = pd.read_csv(_csv(tmp_path))
    p = tmp_path / "invented_political_violence.xlsx"
    with pd.ExcelWriter(p) as xw:
        pd.DataFrame({"terms": ["invented"]}).to_excel(xw, sheet_name="TOU", index=False)
        df.to_excel(xw, sheet_name="Data", index=False)
    res = read_acled_aggregates(p)
    assert len(res.table) == 3 and set(res.table["event_class"]) == {"political_violence"}


def test_bad_month_name(tmp_path):
    rows = ROWS[:2] + [ROWS[2].replace("February", "Febuary")]
    p = _csv(tmp_path, rows)
    with pytest.raises(InputError) as exc:
        read_acled_aggregates(p)
    check_error(exc, file=p, row=4, column="Month", says="'Febuary'")


def test_negative_events(tmp_path):
    rows = [ROWS[0], ROWS[1].replace(",2019,0,0", ",2019,-2,0"), ROWS[2]]
    p = _csv(tmp_path, rows)
    with pytest.raises(InputError) as exc:
        read_acled_aggregates(p)
    check_error(exc, file=p, row=3, column="Events")


def test_duplicate_unit_month(tmp_path):
    p = _csv(tmp_path, ROWS + [ROWS[0]])
    with pytest.raises(InputError) as exc:
        read_acled_aggregates(p)
    check_error(exc, file=p, row=5, column="Admin2", says="rows 2 and 5")


def test_missing_column(tmp_path):
    p = _csv(tmp_path, header=HEADER.replace("Admin2 Pcode", "Admin2 P-code"))
    with pytest.raises(InputError) as exc:
        read_acled_aggregates(p)
    check_error(exc, file=p, row=1, column="Admin2 Pcode", says="misspelt?")
