"""ACLED event files: the HDX download (HXL hashtag row under the header) and the
export-tool download (dyadic: one row per actor, dates like "20 December 2020").

Both become riskcast's EVENTS table, one row per ``event_id_cnty``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskcast.errors import InputError, Problem, shown
from riskcast.io._common import (
    Raw,
    bad_cells,
    check_unique,
    finish,
    parse_dates,
    parse_numbers,
    read_csv,
    require_values,
    skip_hxl_row,
    text,
)
from riskcast.io.base import ReadReport, ReadResult, require_columns
from riskcast.schemas import EVENTS

__all__ = ["read_acled_hdx", "read_acled_export", "acled_events", "DYADIC_DUPLICATE"]

#: Reason counted in ``report.dropped`` for the second row of a dyadic event.
DYADIC_DUPLICATE = "dyadic duplicate row (same event_id_cnty)"

# HDX writes ISO dates, the export tool "20 December 2020"; both are accepted everywhere
# because users re-save files and the two styles end up mixed.
_DATE_FORMATS = ("%Y-%m-%d", "%d %B %Y", "%d-%B-%Y", "%d %b %Y")
_DATE_LABEL = "YYYY-MM-DD or like '20 December 2020'"

# canonical column -> ACLED column, for error messages.
_SOURCE = {
    "event_id": "event_id_cnty",
    "date": "event_date",
    "precision": "time_precision",
}

_COLUMNS = [
    "event_id_cnty",
    "event_date",
    "time_precision",
    "event_type",
    "sub_event_type",
    "actor1",
    "country",
    "admin1",
    "admin2",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "notes",
    "fatalities",
]


def _events(raw: Raw, actor2: pd.Series | None) -> pd.DataFrame:
    """The EVENTS columns from an ACLED table (before de-duplication)."""
    df = raw.df
    recorded = None
    if "timestamp" in df.columns:  # Unix seconds of ACLED's last upload of the event
        secs = parse_numbers(raw, "timestamp")
        bad = secs.notna() & ~secs.between(0, 4102444800)  # 1970 .. 2100
        if bad.any():
            bad_cells(raw, df["timestamp"], bad, "timestamp", "expected Unix seconds (1970-2100)")
            secs = secs.mask(bad)
        recorded = pd.to_datetime(secs, unit="s").dt.floor("s")
    table = pd.DataFrame(
        {
            "event_id": text(df["event_id_cnty"]),
            "date": parse_dates(raw, "event_date", _DATE_FORMATS, label=_DATE_LABEL),
            "country": text(df["country"]),
            "admin1": text(df["admin1"]),
            "admin2": text(df["admin2"]),
            "latitude": parse_numbers(raw, "latitude"),
            "longitude": parse_numbers(raw, "longitude"),
            "event_type": text(df["event_type"]),
            "sub_event_type": text(df["sub_event_type"]),
            "actor1": text(df["actor1"]),
            "actor2": actor2 if actor2 is not None else pd.Series(float("nan"), index=df.index, dtype=object),
            "fatalities": parse_numbers(raw, "fatalities", integer=True, required=True),
            "source_dataset": "ACLED",
            "precision": parse_numbers(raw, "time_precision", integer=True),
            "geo_precision": parse_numbers(raw, "geo_precision", integer=True),
            "location": text(df["location"]),
            "notes": text(df["notes"]),
        },
        index=df.index,
    )
    if recorded is not None:
        table["recorded"] = recorded
    return table


def read_acled_hdx(path: str | Path, *, sheet: str | None = None, **options: object) -> ReadResult:
    """Read an ACLED HDX event CSV (one row per event).

    The HXL hashtag row that HDX puts under the header is detected (every filled cell starts
    with '#') and skipped; a file without it is read the same way.

    Args:
        path: the CSV file.
        sheet: unused (CSV has no sheets); accepted so all readers share one signature.
        **options: none are used.

    Raises:
        InputError: missing file or column, malformed CSV, unreadable value, duplicate
            event id, or a value the EVENTS schema rejects; names file, row and column.
    """
    raw = read_csv(path)
    report = ReadReport(file=raw.file, format="acled_hdx", table="events")
    if skip_hxl_row(raw):
        report.notes.append("HXL hashtag row (file row 2) skipped")
    return acled_events(raw, report)


def acled_events(raw: Raw, report: ReadReport) -> ReadResult:
    """Monadic ACLED rows (an HDX file, or the pages of ACLED's API) as the EVENTS table.

    The one conversion both a downloaded file and ``riskcast fetch acled`` go through.
    """
    report.rows_read = len(raw.df)
    require_columns(raw.df, _COLUMNS + ["actor2"], file=raw.file)
    raw.collect()  # every bad cell of the file in one message
    table = _events(raw, text(raw.df["actor2"]))
    require_values(raw, "event_id_cnty", table["event_id"])
    # A monadic file lists each event once: a repeat is a broken file, not something to merge.
    check_unique(raw, table["event_id"], column="event_id_cnty", what="event id")
    return finish(table, EVENTS, raw, report, _SOURCE)


def read_acled_export(path: str | Path, *, sheet: str | None = None, **options: object) -> ReadResult:
    """Read an ACLED export-tool CSV, keeping one row per ``event_id_cnty``.

    The dyadic export repeats an event once per actor, each row with that actor in
    ``actor1``. The first row of an event is kept; ``actor2`` is taken from the file when it has
    that column, otherwise from ``actor1`` of the event's second row. Extra rows are counted in
    ``report.dropped`` as :data:`DYADIC_DUPLICATE`.

    Args:
        path: the CSV file.
        sheet: unused (CSV has no sheets).
        **options: none are used.

    Raises:
        InputError: as :func:`read_acled_hdx`, and when two rows of one event disagree on
            event_date, admin1 or fatalities (naming both rows).
    """
    raw = read_csv(path)
    report = ReadReport(file=raw.file, format="acled_export", table="events")
    if skip_hxl_row(raw):  # the export tool writes none, but a file passed through HDX may
        report.notes.append("HXL hashtag row (file row 2) skipped")
    report.rows_read = len(raw.df)
    require_columns(raw.df, _COLUMNS, file=raw.file)
    raw.collect()  # every bad cell of the file in one message
    has_actor2 = "actor2" in raw.df.columns
    table = _events(raw, text(raw.df["actor2"]) if has_actor2 else None)
    ids = table["event_id"]
    require_values(raw, "event_id_cnty", ids)

    first = ~ids.duplicated(keep="first")
    _check_rows_agree(raw, table, first)

    occurrence = table.groupby("event_id", sort=False).cumcount()
    second_actor = table.loc[occurrence == 1].set_index("event_id")["actor1"]
    kept = table.loc[first].copy()
    from_second = kept["actor2"].isna() & kept["event_id"].isin(second_actor.index)
    kept.loc[from_second, "actor2"] = kept.loc[from_second, "event_id"].map(second_actor)
    if from_second.any():
        report.notes.append(f"actor2 taken from the event's second row for {int(from_second.sum())} events")
    report.drop(DYADIC_DUPLICATE, int((~first).sum()))
    return finish(kept, EVENTS, raw, report, _SOURCE)


def _check_rows_agree(raw: Raw, table: pd.DataFrame, first: pd.Series) -> None:
    """Rows of one event must describe the same event: same date, admin1 and fatalities."""
    ids = table["event_id"]
    problems = []
    for col, source in (("date", "event_date"), ("admin1", "admin1"), ("fatalities", "fatalities")):
        ref = ids.map(table.loc[first].set_index("event_id")[col])
        same = (table[col] == ref) | (table[col].isna() & ref.isna())
        for j in same.index[~same.to_numpy()]:
            i = first[first & (ids == ids[j])].index[0]
            a, b = raw.df.at[i, source], raw.df.at[j, source]
            problems.append(
                Problem(
                    f"rows {raw.row(i)} and {raw.row(j)} are the same event {ids[j]!r} but disagree "
                    f"on {source}: {shown(a)} vs {shown(b)}",
                    row=raw.row(j),
                    column=source,
                )
            )
    if not problems:
        return
    if raw.problems is not None:  # collecting: reported with the rest by finish()
        raw.problems += problems
        return
    problems.sort(key=lambda p: p.row)
    raise InputError.of(problems, file=raw.file)
