"""Recency-weighted logistic fits: rows weigh 2^(-age / halflife), age from the newest month."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from riskcast.models.linear import LogisticCount, recency_weights, signed_log1p
from tests.models.test_models import _panel


def test_weights_halve_every_halflife():
    months = pd.to_datetime(["2019-01-01", "2020-01-01", "2020-07-01", "2021-01-01"])
    np.testing.assert_allclose(recency_weights(months, 12), [0.25, 0.5, 2**-0.5, 1.0])
    assert recency_weights(months, None) is None
    with pytest.raises(ValueError, match="needs months"):
        recency_weights(None, 12)
    with pytest.raises(ValueError, match="> 0"):
        recency_weights(months, 0)


def test_fit_equals_a_weighted_fit_by_hand_and_differs_from_unweighted():
    X, y, count, months = _panel()
    est = LogisticCount(C=0.1, recency_halflife=6).fit(X, y, y_count=count, months=months)
    w = recency_weights(months, 6)
    by_hand = make_pipeline(
        FunctionTransformer(signed_log1p),
        StandardScaler(),
        LogisticRegression(C=0.1, solver="newton-cholesky", max_iter=1000),
    )
    by_hand.fit(X.to_numpy(), y, logisticregression__sample_weight=w)
    np.testing.assert_allclose(est.predict_proba(X)[:, 1], by_hand.predict_proba(X.to_numpy())[:, 1])
    plain = LogisticCount(C=0.1).fit(X, y, y_count=count, months=months)
    assert not np.allclose(est.predict_proba(X), plain.predict_proba(X))
    with pytest.raises(ValueError, match="needs months"):
        LogisticCount(recency_halflife=6).fit(X, y)
