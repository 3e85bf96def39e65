"""Geo-PKO: UN peacekeeping deployments by base, observed in snapshot months.

Geo-PKO codes each mission's deployment map a few times a year. A base's row holds from
its snapshot month until the month before the mission's next snapshot, when the next
snapshot's rows take over (a base absent from it has left). The last snapshot holds for
``hold_last_months`` extra months (default 0: its own month only).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from riskcast.errors import InputError
from riskcast.io._common import (
    Raw,
    bad_cells,
    finish,
    month_start,
    parse_numbers,
    read_any,
    text,
)
from riskcast.io.base import ReadReport, ReadResult, require_columns
from riskcast.schemas import PRESENCE

__all__ = ["read_geopko", "DEFAULT_COUNTRIES"]

DEFAULT_COUNTRIES = ("Mali", "Burkina Faso", "Niger")
_COLUMNS = ["mission", "year", "month", "location", "country", "latitude", "longitude", "no.troops"]
# Geo-PKO writes these where troop numbers were not reported.
_UNKNOWN_TROOPS = ("NA", "unknown", "Unknown", "n/a", "")


def read_geopko(
    path: str | Path,
    *,
    sheet: str | None = None,
    missions: Iterable[str] | None = None,
    countries: Iterable[str] = DEFAULT_COUNTRIES,
    hold_last_months: int = 0,
    **options: object,
) -> ReadResult:
    """Read Geo-PKO (parquet or CSV) into the PRESENCE table, one row per base and snapshot.

    Args:
        path: parquet or CSV file.
        sheet: unused.
        missions: missions to keep; default every mission with a base in ``countries``.
            Rows of other missions are counted in ``report.dropped``.
        countries: used to pick the default missions.
        hold_last_months: months the mission's last snapshot holds beyond its own month.

    Raises:
        InputError: missing file or column, a troop count that is neither a number nor a
            "not reported" marker, an impossible year/month, or a schema violation.
    """
    if int(hold_last_months) < 0:
        raise InputError(f"hold_last_months must be 0 or more, got {hold_last_months}", file=str(path))
    raw = read_any(path, sheet=sheet)
    report = ReadReport(file=raw.file, format="geopko", table="presence")
    report.rows_read = len(raw.df)
    require_columns(raw.df, _COLUMNS, file=raw.file)
    mission, country = text(raw.df["mission"]), text(raw.df["country"])
    if missions is None:
        chosen = sorted(set(mission[country.isin(list(countries))].dropna()))
        report.notes.append(f"missions with a base in {list(countries)}: {chosen}")
    else:
        chosen = list(missions)
        absent = sorted(set(chosen) - set(mission.dropna()))
        if absent:
            report.notes.append(f"no rows for missions {absent}")
    keep = mission.isin(chosen)
    report.drop("mission not selected", int((~keep).sum()))
    raw.df, mission, country = raw.df.loc[keep], mission[keep], country[keep]

    start = month_start(
        raw,
        parse_numbers(raw, "year", integer=True, required=True),
        parse_numbers(raw, "month", integer=True, required=True),
        year_col="year",
        month_col="month",
    )
    # Each mission's snapshot months, and for each the month before the next snapshot.
    snaps = (
        pd.DataFrame({"mission": mission, "start": start}).drop_duplicates().sort_values(["mission", "start"])
    )
    nxt = snaps.groupby("mission")["start"].shift(-1)
    last_end = snaps["start"] + pd.DateOffset(months=int(hold_last_months))
    snaps["end"] = (nxt - pd.DateOffset(months=1)).fillna(last_end)
    end = (
        pd.DataFrame({"mission": mission, "start": start})
        .merge(snaps, on=["mission", "start"], how="left")["end"]
        .set_axis(raw.df.index)
    )

    troops = _troops(raw, report)
    table = pd.DataFrame(
        {
            "force": mission,
            "country": country,
            "region": None,
            "location": text(raw.df["location"]),
            "latitude": parse_numbers(raw, "latitude"),
            "longitude": parse_numbers(raw, "longitude"),
            "start_month": start,
            "end_month": end,
            "troops": troops,
            "source": "Geo-PKO v2.1",
        },
        index=raw.df.index,
    )
    report.notes.append(f"{len(snaps)} mission snapshots; each holds until the month before the next")
    return finish(
        table,
        PRESENCE,
        raw,
        report,
        {
            "force": "mission",
            "start_month": "month",
            "end_month": "month",
            "troops": "no.troops",
        },
    )


def _troops(raw: Raw, report: ReadReport) -> pd.Series:
    """``no.troops`` as numbers; "not reported" markers become NaN and are counted in the notes."""
    t = raw.df["no.troops"]
    if pd.api.types.is_numeric_dtype(t):
        vals = t.astype(float)
    else:
        s = t.astype("string").str.strip()
        unknown = s.isna() | s.isin(_UNKNOWN_TROOPS)
        vals = pd.to_numeric(s.mask(unknown), errors="coerce").astype(float)
        bad = vals.isna() & ~unknown
        if bad.any():
            bad_cells(raw, t, bad, "no.troops", "expected a troop number or 'unknown'")
    n = int(vals.isna().sum())
    if n:
        report.notes.append(f"{n} rows with troops not reported ('NA'/'unknown'/blank) kept with troops NaN")
    return vals
