from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from riskcast.evaluation import bootstrap
from riskcast.evaluation.bootstrap import bootstrap_scores, month_resamples, paired_brier_difference
from riskcast.evaluation.metrics import rank_scores, score_predictions, weighted_rank_scores


def _preds(n_months: int, n_units: int = 30, seed: int = 0, horizons=(1,)) -> pd.DataFrame:
    """A skilful model and climatology, with count quantiles; month-level shocks make months matter."""
    rng = np.random.default_rng(seed)
    frames = []
    for h in horizons:
        for m in pd.date_range("2018-01-01", periods=n_months, freq="MS"):
            rate = np.clip(0.3 + rng.normal(0, 0.1), 0.05, 0.9)
            y = (rng.random(n_units) < rate).astype(float)
            count = y * rng.integers(1, 6, n_units)
            base = pd.DataFrame(
                {
                    "unit_id": [f"U{i}" for i in range(n_units)],
                    "origin": m,
                    "horizon": h,
                    "y_true": y,
                    "y_count": count,
                    "expected_count": 1.0,
                    "q10": 0.0,
                    "q50": 1.0,
                    "q90": 3.0,
                }
            )
            skill = np.clip(0.3 + 0.4 * (y - 0.3) + rng.normal(0, 0.2, n_units), 0.01, 0.99)
            frames += [base.assign(model="logistic", p=skill), base.assign(model="climatology", p=0.3)]
    return pd.concat(frames, ignore_index=True)


def test_point_estimate_is_score_predictions_and_inside_its_ci():
    preds = _preds(24)
    b = bootstrap_scores(preds, n_boot=100, seed=1)
    s = score_predictions(preds)
    assert list(b.columns) == ["model", "horizon", "metric", "value", "ci_low", "ci_high", "n", "note"]
    merged = b.merge(s, on=["model", "horizon", "metric"], suffixes=("", "_point"))
    assert np.allclose(merged["value"], merged["value_point"], equal_nan=True)
    ok = b.dropna(subset=["value"])
    assert ((ok["ci_low"] <= ok["value"] + 1e-12) & (ok["value"] <= ok["ci_high"] + 1e-12)).all()
    assert (
        ok[ok["model"] == "logistic"].set_index("metric").loc["brier", "ci_high"]
        > ok.set_index(["model", "metric"]).loc[("logistic", "brier"), "ci_low"]
    )


def test_resamples_equal_a_recompute_on_duplicated_months():
    """The weighted shortcuts (sums for Brier/ECE/CRPS, row weights for AUROC) against the obvious
    oracle: rebuild each resample's rows, a month drawn twice appearing twice, and rescore them."""
    preds = _preds(6, n_units=10, seed=4)
    counts = month_resamples(6, 3, seed=7, horizon=1)
    months = sorted(preds["origin"].unique())
    oracle = []
    for r in range(3):
        rows = pd.concat(
            [preds[preds["origin"] == m] for m, c in zip(months, counts[r]) for _ in range(int(c))]
        )
        copy = rows.groupby(["model", "unit_id", "origin"]).cumcount().astype(str)
        oracle.append(
            score_predictions(rows.assign(unit_id=rows["unit_id"] + "_" + copy)).set_index(
                ["model", "metric"]
            )["value"]
        )
    oracle = pd.concat(oracle, axis=1)
    b = bootstrap_scores(preds, n_boot=3, seed=7, level=0.5).set_index(["model", "metric"])
    for metric in (
        "brier",
        "brier_skill_vs_climatology",
        "ece",
        "crps_count",
        "coverage_10_90",
        "auroc",
        "aupr",
    ):
        vals = oracle.loc[("logistic", metric)].to_numpy()
        assert b.loc[("logistic", metric), "ci_low"] == pytest.approx(np.percentile(vals, 25)), metric
        assert b.loc[("logistic", metric), "ci_high"] == pytest.approx(np.percentile(vals, 75)), metric


def test_deterministic_with_a_seed():
    preds = _preds(12)
    a = bootstrap_scores(preds, n_boot=50, seed=3)
    pd.testing.assert_frame_equal(a, bootstrap_scores(preds, n_boot=50, seed=3))
    c = bootstrap_scores(preds, n_boot=50, seed=4)
    assert not np.allclose(a["ci_low"].fillna(0), c["ci_low"].fillna(0))


def test_interval_narrows_with_more_months():
    def width(n_months):
        b = bootstrap_scores(_preds(n_months, seed=5), n_boot=200, seed=0, metrics=("brier", "auroc"))
        row = b.set_index(["model", "metric"]).loc[("logistic", "brier")]
        return row["ci_high"] - row["ci_low"]

    assert width(48) < width(12)


def test_paired_difference_sign_and_ci():
    preds = _preds(24)
    d = paired_brier_difference(preds, n_boot=100, seed=0)
    assert list(d.columns) == ["model", "horizon", "metric", "value", "ci_low", "ci_high", "n", "note"]
    assert d["model"].tolist() == ["logistic"] and d["metric"].iloc[0] == "brier_minus_climatology"
    s = score_predictions(preds).set_index(["model", "metric"])["value"]
    assert d["value"].iloc[0] == pytest.approx(s[("logistic", "brier")] - s[("climatology", "brier")])
    assert d["ci_high"].iloc[0] < 0  # the skilful model beats climatology beyond the month noise
    # a model worse than the reference: the difference is positive
    worse = preds.copy()
    worse.loc[worse["model"] == "logistic", "p"] = 1 - worse.loc[worse["model"] == "logistic", "p"]
    assert paired_brier_difference(worse, n_boot=20)["ci_low"].iloc[0] > 0


def test_undefined_point_has_no_interval_and_resample_gaps_are_noted():
    preds = _preds(12)
    preds.loc[preds["model"] == "logistic", ["q10", "q50", "q90"]] = np.nan
    # one month with the only positive outcomes: resamples without it have one class
    preds["y_true"] = 0.0
    first = preds["origin"] == preds["origin"].min()
    preds.loc[first & (preds["unit_id"] == "U0"), "y_true"] = 1.0
    b = bootstrap_scores(preds, n_boot=100, seed=0).set_index(["model", "metric"])
    crps = b.loc[("logistic", "crps_count")]
    assert (
        np.isnan(crps["value"])
        and np.isnan(crps["ci_low"])
        and crps["note"] == "model gives no quantile forecast"
    )
    auroc = b.loc[("logistic", "auroc")]
    assert np.isfinite(auroc["value"]) and "resamples undefined, CI from the rest" in auroc["note"]


def test_horizons_draw_their_own_months_and_by_country_works():
    preds = _preds(12, horizons=(1, 3))
    preds["country"] = np.where(preds["unit_id"].str[1:].astype(int) < 15, "Mali", "Niger")
    b = bootstrap_scores(preds, by=("horizon", "country"), metrics=("brier", "base_rate"), n_boot=30)
    assert set(b["horizon"]) == {1, 3} and set(b["country"]) == {"Mali", "Niger"} and len(b) == 2 * 2 * 2 * 2
    with pytest.raises(ValueError, match="must include 'horizon'"):
        bootstrap_scores(preds, by=("country",))


def _sklearn_rank(y, p, w=None):
    """The previous implementation of one resample: scikit-learn with the counts as sample weights."""
    if np.sum(y * (1 if w is None else w)) <= 0 or np.sum((1 - y) * (1 if w is None else w)) <= 0:
        return np.nan, np.nan
    return roc_auc_score(y, p, sample_weight=w), average_precision_score(y, p, sample_weight=w)


@pytest.mark.parametrize("decimals", [1, 2, None])
def test_weighted_rank_scores_equal_sklearn_with_ties_and_zero_weights(decimals):
    rng = np.random.default_rng(decimals or 0)
    n = 300
    y = (rng.random(n) < 0.3).astype(float)
    p = np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(0, 0.2, n), 0, 1)
    p = p if decimals is None else p.round(decimals)  # one decimal: ~11 distinct scores, heavy ties
    w = rng.integers(0, 4, size=(60, n)).astype(float)  # about a quarter of the weights are 0
    w[0] = 0.0
    w[0, :5] = 1.0  # a few rows only
    w[1] = w[1] * (y == 0)  # no positive weight: one class
    w[2] = w[2] * (y == 1)  # no negative weight: one class
    got = weighted_rank_scores(y, p, w)
    expected = np.array([_sklearn_rank(y, p, w[b]) for b in range(len(w))])
    assert np.isnan(got["auroc"][1:3]).all() and np.isnan(got["aupr"][1:3]).all()
    np.testing.assert_allclose(got["auroc"], expected[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["aupr"], expected[:, 1], rtol=0, atol=1e-12)
    # unweighted (the point estimate) and one weighting through rank_scores
    assert np.allclose(list(rank_scores(y, p).values()), _sklearn_rank(y, p), rtol=0, atol=1e-12)
    assert np.allclose(list(rank_scores(y, p, w[5]).values()), _sklearn_rank(y, p, w[5]), rtol=0, atol=1e-12)


def test_rank_scores_edge_cases():
    assert np.isnan(list(rank_scores(np.zeros(0), np.zeros(0)).values())).all()
    assert rank_scores(np.array([0.0, 1.0]), np.array([0.5, 0.5])) == {"auroc": 0.5, "aupr": 0.5}
    with pytest.raises(ValueError, match="NaN or infinite"):
        rank_scores(np.array([0.0, 1.0]), np.array([0.1, np.nan]))


def test_rank_intervals_equal_the_per_resample_sklearn_loop(monkeypatch):
    """The vectorised AUROC/AUPR resamples against the previous implementation (sklearn per resample),
    with tied scores, two horizons, a group with one-class resamples, and the resamples split in blocks."""
    preds = _preds(10, n_units=12, seed=2, horizons=(1, 2))
    preds["p"] = preds["p"].round(1)
    # horizon 2: positives only in the first month, so resamples without it are undefined
    h2 = preds["horizon"] == 2
    preds.loc[h2, "y_true"] = 0.0
    preds.loc[h2 & (preds["origin"] == preds["origin"].min()) & (preds["unit_id"] < "U3"), "y_true"] = 1.0
    n_boot, seed = 40, 5
    monkeypatch.setattr(bootstrap, "_MAX_CELLS", 7 * 120)  # 7 resamples per block: blocks of unequal size
    b = bootstrap_scores(preds, n_boot=n_boot, seed=seed).set_index(["model", "horizon", "metric"])
    months = sorted(preds["origin"].unique())
    for (model, h), g in preds.groupby(["model", "horizon"]):
        counts = month_resamples(len(months), n_boot, seed, h)
        w = counts[:, [months.index(m) for m in g["origin"]]]
        y, p = g["y_true"].to_numpy(float), g["p"].to_numpy(float)
        oracle = np.array([_sklearn_rank(y, p, w[r]) for r in range(n_boot)])
        for j, metric in enumerate(("auroc", "aupr")):
            row = b.loc[(model, h, metric)]
            lo, hi = np.nanpercentile(oracle[:, j], [2.5, 97.5])
            assert row["ci_low"] == pytest.approx(lo, abs=1e-12) and row["ci_high"] == pytest.approx(
                hi, abs=1e-12
            )
            undefined = int(np.isnan(oracle[:, j]).sum())
            assert (f"{undefined} of {n_boot} resamples undefined" in row["note"]) == (undefined > 0)
    assert "resamples undefined" in b.loc[("logistic", 2, "auroc"), "note"]


def test_percentiles_of_all_columns_at_once_are_nanpercentiles_column_by_column():
    rng = np.random.default_rng(2)
    array = rng.normal(size=(40, 200, 6))
    array[rng.random(array.shape) < 0.002] = np.nan  # a few undefined resamples
    array[3, :, 2] = np.nan  # a column with no defined resample at all
    want = np.array(
        [[np.nanpercentile(array[g, :, m], [2.5, 97.5]) if not np.isnan(array[g, :, m]).all() else [np.nan] * 2
          for m in range(6)] for g in range(40)]
    ).transpose(2, 0, 1)  # fmt: skip
    np.testing.assert_array_equal(bootstrap._percentiles(array, [2.5, 97.5]), want)
