"""One backtest for several (P(any attack), intensity targets, the ablation): per-model targets,
groups scored as they finish, identical tasks run once, the panel in one array. Each must give
the forecasts of the separate backtests to the bit, and nothing after an origin may reach them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcast.evaluation import backtest
from riskcast.evaluation.backtest import run_backtest
from riskcast.features.targets import count_column, target_column
from riskcast.models.baselines import Climatology, Persistence
from riskcast.models.linear import LogisticCount
from riskcast.models.shrinkage import Shrunk
from riskcast.models.tuning import Tuned

N_UNITS, N_MONTHS, HORIZONS = 6, 60, (1, 3)
KW = dict(min_train_months=24, eval_months=12, refit_every=2)
FEATURES = ["a", "b", "share", "sum", "current", "big"]


def panel_of(seed: int = 0) -> pd.DataFrame:
    """Units x months with two targets: any attack, and at least 3 (its count the same attacks)."""
    rng = np.random.default_rng(seed)
    months = np.repeat(pd.date_range("2015-01", periods=N_MONTHS, freq="MS"), N_UNITS)
    units = np.tile([f"u{i}" for i in range(N_UNITS)], N_MONTHS)
    x = rng.normal(size=(len(months), 2))
    count = rng.poisson(np.exp(0.4 + 0.7 * x[:, 0])).astype(float)
    df = pd.DataFrame(x, columns=["a", "b"]).assign(unit_id=units, unit_name=units, country="C", month=months)
    df["current"] = count
    by_unit = df.groupby("unit_id")["current"]
    df["share"] = by_unit.transform(lambda s: (s > 0).rolling(12, min_periods=1).mean())
    df["sum"] = by_unit.transform(lambda s: s.rolling(12, min_periods=1).sum())
    df["big"] = (count >= 3).astype(float)
    for h in HORIZONS:
        nxt = by_unit.shift(-h)
        df[target_column("any", h)] = (nxt >= 1).astype(float).where(nxt.notna())
        df[count_column("any", h)] = nxt
        df[target_column("big", h)] = (nxt >= 3).astype(float).where(nxt.notna())
        df[count_column("big", h)] = nxt
    return df


def _tuned(cols: tuple[str, ...]) -> Tuned:
    base = LogisticCount(columns=cols, C=0.1)
    return Tuned(base, param="C", grid=(0.01, 0.1, 1.0), holdout_months=6, search_every=4)


def models_for(target: str) -> dict:
    share, current = ("share", "current") if target == "any" else ("big", "big")
    return {
        "climatology": Climatology(share_column=share, sum_column="sum"),
        "persistence": Persistence(column=current),
        "logistic": _tuned(("a", "b", share)),
        "logistic_shrunk": Shrunk(_tuned(("a", "b", share)), share_column=share, sum_column="sum"),
    }


def together(panel: pd.DataFrame, n_jobs: int = 1, **extra) -> pd.DataFrame:
    models = {**models_for("any"), **{f"big:{n}": m for n, m in models_for("big").items()}}
    targets = {n: "big" for n in models if n.startswith("big:")}
    return run_backtest(panel, FEATURES, models, HORIZONS, targets=targets, n_jobs=n_jobs, **KW, **extra)


def apart(panel: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        run_backtest(panel, FEATURES, models_for("any"), HORIZONS, **KW),
        run_backtest(panel, FEATURES, models_for("big"), HORIZONS, target="big", **KW),
    )


def _part(preds: pd.DataFrame, prefix: str | None) -> pd.DataFrame:
    """The rows of one target, under their own names, as a backtest of that target alone orders them."""
    mine = preds["model"].str.startswith("big:")
    rows = preds[mine if prefix else ~mine]
    rows = rows.assign(model=rows["model"].str.removeprefix("big:"))
    return rows.reset_index(drop=True)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_targets_in_one_backtest_give_the_separate_backtests_to_the_bit(n_jobs):
    panel = panel_of()
    got = together(panel, n_jobs)
    any_, big = apart(panel)
    pd.testing.assert_frame_equal(_part(got, None), any_, check_exact=True)
    pd.testing.assert_frame_equal(_part(got, "big"), big, check_exact=True)
    # the shrunk logistic is built on its own target's logistic, never on the other target's
    assert not np.array_equal(
        got.loc[got["model"] == "logistic_shrunk", "p"], got.loc[got["model"] == "big:logistic_shrunk", "p"]
    )


def test_each_group_is_handed_over_once_with_its_own_forecasts():
    panel = panel_of()
    seen: dict[str, pd.DataFrame] = {}

    def on_group(group, preds):
        assert group not in seen
        seen[group] = preds

    groups = {"any": list(models_for("any")), "big": [f"big:{n}" for n in models_for("big")]}
    got = together(panel, 2, groups=groups, on_group=on_group)
    assert set(seen) == {"any", "big"}
    pd.testing.assert_frame_equal(seen["any"], _part(got, None), check_exact=True)
    pd.testing.assert_frame_equal(
        seen["big"], got[got["model"].str.startswith("big:")].reset_index(drop=True), check_exact=True
    )


def test_a_repeated_model_is_one_task_and_carries_the_same_forecasts(monkeypatch):
    panel = panel_of()
    calls = []
    task = backtest._task
    monkeypatch.setattr(backtest, "_task", lambda *a, **k: calls.append(a[5]) or task(*a, **k))
    models = {"climatology": Climatology(share_column="share", sum_column="sum"), "again": None}
    models["again"] = Climatology(share_column="share", sum_column="sum")
    timings: dict = {}
    got = run_backtest(panel, FEATURES, models, HORIZONS, timings=timings, **KW)
    assert sorted(calls) == ["climatology"] * len(HORIZONS)  # fitted once per horizon
    a, b = (got[got["model"] == m].drop(columns="model").reset_index(drop=True) for m in models)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert timings["again"] == 0.0 and timings["climatology"] > 0
    # a copy of the same spec on another target is not the same task
    calls.clear()
    run_backtest(panel, FEATURES, models, HORIZONS, targets={"again": "big"}, **KW)
    assert sorted(calls) == sorted(["climatology", "again"] * len(HORIZONS))


@pytest.mark.parametrize("t", ["2019-03", "2019-07"])
def test_nothing_after_an_origin_reaches_the_shared_backtest(t):
    """Rows after month t replaced by noise (features, counts and both targets): every forecast
    made at t or before, of every target and of a repeated (shared) task, stays to the bit."""
    t = pd.Timestamp(t)
    panel = panel_of()
    other = panel.copy()
    rng = np.random.default_rng(5)
    after = (other["month"] > t).to_numpy()
    noisy = ["a", "b", "share", "sum", "current", "big"]  # the targets: below, with what is unknown at t
    for c in noisy:
        other.loc[after, c] = rng.permutation(other.loc[after, c].to_numpy())
    # what is known at t: no target of a row t' with t' + h > t
    for h in HORIZONS:
        late = (other["month"] + pd.DateOffset(months=h) > t).to_numpy()
        for target in ("any", "big"):  # a target and its count move together (a count is NaN with it)
            cols = [target_column(target, h), count_column(target, h)]
            other.loc[late, cols] = other.loc[late, cols].to_numpy()[rng.permutation(late.sum())]
    extra = {"again": Persistence(column="current")}
    a, b = (together(p, **{}) for p in (panel, other))
    a2, b2 = (
        run_backtest(p, FEATURES, {**models_for("any"), **extra}, HORIZONS, **KW) for p in (panel, other)
    )
    for x, y in ((a, b), (a2, b2)):
        known = x["origin"] <= t
        assert known.any() and (~known).any()
        pd.testing.assert_frame_equal(
            x.loc[known].drop(columns=["y_true", "y_count"]).reset_index(drop=True),
            y.loc[known].drop(columns=["y_true", "y_count"]).reset_index(drop=True),
            check_exact=True,
        )
        assert not np.array_equal(x.loc[~known, "p"], y.loc[~known, "p"])  # the change after t is real


def test_a_panel_kept_column_by_column_forecasts_as_one_kept_in_one_array():
    """The backtest copies the feature columns into one array laid out as pandas lays out a
    block: the linear models' products then round as they do on a consolidated panel."""
    panel = panel_of()
    by_column = pd.DataFrame({c: panel[c].to_numpy().copy() for c in panel.columns}, copy=False)
    assert by_column[FEATURES]._mgr.nblocks > 1  # the layout stages.build_feature_panel gives
    consolidated = panel.copy()
    assert consolidated[FEATURES]._mgr.nblocks == 1
    a, b = (together(p) for p in (by_column, consolidated))
    pd.testing.assert_frame_equal(a, b, check_exact=True)
