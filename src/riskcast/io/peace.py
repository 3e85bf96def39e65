"""UCDP Peace Agreement dataset (xlsx, or the same columns as CSV), as SHOCKS rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from riskcast.io._common import (
    bad_cells,
    finish,
    parse_dates,
    parse_numbers,
    read_any,
    text,
)
from riskcast.io.base import ReadReport, ReadResult, require_columns
from riskcast.schemas import SHOCKS

__all__ = ["read_ucdp_peace_agreements", "DEFAULT_GWNO", "GWNO_NAMES"]

#: Gleditsch-Ward numbers of the countries riskcast covers.
GWNO_NAMES = {432: "Mali", 439: "Burkina Faso", 436: "Niger"}
DEFAULT_GWNO = (432, 439, 436)
# UCDP pa_type: 1 full (comprehensive), 2 partial, 3 peace process.
_FULL = 1
_COLUMNS = ["gwno", "pa_name", "actor_name", "pa_date", "cease"]


def _version_text(v: object) -> str:
    # xlsx stores 22.1 as a float; "22.1" reads better than "22.100000000000001".
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    return f"{v:g}" if isinstance(v, float) else str(v).strip()


def read_ucdp_peace_agreements(
    path: str | Path,
    *,
    sheet: str | None = None,
    gwno: Iterable[int] = DEFAULT_GWNO,
    country_names: Mapping[int, str] | None = None,
    **options: object,
) -> ReadResult:
    """Read UCDP peace agreements into the SHOCKS table, one row per agreement and country.

    ``gwno`` in the file may list several countries ("432, 439"): an agreement is kept when
    any code is wanted, and gives one SHOCKS row per wanted country it names. Kind is
    ``ceasefire`` when ``cease`` is 1 and the agreement is not a full one (``pa_type`` 1),
    else ``peace_accord``.

    Args:
        path: xlsx (first sheet unless ``sheet`` is given) or CSV.
        sheet: the sheet to read.
        gwno: Gleditsch-Ward country codes to keep (default Mali, Burkina Faso, Niger).
        country_names: code -> country name; defaults to :data:`GWNO_NAMES`, and
            ``"gwno <code>"`` for a code it lacks.
        **options: none other are used.

    Raises:
        InputError: missing file/sheet/column, an unreadable gwno, date or cease value, or a
            schema violation.
    """
    raw = read_any(path, sheet=sheet)
    names = {**GWNO_NAMES, **(country_names or {})}
    wanted = {int(g) for g in gwno}
    report = ReadReport(file=raw.file, format="ucdp_peace", table="shocks")
    report.rows_read = len(raw.df)
    require_columns(raw.df, _COLUMNS, file=raw.file)

    codes = text(raw.df["gwno"]).str.split(",").explode().str.strip()
    as_num = pd.to_numeric(codes, errors="coerce")
    bad = codes.notna() & (as_num.isna() | (as_num % 1 != 0))
    if bad.any():
        rows = bad.groupby(level=0).any()  # a cell holds several codes: one problem per cell
        bad_cells(raw, raw.df["gwno"], rows, "gwno", "expected Gleditsch-Ward codes like '432' or '432, 439'")
    hits = as_num[as_num.isin(wanted)].astype(int)
    kept = hits.index.unique()
    report.drop("country (gwno) not selected", len(raw.df) - len(kept))
    raw.df = raw.df.loc[kept]

    date = parse_dates(raw, "pa_date", ("ISO8601",), label="YYYY-MM-DD")
    no_date = date.isna()
    if no_date.any():
        report.drop("no agreement date (pa_date empty)", int(no_date.sum()))
    cease = parse_numbers(raw, "cease", integer=True).fillna(0)
    full = (
        parse_numbers(raw, "pa_type", integer=True) == _FULL
        if "pa_type" in raw.df
        else pd.Series(False, index=raw.df.index)
    )
    kind = pd.Series("peace_accord", index=raw.df.index).mask((cease == 1) & ~full, "ceasefire")
    version = raw.df["version"].map(_version_text) if "version" in raw.df else None
    source = (
        ("UCDP Peace Agreements " + version).str.strip() if version is not None else "UCDP Peace Agreements"
    )
    table = pd.DataFrame(
        {
            "date": date,
            "region": None,
            "kind": kind,
            "actor": text(raw.df["actor_name"]),
            "description": text(raw.df["pa_name"]),
            "source": source,
        },
        index=raw.df.index,
    ).loc[~no_date]
    # One row per (agreement, wanted country): the index keeps the file row for messages.
    country = hits.loc[hits.index.isin(table.index)].map(lambda c: names.get(c, f"gwno {c}"))
    table = table.join(country.rename("country"))[list(SHOCKS.columns)]
    if len(table) > len(kept) - int(no_date.sum()):
        report.notes.append("agreements naming several selected countries give one row per country")
    return finish(
        table,
        SHOCKS,
        raw,
        report,
        {
            "date": "pa_date",
            "actor": "actor_name",
            "description": "pa_name",
            "country": "gwno",
        },
    )
