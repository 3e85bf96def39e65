"""Every forecast a backtest fold records, in one call: P(any), expected count, count quantiles.

Asked one by one (``predict_proba``, ``predict_count``, ``predict_quantiles``) a model validates
its input three times and computes its count head two or three times (the quantiles come from
the count; a count GLM's P(any) does too; a shrunk or tuned model asks its inner model again).
Over a backtest's thousands of folds that was a third of a linear model's time. A model with
``predict_outputs(X, q)`` answers all three at once, with the numbers its three methods give
to the bit; any other model is asked the three questions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["predict_outputs", "QUANTILES"]

#: the count quantiles every backtest fold records (10 %, median, 90 %)
QUANTILES = (0.1, 0.5, 0.9)


def predict_outputs(est, X, q: Sequence[float] = QUANTILES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(p, expected count, quantiles)`` of a fitted model: ``predict_proba(X)[:, 1]``,
    ``predict_count(X)`` and ``predict_quantiles(X, q)``, NaN where the model has no count head."""
    own = getattr(est, "predict_outputs", None)
    if own is not None:
        return own(X, q)
    n = len(X)
    p = est.predict_proba(X)[:, 1]
    count = est.predict_count(X) if hasattr(est, "predict_count") else np.full(n, np.nan)
    quantiles = (
        est.predict_quantiles(X, q) if hasattr(est, "predict_quantiles") else np.full((n, len(q)), np.nan)
    )
    return p, count, quantiles
