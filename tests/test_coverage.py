"""Data coverage per source: counts, dates, days since the last event and the reporting lag."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.coverage import source_coverage


def _events(rows):
    return pd.DataFrame(rows, columns=["date", "source_dataset", "recorded"]).astype(
        {"date": "datetime64[ns]", "recorded": "datetime64[ns]"}
    )


def test_lag_from_record_times_and_none_without():
    ev = _events(
        [
            ("2020-01-10", "ACLED", "2020-01-15"),  # 5 days
            ("2020-02-01", "ACLED", "2020-02-11"),  # 10 days
            ("2020-03-01", "ACLED", "2020-04-10"),  # 40 days
            ("2018-01-01", "ACLED", "2020-01-01"),  # outside the 12-month window before 2020-03-01
            ("2020-03-20", "UCDP GED", None),
        ]
    )
    cov = source_coverage(ev, "2020-03").set_index("source_dataset")
    a, u = cov.loc["ACLED"], cov.loc["UCDP GED"]
    assert (
        a["count"] == 4
        and a["first"] == pd.Timestamp("2018-01-01")
        and a["last"] == pd.Timestamp("2020-03-01")
    )
    assert a["days_since_last"] == 30  # to 31 March
    assert a["lag_n"] == 3 and a["lag_median_days"] == 10
    assert np.isclose(a["recorded_within_30d"], 2 / 3)
    assert u["lag_n"] == 0 and np.isnan(u["lag_median_days"]) and u["days_since_last"] == 11


def test_record_before_event_counts_as_zero_lag():
    ev = _events([("2020-01-10", "ACLED", "2020-01-01"), ("2020-01-11", "ACLED", "2020-01-13")])
    cov = source_coverage(ev).iloc[0]
    assert cov["lag_median_days"] == 1.0 and cov["days_since_last"] == 20


def test_no_recorded_column_and_empty():
    ev = _events([("2020-01-10", "X", None)]).drop(columns="recorded")
    assert source_coverage(ev, "2020-01").iloc[0]["lag_n"] == 0
    assert source_coverage(ev.iloc[:0]).empty
