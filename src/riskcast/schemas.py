"""pandera schemas of riskcast's canonical tables, and one way to check a table against them.

Every reader turns its format into one of these tables and calls :func:`validate`, so a
violation is reported the same way everywhere: file, row, column and what was expected.
Months are ``datetime64[ns]`` timestamps at the first day of the month.
"""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrors

from riskcast.errors import InputError

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


NOT_FUTURE = pa.Check(_not_after_today, error="not in the future (date after today)")
MONTH_START = pa.Check(_month_start, error="a month (first day of the month)")

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
            error="end_month not before start_month",
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
) -> pd.DataFrame:
    """Check ``df`` against ``schema``; on failure raise :class:`InputError` at the first bad cell.

    Args:
        df: the canonical table a reader built.
        schema: a schema or its name (``"events"``, ``"presence"`` ...).
        file: the input file, for the message.
        row_of: maps an index label of ``df`` to the row number a person sees in the file.
    """
    schema = _BY_NAME[schema] if isinstance(schema, str) else schema
    try:
        return schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        fc = exc.failure_cases
        # Structural problems (a missing or unknown column) first: they explain the rest.
        checks = fc["check"].astype(str)
        missing, unknown = checks.str.startswith("column_in_dataframe"), checks.str.startswith("column_in_schema")
        first = (fc[missing] if missing.any() else fc[unknown] if unknown.any() else fc).iloc[0]
        n = len(fc)
        idx = first.get("index")
        row = None
        if idx is not None and not pd.isna(idx):
            row = row_of(idx) if row_of else int(idx) + 1
        column = first.get("column")
        column = None if column is None or pd.isna(column) else str(column)
        check = str(first.get("check"))
        value = first.get("failure_case")
        if check.startswith("column_in_"):
            column, row = str(value), None
            value = "(missing)" if check.startswith("column_in_dataframe") else "(unexpected)"
        shown = value if check.startswith("column_in_") else repr(value)
        more = f" ({n - 1} more problem(s) in this file)" if n > 1 else ""
        raise InputError(
            f"{schema.name} table: expected {_explain(check)}, got {shown}{more}",
            file=file,
            row=row,
            column=column,
        ) from None
    except SchemaError as exc:  # pragma: no cover - lazy=True reports through SchemaErrors
        raise InputError(f"{schema.name} table: {exc}", file=file) from None


def _explain(check: str) -> str:
    if check.startswith("column_in_dataframe"):
        return "this column to be present"
    if check.startswith("column_in_schema"):
        return "no such column (not in the canonical table)"
    if check.startswith("coerce_dtype") or check.startswith("dtype"):
        return f"a value of type {check.split('(', 1)[-1].rstrip(')')}"
    if check == "field_uniqueness":
        return "unique values"
    if check.startswith("not_nullable"):
        return "a value (it is empty)"
    return check
