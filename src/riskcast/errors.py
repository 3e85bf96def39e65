"""Errors riskcast raises for bad input, with the place they were found."""
from __future__ import annotations

__all__ = ["InputError", "ConfigError", "FetchError", "EXIT_BAD_INPUT", "EXIT_FETCH_FAILED"]

#: Exit code of the CLI for bad input or a bad config (documented in the README).
EXIT_BAD_INPUT = 2
#: Exit code of ``riskcast fetch`` when the source failed or its answer was refused (nothing written)
EXIT_FETCH_FAILED = 3


class InputError(ValueError):
    """Bad input data: names the file, the row and the column, and what was expected.

    ``row`` is the line number a person sees in the file: for CSV the header is line 1,
    for spreadsheets the sheet's row number, for parquet the 1-based record number.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file, self.row, self.column, self.detail = file, row, column, message
        where = []
        if file is not None:
            where.append(f"{file}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(ValueError):
    """A config file or override that is wrong: names the file and the key."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None) -> None:
        self.file, self.key, self.detail = file, key, message
        where = ", ".join(x for x in (file, f"key {key!r}" if key else None) if x)
        super().__init__(f"{where}: {message}" if where else message)


class FetchError(Exception):
    """A source failed (network, server, an answer that does not parse) or its answer was
    refused; no vintage was written and ``current`` did not move."""
