"""The backtest's refit cadence (backtest.refit_every): between refits the latest fit forecasts,
nothing after an origin reaches its forecast, baselines refit at every origin, and k = 1 is
the backtest as it was."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcast.errors import ConfigError
from riskcast.evaluation.backtest import fit_model, predict_frame, run_backtest
from riskcast.evaluation.splits import RollingOriginSplit
from riskcast.features.targets import count_column, target_column
from riskcast.models.baselines import Persistence
from riskcast.models.linear import LogisticCount
from riskcast.models.spec import refit_overrides

N_UNITS, N_MONTHS, H = 6, 60, 1
KW = dict(min_train_months=24, eval_months=12)


def panel_of(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    months = np.repeat(pd.date_range("2015-01", periods=N_MONTHS, freq="MS"), N_UNITS)
    units = np.tile([f"u{i}" for i in range(N_UNITS)], N_MONTHS)
    x = rng.normal(size=(len(months), 3))
    count = rng.poisson(np.exp(0.3 + 0.6 * x[:, 0]))
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(
        unit_id=units, unit_name=units, country="C", month=months, current=count
    )
    nxt = df.groupby("unit_id")["current"].shift(-H)  # the target: next month's count
    df[target_column("any", H)] = (nxt >= 1).astype(float).where(nxt.notna())
    df[count_column("any", H)] = nxt
    return df


MODELS = {"logistic": LogisticCount(C=0.1, columns=("a", "b", "c"))}


def test_between_refits_the_latest_fit_forecasts_the_newer_origins():
    panel = panel_of()
    preds = run_backtest(panel, ["a", "b", "c"], MODELS, (H,), refit_every=3, **KW)
    months = pd.DatetimeIndex(panel["month"])
    folds = list(RollingOriginSplit(H, **KW).split(panel, groups=months))
    y = panel[target_column("any", H)].to_numpy(float)
    c = panel[count_column("any", H)].to_numpy(float)
    for i, (_, test) in enumerate(folds):
        train = folds[i - i % 3][0]  # the fit of the latest refit origin (0, 3, 6, 9)
        train = train[~np.isnan(y[train])]
        est = fit_model(
            MODELS["logistic"], panel.iloc[train][["a", "b", "c"]], y[train], c[train], months[train], H
        )
        want = predict_frame(est, panel.iloc[test][["a", "b", "c"]])["p"]
        got = preds[preds["origin"] == months[test][0]].sort_values("unit_id")["p"].to_numpy()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=f"origin {i}")


def test_nothing_after_an_origin_reaches_its_forecast_between_refits():
    """Rows after month t replaced by noise (features and targets): every forecast made at an
    origin <= t is unchanged, although most of them come from a fit made months earlier."""
    a = panel_of(0)
    t = pd.Timestamp("2019-06")
    b = a.copy()
    later = b["month"] > t
    noise = panel_of(99)
    for col in ["a", "b", "c", "current", target_column("any", H), count_column("any", H)]:
        b.loc[later, col] = noise.loc[later, col]
    # the targets of rows <= t whose month t' + h is after t are not known at t either
    unknown = (b["month"] + pd.DateOffset(months=H)) > t
    b.loc[unknown, target_column("any", H)] = noise.loc[unknown, target_column("any", H)]
    pa, pb = (run_backtest(p, ["a", "b", "c"], MODELS, (H,), refit_every=4, **KW) for p in (a, b))
    known = pa["origin"] <= t
    assert known.sum() > 0 and (~known).sum() > 0
    cols = ["unit_id", "origin", "p", "expected_count", "q10", "q90"]
    pd.testing.assert_frame_equal(
        pa.loc[known, cols].reset_index(drop=True), pb.loc[known, cols].reset_index(drop=True)
    )
    assert not pa.loc[~known, "p"].equals(pb.loc[~known, "p"])  # the noise after t is real


def test_baselines_refit_at_every_origin_and_k1_is_the_plain_backtest():
    panel = panel_of()
    models = {**MODELS, "persistence": Persistence(column="current")}
    every = run_backtest(panel, ["a", "b", "c", "current"], models, (H,), **KW)
    sparse = run_backtest(panel, ["a", "b", "c", "current"], models, (H,), refit_every=6, **KW)
    base = lambda d: d[d["model"] == "persistence"].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(base(every), base(sparse))  # the reference does not move
    assert not every[every["model"] == "logistic"]["p"].equals(
        sparse[sparse["model"] == "logistic"]["p"].reset_index(drop=True)
    )
    timings: dict = {}
    again = run_backtest(
        panel, ["a", "b", "c", "current"], models, (H,), refit_every=1, timings=timings, **KW
    )
    pd.testing.assert_frame_equal(every, again)
    assert set(timings) == set(models) and all(s > 0 for s in timings.values())
    with pytest.raises(ValueError, match="refit_every"):
        run_backtest(panel, ["a", "b", "c"], MODELS, (H,), refit_every=0, **KW)


def test_a_model_may_keep_a_cadence_of_its_own(tmp_path):
    panel = panel_of()
    models = {"a": MODELS["logistic"], "b": LogisticCount(C=0.1, columns=("a", "b", "c"))}
    got = run_backtest(panel, ["a", "b", "c"], models, (H,), refit_every=6, refit_overrides={"b": 1}, **KW)
    plain = run_backtest(panel, ["a", "b", "c"], {"b": models["b"]}, (H,), **KW)
    b = got[got["model"] == "b"].reset_index(drop=True)
    pd.testing.assert_frame_equal(b, plain)  # "b" refitted at every origin
    assert not got[got["model"] == "a"]["p"].reset_index(drop=True).equals(b["p"])
    # in a model set file: refit_every = k on the model's table, checked
    good = tmp_path / "set.toml"
    good.write_text(
        '[[models]]\nname = "climatology"\nmodel = "Climatology"\n\n[[models]]\nname = "lgbm"\nmodel = "LGBMHurdle"\nrefit_every = 2\n'
    )
    assert refit_overrides(good) == {"lgbm": 2}
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text().replace("refit_every = 2", "refit_every = 0"))
    with pytest.raises(ConfigError, match="refit_every") as err:
        refit_overrides(bad)
    assert "models[1].refit_every" in str(err.value)
