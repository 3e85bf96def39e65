from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcast.evaluation.splits import RollingOriginSplit, SplitError

MONTHS = pd.date_range("2012-01", "2019-12", freq="MS")


def rows(n_units=3):
    return pd.DatetimeIndex(np.tile(MONTHS, n_units))


@pytest.mark.parametrize("h", [1, 3, 6, 12])
def test_training_rows_have_targets_known_at_the_origin(h):
    months = rows()
    s = RollingOriginSplit(h, min_train_months=24, eval_months=12)
    folds = list(s.split(None, groups=months))
    assert len(folds) == 12 == s.get_n_splits(groups=months)
    for train, test in folds:
        origin = months[test].unique()
        assert len(origin) == 1
        # the target of a training row is month t + h, which must be <= the origin
        assert (months[train] + pd.DateOffset(months=h)).max() <= origin[0]
        assert len(test) == 3
    last_origin = months[folds[-1][1]][0]
    assert last_origin + pd.DateOffset(months=h) == MONTHS[-1]


def test_sliding_window_keeps_only_recent_months():
    months = rows()
    train, test = list(
        RollingOriginSplit(1, 12, 3, window="sliding", sliding_months=12).split(None, groups=months)
    )[0]
    assert months[train].nunique() == 12


def test_refuses_a_window_that_is_too_short():
    with pytest.raises(
        SplitError,
        match=r"too short for horizon 12: the first origin .* has \d+ training months, at least 90",
    ):
        list(RollingOriginSplit(12, min_train_months=90, eval_months=12).split(None, groups=rows()))


def test_refuses_a_zero_horizon():
    with pytest.raises(SplitError, match="horizon must be >= 1"):
        RollingOriginSplit(0).origins(MONTHS)
