"""Plausibility bounds on values a schema accepts but no real event has (1e12 deaths)."""

from __future__ import annotations

from riskcast.errors import MAX_LISTED, InputError, Problem, shown
from riskcast.io.base import ReadResult

__all__ = ["check_at_most"]


def check_at_most(result: ReadResult, column: str, limit: float, *, setting: str) -> None:
    """Refuse a table with values of ``column`` above ``limit``, naming every such row.

    Args:
        result: a reader's result (its rows and columns name the file's places).
        column: the canonical column (its file name is used in the message).
        limit: the largest plausible value.
        setting: the config key that sets ``limit``, so the user knows how to raise it.

    Raises:
        InputError: every row above the limit (up to the listing limit), with its value.
    """
    values = result.table[column]
    over = (values > limit).to_numpy()
    if not over.any():
        return
    positions = over.nonzero()[0]
    name = result.column(column)
    problems = [
        Problem(
            f"{shown(values.iloc[k])} is more than {limit:,} ({setting}): a typo or a "
            "missing-value code rather than a real event?",
            row=result.row(k),
            column=name,
        )
        for k in positions[:MAX_LISTED]
    ]
    raise InputError.of(problems, file=result.report.file, total=len(positions))
