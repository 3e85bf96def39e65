"""ACLED HDX region-month aggregates (xlsx sheet ``Data``, or the same columns as CSV)."""

from __future__ import annotations

import calendar
from pathlib import Path

import pandas as pd

from riskcast.io._common import (
    bad_cells,
    check_unique,
    finish,
    month_start,
    parse_numbers,
    read_any,
    text,
)
from riskcast.io.base import ReadReport, ReadResult, require_columns
from riskcast.schemas import COUNTS

__all__ = ["read_acled_aggregates", "infer_event_class"]

_SOURCE = {
    "country": "Country",
    "admin1": "Admin1",
    "admin2": "Admin2",
    "admin1_pcode": "Admin1 Pcode",
    "admin2_pcode": "Admin2 Pcode",
    "month": "Month",
    "events": "Events",
    "fatalities": "Fatalities",
}
_COLUMNS = [
    "Country",
    "Admin1",
    "Admin2",
    "Admin1 Pcode",
    "Admin2 Pcode",
    "Month",
    "Year",
    "Events",
    "Fatalities",
]
# English names only, on purpose: HDX writes English, and a locale-dependent parse would
# accept "Janvier" on one machine and reject it on another.
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}


def infer_event_class(path: str | Path) -> str:
    """``political_violence`` / ``civilian_targeting`` from the HDX file name, else ``events``."""
    name = Path(path).name.lower()
    for cls in ("political_violence", "civilian_targeting"):
        if cls in name:
            return cls
    return "events"


def read_acled_aggregates(
    path: str | Path, *, sheet: str | None = None, event_class: str | None = None, **options: object
) -> ReadResult:
    """Read an ACLED HDX admin-month aggregate file into the COUNTS table.

    Args:
        path: xlsx (sheet ``Data`` unless ``sheet`` says otherwise) or CSV.
        sheet: the sheet to read from an xlsx workbook.
        event_class: what the counts count; default inferred from the file name
            (see :func:`infer_event_class`).
        **options: none other are used.

    Raises:
        InputError: missing file/sheet/column, a month name that is not English, a
            non-number count, a repeated admin-month row, or a schema violation.
    """
    raw = read_any(path, sheet=sheet, default_sheet="Data")
    cls = event_class or infer_event_class(path)
    report = ReadReport(file=raw.file, format="acled_aggregates", table="counts")
    report.rows_read = len(raw.df)
    require_columns(raw.df, _COLUMNS, file=raw.file)
    df = raw.df
    names = text(df["Month"])
    month_no = names.str.lower().map(_MONTHS)
    bad = month_no.isna() & names.notna()
    if bad.any():
        bad_cells(raw, names, bad, "Month", "expected an English month name such as 'January'")
    year = parse_numbers(raw, "Year", integer=True, required=True)
    table = pd.DataFrame(
        {
            "country": text(df["Country"]),
            "admin1": text(df["Admin1"]),
            "admin2": text(df["Admin2"]),
            "admin1_pcode": text(df["Admin1 Pcode"]),
            "admin2_pcode": text(df["Admin2 Pcode"]),
            "month": month_start(raw, year, month_no.astype(float), year_col="Year", month_col="Month"),
            "events": parse_numbers(raw, "Events", integer=True, required=True),
            "fatalities": parse_numbers(raw, "Fatalities", integer=True, required=True),
            "event_class": cls,
            "source_dataset": "ACLED HDX aggregates",
        },
        index=df.index,
    )
    # One row per unit and month: a repeat would be summed twice downstream.
    check_unique(
        raw,
        table[["country", "admin1", "admin2", "month"]].fillna(""),
        column="Admin2",
        what="admin unit and month",
    )
    if raw.sheet:
        report.notes.append(f"sheet {raw.sheet!r}; event_class {cls!r}")
    else:
        report.notes.append(f"event_class {cls!r}")
    return finish(table, COUNTS, raw, report, _SOURCE)
