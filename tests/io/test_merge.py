"""merge_events: overlapping ACLED inputs are not double-counted."""

from __future__ import annotations

import pandas as pd

from riskcast.io.acled import read_acled_export, read_acled_hdx
from riskcast.io.merge import merge_events
from riskcast.io.ucdp import read_ucdp_ged
from tests.io._helpers import FIXTURES, shared_file

HDX_MALI = "events/acled_hdx_mali_1997_2019-06.csv"
EXPORT_MALI = "events/acled_export_mali_2017_2019-06_dyadic.csv"


def test_merge_real_hdx_and_export():
    hdx_path, exp_path = shared_file(HDX_MALI), shared_file(EXPORT_MALI)
    hdx, exp = read_acled_hdx(hdx_path), read_acled_export(exp_path)
    overlap = set(hdx.table["event_id"]) & set(exp.table["event_id"])
    merged, dropped = merge_events([hdx, exp])
    assert merged["event_id"].is_unique
    assert dropped == {str(hdx_path): 0, str(exp_path): len(overlap)}
    assert len(overlap) == 1089
    assert len(merged) == len(hdx.table) + len(exp.table) - len(overlap) == 4040
    # the earlier input wins: overlapping events keep the HDX values
    hdx_dates = hdx.table.set_index("event_id")["date"]
    m = merged.set_index("event_id").loc[sorted(overlap), "date"]
    assert (m == hdx_dates.loc[sorted(overlap)]).all()
    # the two ACLED files disagree about some shared events: the report says how much
    assert any("admin1 88" in n for n in exp.report.notes)


def test_merge_fixtures_in_both_orders():
    hdx, exp = (
        read_acled_hdx(FIXTURES / "acled_hdx_sample.csv"),
        read_acled_export(FIXTURES / "acled_export_sample.csv"),
    )
    merged, dropped = merge_events([hdx, exp])
    assert list(merged["event_id"]) == ["TST901", "TST902", "TST903", "TST904", "TST905", "TST906", "TST907"]
    assert dropped[exp.report.file] == 1 and dropped[hdx.report.file] == 0
    merged2, dropped2 = merge_events([exp, hdx])
    assert sorted(merged2["event_id"]) == sorted(merged["event_id"])
    assert dropped2[hdx.report.file] == 1


def test_merge_mixed_sources_keeps_dtypes():
    ged = read_ucdp_ged(FIXTURES / "ucdp_ged_sample.csv")
    hdx = read_acled_hdx(FIXTURES / "acled_hdx_sample.csv")
    merged, dropped = merge_events([hdx, ged])
    assert len(merged) == 17 and sum(dropped.values()) == 0
    assert str(merged["priogrid_gid"].dtype) == "Int64"
    assert merged["priogrid_gid"].isna().sum() == 5
    assert merged["date"].dtype == "datetime64[ns]"


def test_merge_nothing():
    merged, dropped = merge_events([])
    assert merged.empty and dropped == {}
    assert isinstance(merged, pd.DataFrame)
