"""A fetch's answer applied to the current vintage: rows new, changed, deleted, and the guard
that keeps an outage from looking like peace."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from riskcast.fetch.errors import ShrinkRefused

__all__ = ["Fetched", "Changes", "apply_changes", "check_shrink"]


@dataclass
class Fetched:
    """What a source client brought back.

    ``table`` holds canonical rows: every row of the query (``incremental`` False) or only the
    rows changed since the previous vintage (True), which ``deleted`` ids then leave.
    """

    table: pd.DataFrame
    incremental: bool
    deleted: set[str] = field(default_factory=set)
    endpoint: str = ""
    dataset_version: str | None = None
    #: what the next incremental fetch starts from (e.g. ACLED's newest ``timestamp``)
    checkpoint: dict = field(default_factory=dict)
    requests: int = 0
    pages: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class Changes:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    total: int = 0

    def to_dict(self) -> dict:
        return {
            "new": self.new,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "total": self.total,
        }


def _differs(a: pd.DataFrame, b: pd.DataFrame) -> pd.Series:
    """Per row (same index, same columns): does any cell differ (two missing cells are equal)?"""
    cols = sorted(set(a.columns) | set(b.columns))
    a, b = a.reindex(columns=cols), b.reindex(columns=cols)
    diff = pd.Series(False, index=a.index)
    for c in cols:
        x, y = a[c], b[c]
        both_missing = x.isna() & y.isna()
        diff |= ~both_missing & ((x != y) | x.isna() | y.isna())
    return diff


_KEY = "__key"


def _keyed(df: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    k = df[key[0]].astype(str)
    for c in key[1:]:
        k = k + "|" + df[c].astype(str)
    return df.assign(**{_KEY: k.to_numpy()}).set_index(_KEY)


def apply_changes(
    previous: pd.DataFrame | None, fetched: Fetched, *, key: list[str]
) -> tuple[pd.DataFrame, Changes]:
    """The new table and what changed against ``previous`` (None: nothing comparable before).

    Rows are identified by the ``key`` columns (``event_id``; country, date and kind for coups)
    and sorted by them, so the same data always give the same bytes on disk.
    """
    fetched_table = fetched.table
    if fetched_table.empty and not set(key) <= set(
        fetched_table.columns
    ):  # nothing asked (every release held)
        fetched_table = previous.iloc[0:0] if previous is not None else fetched_table.reindex(columns=key)
    rows = _keyed(fetched_table, key)
    rows = rows[~rows.index.duplicated(keep="last")]
    ch = Changes()
    if previous is None or previous.empty:
        table = rows
        ch.new = len(rows)
    else:
        prev = _keyed(previous, key)
        common = rows.index.intersection(prev.index)
        differs = _differs(rows.loc[common], prev.loc[common])
        ch.changed, ch.unchanged = int(differs.sum()), int((~differs).sum())
        ch.new = int((~rows.index.isin(prev.index)).sum())
        if fetched.incremental:
            table = pd.concat([prev.loc[~prev.index.isin(rows.index)], rows])
        else:  # a full answer: what is not in it anymore has gone from the source
            table = rows
            ch.deleted = int((~prev.index.isin(rows.index)).sum())
    if fetched.incremental and fetched.deleted:
        gone = table.index.isin(list(fetched.deleted))
        ch.deleted += int(gone.sum())
        table = table.loc[~gone]
    table = table.sort_index(kind="stable").reset_index(drop=True)
    ch.total = len(table)
    return table, ch


def check_shrink(
    source: str, total: int, previous_total: int | None, min_ratio: float, *, force: bool
) -> None:
    """Refuse a table far smaller than the current vintage of the same query (unless forced).

    Raises:
        ShrinkRefused: ``total`` is below ``min_ratio`` of ``previous_total``.
    """
    if force or not previous_total or total >= min_ratio * previous_total:
        return
    raise ShrinkRefused(
        f"{source}: the fetch gave {total} rows, {total / previous_total:.0%} of the current vintage's "
        f"{previous_total} for the same query (the limit is {min_ratio:.0%}). An outage or a changed API must not "
        "look like peace: nothing was written. Check the source, then use --force if the drop is real."
    )
