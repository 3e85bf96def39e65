"""Shared test helpers: where the real data and the hand-made fixtures are, and error checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskcast.errors import InputError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def shared_file(rel: str) -> Path:
    """A file of ../shared/data, or skip the test (a user's machine has no shared/)."""
    p = SHARED / rel
    if not p.is_file():
        pytest.skip(f"../shared/data not present: {p}")
    return p


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def fixture_lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text(encoding="utf-8").splitlines()


def with_lines(tmp_path: Path, name: str, lines: list[str]) -> Path:
    return write(tmp_path, name, "\n".join(lines) + "\n")


def check_error(
    exc: pytest.ExceptionInfo[InputError], *, file: Path, row: int | None, column: str | None, says: str = ""
) -> None:
    """The error names exactly this file, row and column (and contains ``says``)."""
    err = exc.value
    assert err.file == str(file), str(err)
    assert err.row == row, str(err)
    assert err.column == column, str(err)
    assert says in str(err), str(err)
