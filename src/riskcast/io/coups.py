"""Powell & Thyne's list of coups and coup attempts, as SHOCKS rows."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from riskcast.io._common import (
    bad_cells,
    finish,
    month_start,
    parse_numbers,
    read_csv,
    text,
)
from riskcast.io.base import ReadReport, ReadResult, require_columns, require_file
from riskcast.schemas import SHOCKS

__all__ = ["read_powell_thyne", "DEFAULT_COUNTRIES", "sniff_delimiter"]

DEFAULT_COUNTRIES = ("Mali", "Burkina Faso", "Niger")
_KINDS = {2: ("coup", "Successful coup"), 1: ("coup_attempt", "Failed coup attempt")}
_COLUMNS = ["country", "year", "month", "day", "coup"]


def sniff_delimiter(path: str | Path) -> str:
    """The delimiter of a delimited text file, judged from its header line.

    Powell & Thyne's documentation says tab-separated, copies in the wild are often
    comma-separated: the header (plain names, no quoting) tells which.
    """
    p = require_file(path)
    with p.open(encoding="utf-8-sig", errors="replace") as fh:
        header = fh.readline()
    counts = {d: header.count(d) for d in ("\t", ",", ";", "|")}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def read_powell_thyne(
    path: str | Path,
    *,
    sheet: str | None = None,
    countries: Iterable[str] | None = DEFAULT_COUNTRIES,
    **options: object,
) -> ReadResult:
    """Read the Powell & Thyne coups file into the SHOCKS table.

    ``coup`` 2 (successful) becomes kind ``coup``, 1 (failed) ``coup_attempt``.

    Args:
        path: the delimited text file (tab or comma, detected).
        sheet: unused (text files have no sheets).
        countries: countries to keep (exact names as the file spells them); ``None`` keeps
            all. Other rows are counted in ``report.dropped`` as "country not selected".
        **options: none other are used.

    Raises:
        InputError: missing file or column, a day that does not exist, a ``coup`` code other
            than 1 or 2, or a schema violation.
    """
    sep = sniff_delimiter(path)
    raw = read_csv(path, sep=sep)
    report = ReadReport(file=raw.file, format="powell_thyne", table="shocks")
    report.rows_read = len(raw.df)
    report.notes.append(f"delimiter detected: {sep!r}")
    require_columns(raw.df, _COLUMNS, file=raw.file)
    country = text(raw.df["country"])
    if countries is not None:
        wanted = list(countries)
        keep = country.isin(wanted)
        report.drop("country not selected", int((~keep).sum()))
        missing = sorted(set(wanted) - set(country[keep]))
        if missing:
            report.notes.append(f"no coups listed for {missing} (check the spelling)")
        raw.df, country = raw.df.loc[keep], country[keep]
    code = parse_numbers(raw, "coup", integer=True, required=True)
    bad = ~code.isin(list(_KINDS))
    if bad.any():
        bad_cells(raw, raw.df["coup"], bad, "coup", "expected coup code 1 (failed) or 2 (successful)")
    date = month_start(
        raw,
        parse_numbers(raw, "year", integer=True, required=True),
        parse_numbers(raw, "month", integer=True, required=True),
        day=parse_numbers(raw, "day", integer=True, required=True),
        year_col="year",
        month_col="month",
        day_col="day",
    )
    version = text(raw.df["version"]) if "version" in raw.df else pd.Series(pd.NA, index=raw.df.index)
    source = ("Powell & Thyne coups " + version).fillna("Powell & Thyne coups")
    table = pd.DataFrame(
        {
            "date": date,
            "country": country,
            "region": None,
            "kind": code.map(lambda c: _KINDS[int(c)][0]),
            "actor": None,
            "description": code.map(lambda c: f"{_KINDS[int(c)][1]} (Powell & Thyne)"),
            "source": source,
        },
        index=raw.df.index,
    )
    return finish(table, SHOCKS, raw, report, {"date": "year", "kind": "coup"})
