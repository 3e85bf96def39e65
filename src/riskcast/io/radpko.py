"""RADPKO: UN peacekeepers per PRIO-GRID cell and month (grid-month parquet or CSV)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskcast.io._common import finish, month_start, parse_numbers, read_any
from riskcast.io.base import ReadReport, ReadResult, require_columns
from riskcast.schemas import PRESENCE

__all__ = ["read_radpko", "FORCE", "NO_TROOPS"]

FORCE = "UN peacekeepers (RADPKO)"
NO_TROOPS = "no troops deployed in cell-month"
_COLUMNS = ["gid", "year", "month", "radpko_pko_deployed", "lat", "lon"]


def read_radpko(
    path: str | Path, *, sheet: str | None = None, country: str = "Sahel", **options: object
) -> ReadResult:
    """Read a RADPKO grid-month file into PRESENCE rows, one per cell-month with troops.

    The file lists every cell-month, most with zero troops; those rows (and blanks) are
    dropped and counted as :data:`NO_TROOPS`. Everything is vectorised: the Sahel file has
    over half a million rows.

    Args:
        path: parquet or CSV.
        sheet: unused.
        country: the PRESENCE ``country`` value (RADPKO cells carry no country).
        **options: none other are used.

    Raises:
        InputError: missing file or column, an unreadable number, an impossible
            year/month, or a schema violation (e.g. negative troops).
    """
    raw = read_any(path, sheet=sheet)
    report = ReadReport(file=raw.file, format="radpko", table="presence")
    report.rows_read = len(raw.df)
    require_columns(raw.df, _COLUMNS, file=raw.file)
    troops = parse_numbers(raw, "radpko_pko_deployed")
    # Negative values are kept so the schema reports them; zero and blank mean "none there".
    keep = troops.notna() & (troops != 0)
    report.drop(NO_TROOPS, int((~keep).sum()))
    raw.df, troops = raw.df.loc[keep], troops[keep]
    month = month_start(
        raw,
        parse_numbers(raw, "year", integer=True, required=True),
        parse_numbers(raw, "month", integer=True, required=True),
        year_col="year",
        month_col="month",
    )
    gid = parse_numbers(raw, "gid", integer=True, required=True)
    table = pd.DataFrame(
        {
            "force": FORCE,
            "country": country,
            "region": None,
            "location": "PRIO-GRID " + gid.astype("int64").astype(str),
            "latitude": parse_numbers(raw, "lat"),
            "longitude": parse_numbers(raw, "lon"),
            "start_month": month,
            "end_month": month,
            "troops": troops,
            "source": "RADPKO",
            "priogrid_gid": gid,
        },
        index=raw.df.index,
    )
    if len(table):
        report.notes.append(
            f"troops are monthly averages (fractional); cell-months with troops: "
            f"{month.min():%Y-%m} to {month.max():%Y-%m}"
        )
    return finish(
        table,
        PRESENCE,
        raw,
        report,
        {
            "troops": "radpko_pko_deployed",
            "latitude": "lat",
            "longitude": "lon",
            "start_month": "month",
            "end_month": "month",
            "priogrid_gid": "gid",
        },
    )
