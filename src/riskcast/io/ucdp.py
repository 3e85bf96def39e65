"""UCDP Georeferenced Event Dataset (GED) event CSV, codebook column names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from riskcast.io._common import (
    Raw,
    bad_cells,
    check_unique,
    finish,
    parse_dates,
    parse_numbers,
    read_csv,
    require_values,
    text,
)
from riskcast.io.base import ReadReport, ReadResult, require_columns
from riskcast.schemas import EVENTS

__all__ = ["read_ucdp_ged", "ged_events", "VIOLENCE_TYPES"]

VIOLENCE_TYPES = {1: "state-based", 2: "non-state", 3: "one-sided"}
# GED date_prec 1 day, 2-3 within a week / a few days, 4-5 month or coarser -> ACLED's 1/2/3.
_DATE_PREC = {1: 1, 2: 2, 3: 2, 4: 3, 5: 3}
# GED where_prec 1 exact, 2-3 near / second-order unit, 4-7 first-order unit or coarser.
_WHERE_PREC = {1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 3, 7: 3}
# GED appends the unit type to admin names ("Mopti region", "Douentza cercle"); ACLED does not.
_ADM1_SUFFIX = r"\s+(?:region|province|department)$"
_ADM2_SUFFIX = r"\s+(?:cercle|department|province)$"

# canonical column -> GED column, for error messages.
_SOURCE = {
    "event_id": "id",
    "date": "date_start",
    "admin1": "adm_1",
    "admin2": "adm_2",
    "event_type": "type_of_violence",
    "actor1": "side_a",
    "actor2": "side_b",
    "fatalities": "best",
    "precision": "date_prec",
    "geo_precision": "where_prec",
}

_COLUMNS = [
    "id",
    "date_start",
    "date_prec",
    "where_prec",
    "type_of_violence",
    "side_a",
    "side_b",
    "best",
    "country",
    "adm_1",
    "adm_2",
    "latitude",
    "longitude",
    "priogrid_gid",
]


def _coded(raw: Raw, column: str, codes: dict[int, object]) -> pd.Series:
    """Map a coded column; a code outside the codebook fails at its cell."""
    vals = parse_numbers(raw, column, integer=True)
    out = vals.map(codes)
    bad = vals.notna() & out.isna()
    if bad.any():
        bad_cells(raw, raw.df[column], bad, column, f"expected one of the codebook codes {sorted(codes)}")
    return out


def read_ucdp_ged(path: str | Path, *, sheet: str | None = None, **options: object) -> ReadResult:
    """Read a UCDP GED event CSV into the EVENTS table.

    ``event_id`` is ``"GED-" + id``; ``fatalities`` is the ``best`` estimate; admin names lose
    GED's unit-type suffix; precision codes are mapped onto ACLED's 1-3 scale.

    Args:
        path: the CSV file.
        sheet: unused (CSV has no sheets).
        **options: none are used.

    Raises:
        InputError: missing file or column, malformed CSV, unreadable value, a code outside
            the codebook, a duplicate id, or a schema violation.
    """
    raw = read_csv(path)
    return ged_events(raw, ReadReport(file=raw.file, format="ucdp_ged", table="events"))


def ged_events(raw: Raw, report: ReadReport) -> ReadResult:
    """GED rows (a downloaded CSV, or the pages of UCDP's API) as the EVENTS table.

    The one conversion both a downloaded file and ``riskcast fetch ucdp`` go through.
    """
    report.rows_read = len(raw.df)
    require_columns(raw.df, _COLUMNS, file=raw.file)
    raw.collect()  # every bad cell of the file in one message
    df = raw.df
    ids = text(df["id"])
    require_values(raw, "id", ids)
    check_unique(raw, ids, column="id", what="event id")
    dates = parse_dates(raw, "date_start", ("ISO8601",), label="YYYY-MM-DD")
    table = pd.DataFrame(
        {
            "event_id": "GED-" + ids,
            "date": dates,
            "country": text(df["country"]),
            "admin1": text(df["adm_1"]).str.replace(_ADM1_SUFFIX, "", regex=True, case=False),
            "admin2": text(df["adm_2"]).str.replace(_ADM2_SUFFIX, "", regex=True, case=False),
            "latitude": parse_numbers(raw, "latitude"),
            "longitude": parse_numbers(raw, "longitude"),
            "event_type": _coded(raw, "type_of_violence", VIOLENCE_TYPES),
            "sub_event_type": np.nan,
            "actor1": text(df["side_a"]),
            "actor2": text(df["side_b"]),
            "fatalities": parse_numbers(raw, "best", integer=True, required=True),
            "source_dataset": "UCDP GED",
            "precision": _coded(raw, "date_prec", _DATE_PREC),
            "geo_precision": _coded(raw, "where_prec", _WHERE_PREC),
            "location": text(df["where_coordinates"]) if "where_coordinates" in df else np.nan,
            "notes": text(df["source_headline"]) if "source_headline" in df else np.nan,
            "priogrid_gid": parse_numbers(raw, "priogrid_gid", integer=True),
        },
        index=df.index,
    )
    if "date_end" in df:
        ends = parse_dates(raw, "date_end", ("ISO8601",), label="YYYY-MM-DD")
        spans = int((ends.notna() & (ends.dt.to_period("M") != dates.dt.to_period("M"))).sum())
        if spans:
            report.notes.append(f"{spans} events end in a later month than date_start (dated by date_start)")
    return finish(table, EVENTS, raw, report, _SOURCE)
