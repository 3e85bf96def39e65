"""Feature contributions in words a scores table can carry: ``"rolling_window3 +0.41; lag_k1 -0.22"``.

Plain numpy and pandas, so the scoring contract and the registered bundle share it without either
depending on the other (or on MLflow).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["top_contributions", "DEFAULT_TOP_K"]

#: contributions listed per unit and horizon unless the config says otherwise (``scoring.top_k``)
DEFAULT_TOP_K = 3


def top_contributions(contrib: pd.DataFrame, k: int = DEFAULT_TOP_K) -> list[str]:
    """The ``k`` largest contributions of each row by magnitude, as ``"name +0.41; other -0.22"``.

    The ``bias`` column, NaN and exact zeros are left out (they explain nothing about the
    unit); ties keep the column order.
    """
    values = contrib.drop(columns=["bias"], errors="ignore")
    names = np.asarray(values.columns, dtype=object)
    x = values.to_numpy(dtype=float)
    if k <= 0 or x.size == 0:
        return [""] * len(contrib)
    usable = ~np.isnan(x) & (x != 0.0)
    order = np.argsort(-np.where(usable, np.abs(x), -1.0), axis=1, kind="stable")[:, :k]
    return [
        "; ".join(f"{names[j]} {x[i, j]:+.2f}" for j in row if usable[i, j]) for i, row in enumerate(order)
    ]
