"""Data coverage per source: how many events, which dates, and how late they arrive.

An analyst reading a forecast for month *t+1* needs to know whether month *t* is complete.
Two numbers say so:

* **days since the last event**: from the last event date to the end of the as-of month. A
  source whose last event is weeks before the month ends is probably not up to date;
* **reporting lag**: for sources that record when each event was entered (ACLED's
  ``timestamp``, kept as ``recorded``), the days from the event to that record, over the last
  12 months of data. ACLED's timestamp is the *last* modification, so revisions make this an
  upper bound; it is still the best estimate a single download gives.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["source_coverage", "LAG_WINDOW_MONTHS"]

#: The window (months back from the source's last event) over which the reporting lag is measured.
LAG_WINDOW_MONTHS = 12


def source_coverage(events: pd.DataFrame, as_of: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per ``source_dataset``: count, first, last, days_since_last, and the reporting lag.

    Args:
        events: an EVENTS table (``date``, ``source_dataset``; ``recorded`` optional).
        as_of: the as-of month; ``days_since_last`` counts to its last day. None: the latest event
            month over all sources.

    Returns:
        Columns ``source_dataset``, ``count``, ``first``, ``last``, ``days_since_last``,
        ``lag_n`` (events with a record time in the lag window), ``lag_median_days``,
        ``lag_p90_days`` and ``recorded_within_30d`` (share), NaN where the source records no times.
    """
    cols = [
        "source_dataset",
        "count",
        "first",
        "last",
        "days_since_last",
        "lag_n",
        "lag_median_days",
        "lag_p90_days",
        "recorded_within_30d",
    ]
    if events.empty:
        return pd.DataFrame(columns=cols)
    d = events.assign(date=pd.to_datetime(events["date"]))
    month = pd.Timestamp(as_of) if as_of is not None else d["date"].max()
    month_end = month.to_period("M").to_timestamp(how="end").normalize()
    rows = []
    for src, g in d.groupby("source_dataset", sort=True):
        last = g["date"].max()
        row = {
            "source_dataset": src,
            "count": len(g),
            "first": g["date"].min(),
            "last": last,
            "days_since_last": int((month_end - last).days),
            "lag_n": 0,
            "lag_median_days": np.nan,
            "lag_p90_days": np.nan,
            "recorded_within_30d": np.nan,
        }
        if "recorded" in g:
            w = g[(g["date"] > last - pd.DateOffset(months=LAG_WINDOW_MONTHS)) & g["recorded"].notna()]
            if len(w):
                lag = (pd.to_datetime(w["recorded"]) - w["date"]).dt.total_seconds().to_numpy() / 86400.0
                lag = np.clip(lag, 0.0, None)  # a record time before the event date is a coding slip
                row.update(
                    lag_n=len(w),
                    lag_median_days=float(np.median(lag)),
                    lag_p90_days=float(np.quantile(lag, 0.9)),
                    recorded_within_30d=float(np.mean(lag <= 30)),
                )
        rows.append(row)
    return pd.DataFrame(rows, columns=cols)
