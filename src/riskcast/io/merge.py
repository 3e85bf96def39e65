"""Merging event tables from several inputs without counting an event twice.

ACLED's HDX and export files share ``event_id_cnty``: a user who passes both (or two
overlapping exports) must get each event once. The first input that has an event wins.
"""

from __future__ import annotations

import pandas as pd

from riskcast.io.base import ReadResult
from riskcast.schemas import EVENTS, empty

__all__ = ["merge_events"]

# Fields compared between the copy kept and a copy dropped, to say in the report how far
# two sources disagree about "the same" event (they do: ACLED revises its data).
_COMPARED = ("date", "admin1", "fatalities")


def merge_events(results: list[ReadResult]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Concatenate event tables, dropping events whose ``event_id`` an earlier input had.

    Args:
        results: event ReadResults, in order of preference (earlier inputs win).

    Returns:
        The merged EVENTS table (fresh index) and ``{input file: duplicates dropped}``.
        Each input's report also gets a note with the count and how many dropped copies
        disagreed with the kept copy on date, admin1 or fatalities.
    """
    parts: list[pd.DataFrame] = []
    dropped: dict[str, int] = {}
    kept_ids = pd.Index([], dtype=object)
    for res in results:
        table = res.table
        dup = table["event_id"].isin(kept_ids)
        n = int(dup.sum())
        dropped[res.report.file] = dropped.get(res.report.file, 0) + n
        if n:
            res.report.notes.append(_note(table.loc[dup], parts, n))
        new = table.loc[~dup]
        if len(new):
            parts.append(new)
            kept_ids = kept_ids.append(pd.Index(new["event_id"]))
    if not parts:
        return empty(EVENTS), dropped
    merged = pd.concat(parts, ignore_index=True)
    # Inputs may differ in optional columns (UCDP has priogrid_gid, ACLED has none): re-coerce.
    return EVENTS.validate(merged), dropped


def _note(dups: pd.DataFrame, parts: list[pd.DataFrame], n: int) -> str:
    earlier = pd.concat(parts, ignore_index=True).set_index("event_id")
    other = earlier.loc[dups["event_id"]].reset_index()
    mine = dups.reset_index(drop=True)
    differ = []
    for col in _COMPARED:
        d = ~((mine[col] == other[col]) | (mine[col].isna() & other[col].isna()))
        if d.any():
            differ.append(f"{col} {int(d.sum())}")
    tail = f"; dropped copies that disagree with the kept one: {', '.join(differ)}" if differ else ""
    return f"merge: {n} events already read from an earlier input dropped{tail}"
