"""What every reader returns: a canonical table and an account of what it did."""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from riskcast.errors import InputError

__all__ = ["ReadReport", "ReadResult", "require_file", "require_columns"]


@dataclass
class ReadReport:
    """Rows read, kept and dropped (with the reason for each drop) for one input."""

    file: str
    format: str
    table: str
    rows_read: int = 0
    rows_kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    #: the fetched vintage the table came from (``riskcast fetch``), else None
    vintage: dict | None = None

    def drop(self, reason: str, n: int = 1) -> None:
        if n:
            self.dropped[reason] += int(n)

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "format": self.format,
            "table": self.table,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_dropped": self.rows_dropped,
            "dropped": dict(sorted(self.dropped.items())),
            "notes": list(self.notes),
            **({"vintage": dict(self.vintage)} if self.vintage else {}),
        }


@dataclass
class ReadResult:
    """A canonical table, what reading it did, and where each of its rows came from."""

    table: pd.DataFrame
    report: ReadReport
    #: the row number a person sees in the file for each row of ``table`` (None: not from a file)
    rows: list[int] | None = None
    #: canonical column -> the file's column it came from, where they differ
    columns: dict[str, str] = field(default_factory=dict)

    def row(self, position: int) -> int | None:
        """The file row of the table's row at ``position``."""
        return self.rows[position] if self.rows is not None else None

    def column(self, name: str) -> str:
        """The file's name for canonical column ``name``."""
        return self.columns.get(name, name)


def require_file(path: str | Path) -> Path:
    """The path, or an InputError when it is missing or empty."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    if p.stat().st_size == 0:
        raise InputError("file is empty (expected a header and data rows)", file=str(p))
    return p


def require_columns(
    df: pd.DataFrame, needed: list[str] | tuple[str, ...], *, file: str, row: int = 1
) -> None:
    """Fail naming the first missing column (and a near miss when one exists)."""
    have = [str(c) for c in df.columns]
    for col in needed:
        if col not in have:
            near = difflib.get_close_matches(col, have, n=1, cutoff=0.75)
            hint = f" (found {near[0]!r}: misspelt?)" if near else ""
            raise InputError(f"missing column {col!r}{hint}", file=file, row=row, column=col)
