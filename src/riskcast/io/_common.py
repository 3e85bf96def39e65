"""Helpers shared by the readers: load a file keeping the row numbers a person sees in it,
parse columns with errors that point at the cell, and finish a :class:`ReadResult`.

Every loaded table keeps pandas' 0-based index of data rows (an HXL row that is skipped keeps
its label), so a row's file number is always ``index + base``: 2 for CSV and spreadsheets
(the header is row 1), 1 for parquet (records have no header row).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from riskcast.errors import MAX_LISTED, InputError, Problem, shown
from riskcast.io.base import ReadReport, ReadResult, require_file
from riskcast.io.csvtext import checked_text, repeated_names
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
    "bad_cells",
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
    #: None: a bad cell raises at once. A list (see :meth:`collect`): bad cells are recorded
    #: here, read as blanks, and :func:`finish` raises them all with the schema's findings.
    problems: list[Problem] | None = None

    def row(self, idx: object) -> int:
        """The row number a person sees in the file for index label ``idx``."""
        return int(idx) + self.base  # type: ignore[call-overload]

    def collect(self) -> Raw:
        """Record bad cells instead of raising at the first bad column, so the user sees every
        bad row and column of the file in one run. Only for readers whose steps between parsing
        and :func:`finish` accept blanks where a cell was bad."""
        self.problems = []
        return self


def read_csv(path: str | Path, *, sep: str = ",", allow_empty: bool = False) -> Raw:
    """Read a CSV as text (every cell a string or NaN) so that parsing errors name the raw value.

    The file's structure is checked first (:func:`riskcast.io.csvtext.checked_text`): bad
    bytes, NUL bytes, repeated column names, rows with the wrong number of fields and unclosed
    quotes are all reported at their row and column, every one of them in one message.
    """
    p = require_file(path)
    file = str(p)
    text = checked_text(p, sep=sep)
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=str)
    except pd.errors.ParserError as exc:  # the check above finds these first; kept as a last word
        raise InputError(f"malformed CSV: {exc}", file=file) from None
    except pd.errors.EmptyDataError:
        raise InputError("file has no header row (it is blank)", file=file) from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty and not allow_empty:
        raise InputError("file has a header but no data rows", file=file, row=2)
    return Raw(df, file, base=2)


def read_sheet(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    default: str | None = None,
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
            # pandas renames a repeated column name (admin1 -> admin1.1): look at the header as written
            header = xf.parse(want, header=None, nrows=1)
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise InputError(f"not a readable xlsx workbook ({exc})", file=file) from None
    names = [] if header.empty else ["" if pd.isna(c) else str(c).strip() for c in header.iloc[0]]
    repeated = repeated_names(names)
    if repeated:
        raise InputError.of(repeated, file=file)
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
    path: str | Path,
    *,
    sheet: str | int | None = None,
    default_sheet: str | None = None,
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


def skip_hxl_row(raw: Raw, *, allow_empty: bool = False) -> bool:
    """Drop the first data row when it is an HXL hashtag row (every filled cell starts with '#').

    Raises:
        InputError: the HXL row was the only data row (a file with no events), unless
            ``allow_empty``.
    """
    if raw.df.empty:
        return False
    first = raw.df.iloc[0].dropna().astype(str).str.strip()
    first = first[first != ""]
    if len(first) and bool(first.str.startswith("#").all()):
        raw.df = raw.df.iloc[1:]
        if raw.df.empty and not allow_empty:
            raise InputError(
                "file has a header and an HXL hashtag row but no data rows after them (no events)",
                file=raw.file,
                row=3,
            )
        return True
    return False


def text(s: pd.Series) -> pd.Series:
    """Cells as stripped strings, blanks as NA (values from xlsx may be numbers)."""
    out = s.astype("string").str.strip()
    out = out.mask(out == "")
    return out.astype(object).where(out.notna(), np.nan)


def bad_cells(raw: Raw, s: pd.Series | None, bad: pd.Series, column: str, what: str) -> None:
    """Raise naming every bad cell of ``column`` (up to the listing limit) with its value
    (``s`` None: the message says it all, e.g. an empty cell); or, when ``raw`` collects
    problems, record them and return."""
    labels = bad.index[bad.to_numpy()]
    listed = labels if raw.problems is not None else labels[:MAX_LISTED]
    problems = [
        Problem(what if s is None else f"{what}, got {shown(s[i])}", row=raw.row(i), column=column)
        for i in listed
    ]
    if raw.problems is not None:
        raw.problems += problems
        return
    raise InputError.of(problems, file=raw.file, total=len(labels))


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
        bad_cells(raw, t, bad, column, f"expected a date ({label})")  # collecting: a bad date stays NaT
    return out


#: Whole numbers are parsed through float64, which holds every integer exactly only up to 2**53;
#: a larger one (a typo, or an id pasted into a count) would come out changed, or wrap around
#: to a negative number when stored as int64.
_MAX_WHOLE = 2**53


def parse_numbers(raw: Raw, column: str, *, integer: bool = False, required: bool = False) -> pd.Series:
    """Parse ``column`` as numbers (float, NaN for blanks); a non-number fails at its cell."""
    s = raw.df[column]
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        vals, t = s.astype(float), s
        empty = vals.isna()
    else:
        t = text(s)
        vals = pd.to_numeric(t, errors="coerce").astype(float)
        empty = t.isna()
        bad = (vals.isna() & t.notna()) | np.isinf(vals)
        if bad.any():
            bad_cells(raw, t, bad, column, "expected a number")
            vals = vals.mask(bad)  # collecting: a bad cell reads as blank (reported once, above)
    if required and empty.any():
        bad_cells(raw, None, empty, column, "expected a number, the cell is empty")
    if integer:
        huge = vals.abs() > _MAX_WHOLE
        if huge.any():
            bad_cells(raw, t, huge, column, f"expected a whole number of at most {_MAX_WHOLE:,} (2**53)")
        frac = vals.notna() & (vals % 1 != 0)
        if frac.any():
            bad_cells(raw, t, frac, column, "expected a whole number")
        vals = vals.mask(huge | frac)
    return vals


def month_start(
    raw: Raw,
    year: pd.Series,
    month: pd.Series,
    *,
    year_col: str,
    month_col: str,
    day: pd.Series | None = None,
    day_col: str | None = None,
) -> pd.Series:
    """Timestamps from year/month(/day) columns; an impossible date fails naming its cell."""
    bad_y = year.notna() & ~year.between(1800, 2200)
    if bad_y.any():
        bad_cells(raw, year, bad_y, year_col, "expected a year between 1800 and 2200")
    bad_m = month.notna() & ~month.between(1, 12)
    if bad_m.any():
        bad_cells(raw, month, bad_m, month_col, "expected a month number 1-12")
    year, month = year.mask(bad_y), month.mask(bad_m)  # collecting: reported above, read as blank
    parts = pd.DataFrame({"year": year, "month": month, "day": 1 if day is None else day})
    ok = parts.notna().all(axis=1)
    out = pd.Series(pd.NaT, index=year.index, dtype="datetime64[ns]")
    out[ok] = pd.to_datetime(parts[ok].astype(int), errors="coerce")
    if day is not None:
        bad_d = ok & out.isna()
        if bad_d.any():
            bad_cells(raw, day, bad_d, day_col or "day", "expected a day that exists in that month")
    return out


def require_values(raw: Raw, column: str, values: pd.Series) -> None:
    """Fail at the empty cells of a column that identifies rows (ids must not be blank)."""
    empty = values.isna()
    if empty.any():
        bad_cells(raw, None, empty, column, "expected a value, the cell is empty")


def check_unique(raw: Raw, keys: pd.Series | pd.DataFrame, *, column: str, what: str) -> None:
    """Fail naming both rows of every key that must be unique and appears again."""
    dup = keys.duplicated(keep="first")
    if isinstance(keys, pd.Series):
        dup &= keys.notna()  # empty ids are reported as empty, not as repeats of each other
    if not dup.any():
        return
    as_tuples = (
        pd.Series(list(keys.itertuples(index=False, name=None)), index=keys.index)
        if isinstance(keys, pd.DataFrame)
        else keys
    )
    first_row = {k: raw.row(i) for i, k in as_tuples[~dup].items()}
    labels = dup.index[dup.to_numpy()]
    problems = [
        Problem(
            f"duplicate {what} {as_tuples[j]!r}: rows {first_row[as_tuples[j]]} and {raw.row(j)}",
            row=raw.row(j),
            column=column,
        )
        for j in labels
    ]
    if raw.problems is not None:  # collecting: reported with the rest by finish()
        raw.problems += problems
        return
    raise InputError.of(problems, file=raw.file)


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
    columns = dict(columns or {})

    def written(idx: object, column: str) -> object:
        # A number is shown as the file wrote it ('1e12', not 1000000000000); other values
        # (dates, codes mapped to words) are shown as parsed, since that is what broke the rule.
        src = columns.get(column, column)
        if (
            column in table.columns
            and pd.api.types.is_numeric_dtype(table[column])
            and src in raw.df.columns
            and idx in raw.df.index
        ):
            value = raw.df.at[idx, src]
            return value if isinstance(value, str) else None
        return None

    checked = validate(
        table,
        schema,
        file=raw.file,
        row_of=raw.row,
        columns=columns,
        written=written,
        found=raw.problems or (),
    )
    report.rows_kept = len(checked)
    rows = [raw.row(i) for i in checked.index]
    return ReadResult(checked.reset_index(drop=True), report, rows=rows, columns=columns)
