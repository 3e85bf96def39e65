"""Helpers shared by the readers: load a file keeping the row numbers a person sees in it,
parse columns with errors that point at the cell, and finish a :class:`ReadResult`.

Every loaded table keeps pandas' 0-based index of data rows (an HXL row that is skipped keeps
its label), so a row's file number is always ``index + base``: 2 for CSV and spreadsheets
(the header is row 1), 1 for parquet (records have no header row).
"""
from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from riskcast.errors import InputError
from riskcast.io.base import ReadReport, ReadResult, require_file
from riskcast.schemas import validate

__all__ = [
    "Raw",
    "read_csv",
    "read_sheet",
    "read_any",
    "read_parquet",
    "skip_hxl_row",
    "parse_dates",
    "parse_numbers",
    "month_start",
    "require_values",
    "check_unique",
    "finish",
    "text",
]

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class Raw:
    """A file as loaded: its data rows, the file name for messages and the row-number base."""

    df: pd.DataFrame
    file: str
    base: int
    sheet: str | None = None

    def row(self, idx: object) -> int:
        """The row number a person sees in the file for index label ``idx``."""
        return int(idx) + self.base  # type: ignore[call-overload]


def read_csv(path: str | Path, *, sep: str | None = ",", allow_empty: bool = False) -> Raw:
    """Read a CSV as text (every cell a string or NaN) so that parsing errors name the raw value."""
    p = require_file(path)
    file = str(p)
    try:
        # utf-8-sig: spreadsheets often save CSV with a byte-order mark before the header.
        df = pd.read_csv(p, sep=sep, dtype=str, encoding="utf-8-sig")
    except pd.errors.ParserError as exc:
        m = re.search(r"line (\d+), saw (\d+)", str(exc))
        if m:
            raise InputError(
                f"malformed CSV: {m.group(2)} fields on this line, the header has fewer "
                "(an unquoted comma or delimiter in a value?)",
                file=file,
                row=int(m.group(1)),
            ) from None
        raise InputError(f"malformed CSV: {exc}", file=file) from None
    except pd.errors.EmptyDataError:
        raise InputError("file has no header row (it is blank)", file=file) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=file) from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty and not allow_empty:
        raise InputError("file has a header but no data rows", file=file, row=2)
    return Raw(df, file, base=2)


def read_sheet(
    path: str | Path, *, sheet: str | int | None = None, default: str | None = None,
    allow_empty: bool = False,
) -> Raw:
    """Read one sheet of an xlsx workbook; a missing sheet names the sheets present."""
    p = require_file(path)
    file = str(p)
    try:
        with pd.ExcelFile(p, engine="openpyxl") as xf:
            names = [str(n) for n in xf.sheet_names]
            want = sheet if sheet is not None else default if default is not None else names[0]
            if isinstance(want, int):
                if not 0 <= want < len(names):
                    raise InputError(f"no sheet number {want}; sheets present: {names}", file=file)
                want = names[want]
            if want not in names:
                raise InputError(f"no sheet {want!r}; sheets present: {names}", file=file)
            df = xf.parse(want)
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise InputError(f"not a readable xlsx workbook ({exc})", file=file) from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty and not allow_empty:
        raise InputError(f"sheet {want!r} has a header but no data rows", file=file, row=2)
    return Raw(df, file, base=2, sheet=want)


def read_parquet(path: str | Path, *, allow_empty: bool = False) -> Raw:
    p = require_file(path)
    try:
        df = pd.read_parquet(p)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise InputError(f"not a readable parquet file ({type(exc).__name__}: {exc})", file=str(p)) from None
    df = df.reset_index(drop=True)
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty and not allow_empty:
        raise InputError("parquet file has no records", file=str(p))
    return Raw(df, str(p), base=1)


def read_any(
    path: str | Path, *, sheet: str | int | None = None, default_sheet: str | None = None,
    allow_empty: bool = False,
) -> Raw:
    """CSV, xlsx or parquet, chosen by the file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return read_sheet(path, sheet=sheet, default=default_sheet, allow_empty=allow_empty)
    if suffix in PARQUET_SUFFIXES:
        return read_parquet(path, allow_empty=allow_empty)
    if suffix in CSV_SUFFIXES:
        return read_csv(path, sep="\t" if suffix == ".tsv" else ",", allow_empty=allow_empty)
    raise InputError(
        f"unknown file type {suffix!r} (expected one of {CSV_SUFFIXES + XLSX_SUFFIXES + PARQUET_SUFFIXES})",
        file=str(path),
    )


def skip_hxl_row(raw: Raw) -> bool:
    """Drop the first data row when it is an HXL hashtag row (every filled cell starts with '#')."""
    if raw.df.empty:
        return False
    first = raw.df.iloc[0].dropna().astype(str).str.strip()
    first = first[first != ""]
    if len(first) and bool(first.str.startswith("#").all()):
        raw.df = raw.df.iloc[1:]
        return True
    return False


def text(s: pd.Series) -> pd.Series:
    """Cells as stripped strings, blanks as NA (values from xlsx may be numbers)."""
    out = s.astype("string").str.strip()
    out = out.mask(out == "")
    return out.astype(object).where(out.notna(), np.nan)


def _fail(raw: Raw, s: pd.Series, bad: pd.Series, column: str, what: str) -> None:
    i = bad.idxmax()
    raise InputError(f"{what}, got {s[i]!r}", file=raw.file, row=raw.row(i), column=column)


def parse_dates(raw: Raw, column: str, formats: Iterable[str], *, label: str) -> pd.Series:
    """Parse ``column`` trying each strptime format in turn; an unreadable date fails at its cell."""
    s = raw.df[column]
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.astype("datetime64[ns]")
    t = text(s)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    for fmt in formats:
        todo = out.isna() & t.notna()
        if not todo.any():
            break
        out[todo] = pd.to_datetime(t[todo].astype(str), format=fmt, errors="coerce")
    bad = out.isna() & t.notna()
    if bad.any():
        _fail(raw, t, bad, column, f"expected a date ({label})")
    return out


def parse_numbers(raw: Raw, column: str, *, integer: bool = False, required: bool = False) -> pd.Series:
    """Parse ``column`` as numbers (float, NaN for blanks); a non-number fails at its cell."""
    s = raw.df[column]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        vals, t = s.astype(float), s
    else:
        t = text(s)
        vals = pd.to_numeric(t, errors="coerce").astype(float)
        bad = vals.isna() & t.notna()
        if bad.any():
            _fail(raw, t, bad, column, "expected a number")
    if required and vals.isna().any():
        raise InputError("expected a number, the cell is empty", file=raw.file,
                         row=raw.row(vals.isna().idxmax()), column=column)
    if integer:
        frac = vals.notna() & (vals % 1 != 0)
        if frac.any():
            _fail(raw, t, frac, column, "expected a whole number")
    return vals


def month_start(raw: Raw, year: pd.Series, month: pd.Series, *, year_col: str, month_col: str,
                day: pd.Series | None = None, day_col: str | None = None) -> pd.Series:
    """Timestamps from year/month(/day) columns; an impossible date fails naming its cell."""
    bad_y = year.notna() & ~year.between(1800, 2200)
    if bad_y.any():
        _fail(raw, year, bad_y, year_col, "expected a year between 1800 and 2200")
    bad_m = month.notna() & ~month.between(1, 12)
    if bad_m.any():
        _fail(raw, month, bad_m, month_col, "expected a month number 1-12")
    parts = pd.DataFrame({"year": year, "month": month, "day": 1 if day is None else day})
    ok = parts.notna().all(axis=1)
    out = pd.Series(pd.NaT, index=year.index, dtype="datetime64[ns]")
    out[ok] = pd.to_datetime(parts[ok].astype(int), errors="coerce")
    if day is not None:
        bad_d = ok & out.isna()
        if bad_d.any():
            _fail(raw, day, bad_d, day_col or "day", "expected a day that exists in that month")
    return out


def require_values(raw: Raw, column: str, values: pd.Series) -> None:
    """Fail at the first empty cell of a column that identifies rows (ids must not be blank)."""
    empty = values.isna()
    if empty.any():
        raise InputError("expected a value, the cell is empty", file=raw.file,
                         row=raw.row(empty.idxmax()), column=column)


def check_unique(raw: Raw, keys: pd.Series | pd.DataFrame, *, column: str, what: str) -> None:
    """Fail naming both rows when a key that must be unique appears twice."""
    dup = keys.duplicated(keep="first")
    if not dup.any():
        return
    j = dup.idxmax()
    key = keys.loc[j]
    same = (keys == key).all(axis=1) if isinstance(keys, pd.DataFrame) else keys == key
    i = same.idxmax()
    shown = tuple(key) if isinstance(keys, pd.DataFrame) else key
    raise InputError(
        f"duplicate {what} {shown!r}: rows {raw.row(i)} and {raw.row(j)}",
        file=raw.file,
        row=raw.row(j),
        column=column,
    )


def finish(
    table: pd.DataFrame,
    schema: pa.DataFrameSchema,
    raw: Raw,
    report: ReadReport,
    columns: dict[str, str] | None = None,
) -> ReadResult:
    """Validate the canonical table and complete the report.

    Args:
        columns: canonical column -> the file's column it came from, so that an error
            names the column a person sees in the file (``event_date``, not ``date``).
    """
    try:
        checked = validate(table, schema, file=raw.file, row_of=raw.row)
    except InputError as exc:
        if columns and exc.column in columns:
            raise InputError(exc.detail, file=exc.file, row=exc.row, column=columns[exc.column]) from None
        raise
    report.rows_kept = len(checked)
    return ReadResult(checked.reset_index(drop=True), report)
