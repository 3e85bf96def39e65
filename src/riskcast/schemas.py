"""pandera schemas of riskcast's canonical tables, and one way to check a table against them.

Every reader turns its format into one of these tables and calls :func:`validate`, so a
violation is reported the same way everywhere: file, row, column and what was expected.
Months are ``datetime64[ns]`` timestamps at the first day of the month.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from riskcast.errors import InputError, Problem, shown

__all__ = [
    "EVENTS",
    "COUNTS",
    "PRESENCE",
    "SHOCKS",
    "REGIONS",
    "PANEL_KEYS",
    "SHOCK_KINDS",
    "LEVELS",
    "validate",
    "empty",
]

SHOCK_KINDS = (
    "coup",
    "coup_attempt",
    "withdrawal_announced",
    "withdrawal_completed",
    "deployment",
    "peace_accord",
    "ceasefire",
    "election",
    "sanctions",
    "other",
)
LEVELS = ("admin1", "admin2", "priogrid")
PANEL_KEYS = ("unit_id", "month")


def _not_after_today(s: pd.Series) -> pd.Series:
    return s.isna() | (s <= pd.Timestamp.today().normalize() + pd.Timedelta(days=1))


def _month_start(s: pd.Series) -> pd.Series:
    return s.isna() | (s == s.dt.to_period("M").dt.to_timestamp())


# Custom checks' ``error`` is the whole rule in words: it is what the user reads.
NOT_FUTURE = pa.Check(_not_after_today, error="must be a date not in the future (after today)")
MONTH_START = pa.Check(_month_start, error="must be a month (the first day of a month)")
_END_AFTER_START = "must not be before start_month"

_str = dict(dtype="str", coerce=True)
_ostr = dict(dtype="str", nullable=True, coerce=True)

#: One row per event (ACLED, UCDP GED or riskcast's own files).
EVENTS = pa.DataFrameSchema(
    {
        "event_id": pa.Column(**_str, unique=True),
        "date": pa.Column("datetime64[ns]", NOT_FUTURE),
        "country": pa.Column(**_str),
        "admin1": pa.Column(**_ostr),
        "admin2": pa.Column(**_ostr),
        "latitude": pa.Column(float, pa.Check.in_range(-90, 90), nullable=True, coerce=True),
        "longitude": pa.Column(float, pa.Check.in_range(-180, 180), nullable=True, coerce=True),
        "event_type": pa.Column(**_str),
        "sub_event_type": pa.Column(**_ostr),
        "actor1": pa.Column(**_ostr),
        "actor2": pa.Column(**_ostr),
        "fatalities": pa.Column("int64", pa.Check.ge(0), coerce=True),
        "source_dataset": pa.Column(**_str),
        # Date precision, ACLED's time_precision scale: 1 day, 2 week, 3 month (GED's
        # date_prec 1-5 is mapped onto it). geo_precision: 1 exact place, 2 near/district,
        # 3 region or coarser.
        "precision": pa.Column("Int64", pa.Check.isin([1, 2, 3]), nullable=True, coerce=True),
        "geo_precision": pa.Column("Int64", pa.Check.isin([1, 2, 3]), nullable=True, coerce=True),
        "location": pa.Column(**_ostr, required=False),
        "notes": pa.Column(**_ostr, required=False),
        "priogrid_gid": pa.Column("Int64", nullable=True, coerce=True, required=False),
        # when the source recorded (or last modified) the event: ACLED's ``timestamp``. Used to
        # estimate the reporting lag; an upper bound, since revisions move it later.
        "recorded": pa.Column("datetime64[ns]", nullable=True, coerce=True, required=False),
    },
    strict=True,
    name="events",
)

#: Already-aggregated counts per admin unit and month (ACLED HDX region-month files).
COUNTS = pa.DataFrameSchema(
    {
        "country": pa.Column(**_str),
        "admin1": pa.Column(**_ostr),
        "admin2": pa.Column(**_ostr),
        "admin1_pcode": pa.Column(**_ostr),
        "admin2_pcode": pa.Column(**_ostr),
        "month": pa.Column("datetime64[ns]", [MONTH_START, NOT_FUTURE]),
        "events": pa.Column("int64", pa.Check.ge(0), coerce=True),
        "fatalities": pa.Column("int64", pa.Check.ge(0), coerce=True),
        "event_class": pa.Column(**_str),
        "source_dataset": pa.Column(**_str),
    },
    strict=True,
    name="counts",
)

#: Troop presence: a force at a place (or in a region) from start_month to end_month inclusive.
PRESENCE = pa.DataFrameSchema(
    {
        "force": pa.Column(**_str),
        "country": pa.Column(**_str),
        "region": pa.Column(**_ostr),
        "location": pa.Column(**_ostr),
        "latitude": pa.Column(float, pa.Check.in_range(-90, 90), nullable=True, coerce=True),
        "longitude": pa.Column(float, pa.Check.in_range(-180, 180), nullable=True, coerce=True),
        "start_month": pa.Column("datetime64[ns]", MONTH_START),
        "end_month": pa.Column("datetime64[ns]", MONTH_START, nullable=True),
        "troops": pa.Column(float, pa.Check.ge(0), nullable=True, coerce=True),
        "source": pa.Column(**_str),
        "priogrid_gid": pa.Column("Int64", nullable=True, coerce=True, required=False),
    },
    checks=[
        pa.Check(
            lambda d: d["end_month"].isna() | (d["end_month"] >= d["start_month"]),
            error=_END_AFTER_START,
        )
    ],
    strict=True,
    name="presence",
)

#: Political shocks: coups, withdrawals, accords ... national unless a region is given.
SHOCKS = pa.DataFrameSchema(
    {
        "date": pa.Column("datetime64[ns]", NOT_FUTURE),
        "country": pa.Column(**_str),
        "region": pa.Column(**_ostr),
        "kind": pa.Column(**_str, checks=pa.Check.isin(SHOCK_KINDS)),
        "actor": pa.Column(**_ostr),
        "description": pa.Column(**_str),
        "source": pa.Column(**_str),
    },
    strict=True,
    name="shocks",
)

#: Spatial units. aliases and neighbours are '|'-separated lists (aliases of names,
#: neighbours of unit_ids) so that the table stays a plain CSV.
REGIONS = pa.DataFrameSchema(
    {
        "unit_id": pa.Column(**_str, unique=True),
        "name": pa.Column(**_str),
        "country": pa.Column(**_str),
        "level": pa.Column(**_str, checks=pa.Check.isin(LEVELS)),
        "pcode": pa.Column(**_ostr),
        "parent": pa.Column(**_ostr),
        "aliases": pa.Column(**_ostr),
        "centroid_lat": pa.Column(float, pa.Check.in_range(-90, 90), coerce=True),
        "centroid_lon": pa.Column(float, pa.Check.in_range(-180, 180), coerce=True),
        "neighbours": pa.Column(**_ostr),
        "source": pa.Column(**_str),
    },
    strict=True,
    name="regions",
)

_BY_NAME = {s.name: s for s in (EVENTS, COUNTS, PRESENCE, SHOCKS, REGIONS)}


def empty(schema: pa.DataFrameSchema) -> pd.DataFrame:
    """An empty table with the schema's required columns and dtypes."""
    cols = {n: c for n, c in schema.columns.items() if c.required}
    return schema.validate(pd.DataFrame({n: pd.Series(dtype=str(c.dtype)) for n, c in cols.items()}))


def validate(
    df: pd.DataFrame,
    schema: pa.DataFrameSchema | str,
    *,
    file: str,
    row_of: Callable[[object], int | None] | None = None,
    columns: dict[str, str] | None = None,
    written: Callable[[object, str], object] | None = None,
    found: Sequence[Problem] = (),
) -> pd.DataFrame:
    """Check ``df`` against ``schema``; on failure raise :class:`InputError` listing every bad cell.

    Args:
        df: the canonical table a reader built.
        schema: a schema or its name (``"events"``, ``"presence"`` ...).
        file: the input file, for the message.
        row_of: maps an index label of ``df`` to the row number a person sees in the file.
        columns: canonical column -> the file's column it came from, so that a message names
            the column a person sees in the file (``event_date``, not ``date``).
        written: ``(index label, canonical column)`` -> the cell as written in the file, or
            None; shown instead of the parsed value (``'1e12'``, not ``1000000000000``).
        found: problems the reader already found in the file (with file columns); reported
            together with the schema's, in the order of the rows.
    """
    schema = _BY_NAME[schema] if isinstance(schema, str) else schema
    try:
        checked, problems = schema.validate(df, lazy=True), []
    except SchemaErrors as exc:
        columns = columns or {}
        checked = None
        problems = [
            Problem(p.message, p.row, columns.get(p.column, p.column) if p.column else None)
            for p in _problems(exc.failure_cases, df, schema, row_of, written)
        ]
    if found:
        # One problem per cell: a cell the reader could not parse also fails the schema
        # (as an empty or mistyped cell), and the reader's words say more.
        reported = {(p.row, p.column) for p in found}
        problems = sorted(
            [*found, *(p for p in problems if (p.row, p.column) not in reported)],
            key=lambda p: -1 if p.row is None else p.row,
        )
    if problems or checked is None:
        raise InputError.of(problems or [Problem(f"does not match the {schema.name} table")], file=file)
    return checked


#: Table-wide checks: the error -> the column the message names and the column shown beside it.
_WIDE = {_END_AFTER_START: ("end_month", "start_month")}


def _problems(
    fc: pd.DataFrame,
    df: pd.DataFrame,
    schema: pa.DataFrameSchema,
    row_of: Callable[[object], int | None] | None,
    written: Callable[[object, str], object] | None,
) -> list[Problem]:
    """Every failure case in words, one per cell, in the order of the file's rows."""
    checks = fc["check"].astype(str)
    # A missing or unknown column explains everything else that failed: report only those.
    structural = checks.str.startswith("column_in_")
    if structural.any():
        return [
            Problem(
                f"{schema.name} table: "
                + (
                    "missing column"
                    if c.startswith("column_in_dataframe")
                    else "unexpected column (not in the canonical table)"
                ),
                column=str(v),
            )
            for c, v in zip(checks[structural], fc.loc[structural, "failure_case"], strict=True)
        ]
    seen: dict[tuple, tuple] = {}
    for (_, case), check in zip(fc.iterrows(), checks, strict=True):
        idx = case.get("index")
        idx = None if idx is None or pd.isna(idx) else idx
        column = case.get("column")
        column = None if column is None or pd.isna(column) else str(column)
        shown_too = None
        if check in _WIDE:  # reported once, at the column the rule is about
            column, shown_too = _WIDE[check]
        key = (idx, column)
        if key in seen:  # a failed coercion also fails the dtype and null checks of the cell
            continue
        rule = _explain(check)
        if check == "field_uniqueness" and idx is not None and column in df.columns:
            same = df.index[(df[column] == df.at[idx, column]).to_numpy()]
            if len(same) and same[0] == idx:  # the first occurrence is fine: the repeats are the problem
                continue
            if len(same):
                rule = f"must be unique (the same value is in row {row_of(same[0]) if row_of else int(same[0]) + 1})"
        value = df.at[idx, column] if idx is not None and column in df.columns else case.get("failure_case")
        got = written(idx, column) if written is not None and idx is not None and column is not None else None
        text = shown(value) if got is None else shown(got)
        if shown_too is not None and idx is not None:
            text += f" ({shown_too} {shown(df.at[idx, shown_too])})"
        row = (row_of(idx) if row_of else int(idx) + 1) if idx is not None else None
        order = list(df.columns).index(column) if column in df.columns else len(df.columns)
        seen[key] = (
            row if row is not None else -1,
            order,
            Problem(f"{schema.name} table: {rule}, got {text}", row=row, column=column),
        )
    return [p for *_, p in sorted(seen.values(), key=lambda t: t[:2])]


_OPS = {
    "greater_than_or_equal_to": ">=",
    "less_than_or_equal_to": "<=",
    "greater_than": ">",
    "less_than": "<",
    "equal_to": "=",
    "not_equal_to": "!=",
}
_TYPES = {
    "int64": "a whole number",
    "Int64": "a whole number",
    "float64": "a number",
    "datetime64[ns]": "a date",
    "str": "text",
    "object": "text",
    "bool": "true or false",
}


def _literals(args: str) -> list:
    """The arguments of a check as pandera writes it, ``in_range(-90, 90)`` -> ``[-90, 90]``."""
    try:
        return list(ast.literal_eval(f"({args},)"))
    except (ValueError, SyntaxError):
        return [args]


def _explain(check: str) -> str:
    """A pandera check name in words: ``greater_than_or_equal_to(0)`` -> ``must be >= 0``."""
    m = re.fullmatch(r"(\w+)\((.*)\)", check, flags=re.DOTALL)
    name, args = (m.group(1), _literals(m.group(2))) if m else (check, [])
    if name in _OPS:
        return f"must be {_OPS[name]} {shown(args[0])}"
    if name == "in_range":
        return f"must be between {shown(args[0])} and {shown(args[1])}"
    if name == "isin":
        return "must be one of " + ", ".join(shown(a) for a in args[0])
    if name == "notin":
        return "must not be one of " + ", ".join(shown(a) for a in args[0])
    if name in ("coerce_dtype", "dtype"):
        return f"must be {_TYPES.get(str(args[0]), str(args[0]))}"
    if name == "field_uniqueness":
        return "must be unique"
    if name == "not_nullable":
        return "must not be empty"
    return check  # a custom check: its error says the rule in words
