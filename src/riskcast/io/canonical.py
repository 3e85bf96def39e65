"""riskcast's own tables on disk (CSV or parquet): read back with checks, write atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskcast.atomic import atomic_path
from riskcast.errors import InputError
from riskcast.io._common import finish, parse_dates, parse_numbers, read_any, text
from riskcast.io.base import ReadReport, ReadResult, require_columns
from riskcast.schemas import COUNTS, EVENTS, PRESENCE, REGIONS, SHOCKS

__all__ = ["read_canonical", "write_canonical", "TABLES"]

TABLES = {s.name: s for s in (EVENTS, COUNTS, PRESENCE, SHOCKS, REGIONS)}
_DATE_COLUMNS = {"date", "month", "start_month", "end_month"}
_NUMERIC = {"float64", "int64", "Int64"}


def read_canonical(
    path: str | Path, *, table: str, sheet: str | None = None, **options: object
) -> ReadResult:
    """Read a riskcast table written by :func:`write_canonical` (or by hand).

    CSV cells are parsed column by column as the schema says (dates as YYYY-MM-DD, numbers
    as numbers) so a bad cell is reported at its row and column, then the table is validated.

    Args:
        path: ``.csv``, ``.parquet`` or ``.xlsx``.
        table: ``events``, ``counts``, ``presence``, ``shocks`` or ``regions``.
        sheet: the sheet of an xlsx file.

    Raises:
        InputError: unknown table, missing file or column, an unreadable cell, or a
            schema violation.
    """
    if table not in TABLES:
        raise InputError(f"unknown table {table!r} (expected one of {sorted(TABLES)})", file=str(path))
    schema = TABLES[table]
    # An empty canonical table is legitimate (no shocks in a window, say).
    raw = read_any(path, sheet=sheet, allow_empty=True)
    report = ReadReport(file=raw.file, format="canonical", table=table)
    report.rows_read = len(raw.df)
    required = [n for n, c in schema.columns.items() if c.required]
    require_columns(raw.df, required, file=raw.file)
    raw.collect()  # every bad cell of the file in one message
    out = pd.DataFrame(index=raw.df.index)
    for name in raw.df.columns:
        col = schema.columns.get(name)
        if col is None:
            out[name] = raw.df[name]  # unknown: the strict schema names it
        elif name in _DATE_COLUMNS:
            out[name] = parse_dates(raw, name, ("%Y-%m-%d", "ISO8601"), label="YYYY-MM-DD")
        elif str(col.dtype) in _NUMERIC:
            out[name] = parse_numbers(raw, name, integer=str(col.dtype) != "float64")
        else:
            out[name] = text(raw.df[name])
    return finish(out, schema, raw, report)


def write_canonical(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as CSV or parquet (by suffix) atomically: readers never see half a file."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"write_canonical: expected a .csv or .parquet path, got {p}")
    with atomic_path(p) as tmp:
        if suffix == ".csv":
            df.to_csv(tmp, index=False, date_format="%Y-%m-%d")
        else:
            df.to_parquet(tmp, index=False)
    return p
