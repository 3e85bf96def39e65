"""API pages -> the text table the file readers parse, so fetched rows meet the same checks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from riskcast.io._common import Raw

__all__ = ["rows_to_raw"]


def _cell(v: object) -> object:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return float("nan")
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return repr(v)
    return str(v)


def rows_to_raw(rows: Sequence[dict], *, label: str, columns: Sequence[str] = ()) -> Raw:
    """JSON records as a :class:`Raw` of strings (as a CSV would load), numbered 1.. in ``label``.

    A field missing from some records is empty there; ``columns`` are present even when no
    record has them (an empty answer still has its header).
    """
    df = pd.DataFrame.from_records(list(rows))
    for c in columns:
        if c not in df.columns:
            df[c] = float("nan")
    df = df.map(_cell) if len(df) else df.astype(object)
    df.columns = [str(c).strip() for c in df.columns]
    return Raw(df=df.reset_index(drop=True), file=label, base=1)
