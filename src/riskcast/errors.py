"""Errors riskcast raises for bad input, with the place they were found."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

__all__ = [
    "InputError",
    "ConfigError",
    "FetchError",
    "Problem",
    "shown",
    "EXIT_BAD_INPUT",
    "EXIT_FETCH_FAILED",
    "MAX_LISTED",
]

#: Exit code of the CLI for bad input or a bad config (documented in the README).
EXIT_BAD_INPUT = 2
#: Exit code of ``riskcast fetch`` when the source failed or its answer was refused (nothing written)
EXIT_FETCH_FAILED = 3
#: Problems of one file listed in one message. A user fixes a file in one pass when they see
#: every bad row; beyond a screenful the list stops helping, so the rest are only counted.
MAX_LISTED = 20


def shown(value: object) -> str:
    """A value as a person wrote it: ``'Mopti'``, ``-4``, ``2018-02-03``, never ``np.int64(-4)``.

    Text is quoted (so blanks and stray spaces show), numbers and dates are not.
    """
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        try:
            value = value.item()
        except (ValueError, TypeError):
            pass
    missing = not isinstance(value, str) and str(value) in ("NaT", "<NA>", "nan", "None")
    if value is None or missing or (isinstance(value, float) and math.isnan(value)):
        return "an empty cell"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, datetime):
        return (
            value.strftime("%Y-%m-%d")
            if value == datetime(value.year, value.month, value.day)
            else value.isoformat(sep=" ")
        )
    if isinstance(value, date):
        return value.isoformat()
    return repr(str(value))


@dataclass(frozen=True)
class Problem:
    """One bad place in a file: what is wrong, at which row and column."""

    message: str
    row: int | None = None
    column: str | None = None

    def where(self) -> str:
        parts = ([f"row {self.row}"] if self.row is not None else []) + (
            [f"column {self.column!r}"] if self.column is not None else []
        )
        return ", ".join(parts)


class InputError(ValueError):
    """Bad input data: names the file, the row and the column, and what was expected.

    ``row`` is the line number a person sees in the file: for CSV the header is line 1,
    for spreadsheets the sheet's row number, for parquet the 1-based record number.
    ``file``, ``row``, ``column`` and ``detail`` describe the first problem; ``problems`` holds
    every problem listed in the message (the first included) and ``total`` how many were found.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        also: Sequence[Problem] = (),
        total: int | None = None,
    ) -> None:
        self.file, self.row, self.column, self.detail = file, row, column, message
        self.problems = [Problem(message, row, column), *also]
        self.total = max(total or 0, len(self.problems))
        first = ", ".join(x for x in (file, self.problems[0].where()) if x)
        text = f"{first}: {message}" if first else message
        if self.total > 1:
            n = self.total - 1
            text += f"\n  {n} more problem{'s' if n > 1 else ''} in this file"
            text += ":" if len(self.problems) > 1 else " (not listed)"
            text += "".join(
                f"\n  {p.where()}: {p.message}" if p.where() else f"\n  {p.message}"
                for p in self.problems[1:]
            )
            if self.total > len(self.problems):
                text += f"\n  ... and {self.total - len(self.problems)} more not listed ({self.total} in all)"
        super().__init__(text)

    @classmethod
    def of(cls, problems: Sequence[Problem], *, file: str | None, total: int | None = None) -> InputError:
        """One error for many problems: the first names the place, the next ones are listed
        (up to :data:`MAX_LISTED` in all), the rest counted."""
        first, *rest = problems
        return cls(
            first.message,
            file=file,
            row=first.row,
            column=first.column,
            also=rest[: MAX_LISTED - 1],
            total=total or len(problems),
        )


class ConfigError(ValueError):
    """A config file or override that is wrong: names the file and the key."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file, self.key, self.detail = file, key, message
        where = ", ".join(x for x in (file, f"key {key!r}" if key else None) if x)
        super().__init__(f"{where}: {message}" if where else message)


class FetchError(Exception):
    """A source failed (network, server, an answer that does not parse) or its answer was
    refused; no vintage was written and ``current`` did not move."""
