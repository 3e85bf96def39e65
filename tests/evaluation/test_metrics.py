from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scoringrules as sr

from riskcast.evaluation.metrics import (
    METRICS,
    expected_calibration_error,
    rank_scores_by_group,
    reliability_table,
    score_predictions,
    weighted_rank_scores,
)


def _preds(y, p_model, p_clim, **extra):
    n = len(y)
    base = pd.DataFrame(
        {
            "unit_id": [f"U{i}" for i in range(n)],
            "origin": "2020-01",
            "horizon": 1,
            "y_true": y,
            "y_count": y,
            "expected_count": np.nan,
            **extra,
        }
    )
    return pd.concat(
        [base.assign(model="logistic", p=p_model), base.assign(model="climatology", p=p_clim)],
        ignore_index=True,
    )


def test_metrics_beside_the_reference_on_the_same_rows():
    y = np.array([0, 1, 0, 1, 1, 0], dtype=float)
    m = score_predictions(_preds(y, y * 0.8 + 0.1, np.full(6, 0.5))).set_index(["model", "metric"])
    assert m.loc[("logistic", "auroc"), "value"] == 1.0
    assert abs(m.loc[("climatology", "brier"), "value"] - 0.25) < 1e-12
    assert abs(m.loc[("climatology", "brier_skill_vs_climatology"), "value"]) < 1e-12
    assert abs(m.loc[("logistic", "brier_skill_vs_climatology"), "value"] - (1 - 0.01 / 0.25)) < 1e-9
    assert (m["n"] == 6).all()


def test_undefined_metric_is_reported_not_dropped():
    y = np.zeros(5)
    m = score_predictions(_preds(y, np.full(5, 0.1), np.full(5, 0.2))).set_index(["model", "metric"])
    assert set(m.loc["logistic"].index) == set(METRICS)  # every metric listed, defined or not
    row = m.loc[("logistic", "auroc")]
    assert np.isnan(row["value"]) and "only one class" in row["note"]
    assert (
        np.isnan(m.loc[("logistic", "aupr"), "value"])
        and "only one class" in m.loc[("logistic", "aupr"), "note"]
    )
    assert m.loc[("logistic", "mae_log1p_count"), "note"] == "model gives no count forecast"
    assert m.loc[("logistic", "crps_count"), "note"] == "no q10/q50/q90 columns in the predictions"
    assert np.isnan(m.loc[("logistic", "coverage_10_90"), "value"])
    assert m.loc[("logistic", "brier"), "value"] == pytest.approx(0.01)  # the rest is still scored


def test_ece_by_hand():
    # bins of width 0.1: {0.05 | y=0}, {0.15, 0.12 | y=0, 1}, {0.95 | y=1}
    y, p = np.array([0, 0, 1, 1.0]), np.array([0.05, 0.15, 0.12, 0.95])
    by_hand = 1 / 4 * 0.05 + 2 / 4 * abs(0.135 - 0.5) + 1 / 4 * 0.05  # = 0.2075
    assert expected_calibration_error(y, p) == pytest.approx(by_hand)
    m = score_predictions(_preds(y, p, np.full(4, 0.5))).set_index(["model", "metric"])
    assert m.loc[("logistic", "ece"), "value"] == pytest.approx(0.2075)
    assert m.loc[("climatology", "ece"), "value"] == pytest.approx(0.0)  # 0.5 forecast, rate 0.5
    assert expected_calibration_error([1.0], [1.0]) == 0.0  # p = 1 falls in the last bin


def test_reliability_table_counts_sum_to_n():
    rng = np.random.default_rng(0)
    y = (rng.random(200) < 0.3).astype(float)
    preds = _preds(y, rng.random(200), np.full(200, 0.3))
    t = reliability_table(preds)
    assert list(t.columns[:3]) == ["model", "horizon", "bin"]
    assert (t.groupby("model")["n"].sum() == 200).all()
    assert len(t) == 2 * 10 and t.loc[t["n"] == 0, "p_mean"].isna().all()
    clim = t[(t["model"] == "climatology") & (t["n"] > 0)]
    assert clim["bin"].tolist() == [3] and clim["y_rate"].iloc[0] == pytest.approx(y.mean())


def test_crps_and_coverage_against_scoringrules():
    y = np.array([0, 1, 0, 1, 1, 0], dtype=float)
    count = np.array([0, 3, 0, 1, 7, 0], dtype=float)
    q = np.array([[0, 0, 1], [0, 1, 2], [0, 0, 0], [1, 1, 3], [0, 2, 5], [1, 2, 4]], dtype=float)
    preds = _preds(y, np.full(6, 0.5), np.full(6, 0.5), q10=q[:, 0], q50=q[:, 1], q90=q[:, 2])
    preds["y_count"] = np.tile(count, 2)
    m = score_predictions(preds).set_index(["model", "metric"])
    direct = sr.crps_quantile(count, q, np.array([0.1, 0.5, 0.9]), backend="numpy").mean()
    assert m.loc[("logistic", "crps_count"), "value"] == pytest.approx(direct)
    # row 2 by hand: y = 3 above all of (0, 1, 2): pinball 0.1*3 + 0.5*2 + 0.9*1 = 2.2; CRPS = 2 * 2.2 / 3
    one = _preds(y[1:2], [0.5], [0.5], q10=[0.0], q50=[1.0], q90=[2.0]).assign(y_count=3.0)
    assert score_predictions(one).set_index(["model", "metric"]).loc[
        ("logistic", "crps_count"), "value"
    ] == pytest.approx(2 * 2.2 / 3)
    # closed interval [q10, q90]: 0 in [0, 1], 0 in [0, 0] and 1 in [1, 3] are covered; 3, 7 and 0 (< q10 = 1) are not
    inside = (count >= q[:, 0]) & (count <= q[:, 2])
    assert inside.tolist() == [True, False, True, True, False, False]
    assert m.loc[("logistic", "coverage_10_90"), "value"] == pytest.approx(0.5)


def test_missing_quantiles_of_one_model_are_noted():
    y = np.array([0, 1.0])
    preds = _preds(y, [0.2, 0.8], [0.5, 0.5], q10=0.0, q50=0.0, q90=1.0)
    preds.loc[preds["model"] == "logistic", ["q10", "q50", "q90"]] = np.nan
    m = score_predictions(preds).set_index(["model", "metric"])
    assert m.loc[("logistic", "crps_count"), "note"] == "model gives no quantile forecast"
    assert m.loc[("climatology", "coverage_10_90"), "value"] == 1.0


def test_grouping_by_country_and_unit_adds_up():
    rng = np.random.default_rng(3)
    n = 60
    y = (rng.random(n) < 0.4).astype(float)
    preds = _preds(y, rng.random(n), np.full(n, 0.4), country=np.where(np.arange(n) < 20, "Mali", "Niger"))
    overall = score_predictions(preds).set_index(["model", "metric"])
    per_c = score_predictions(preds, by=("horizon", "country"))
    assert list(per_c.columns) == ["model", "horizon", "country", "metric", "value", "n", "note"]
    brier = per_c[per_c["metric"] == "brier"]
    for model, g in brier.groupby("model"):  # n-weighted mean of the groups = overall Brier
        assert (g["value"] * g["n"]).sum() / g["n"].sum() == pytest.approx(
            overall.loc[(model, "brier"), "value"]
        )
        assert g["n"].sum() == n
    per_u = score_predictions(preds, by=("horizon", "unit_id"))
    auroc = per_u[(per_u["metric"] == "auroc")]
    assert len(auroc) == 2 * n and auroc["value"].isna().all()  # one row per unit: one class each, NaN kept
    # skill per group uses the reference's rows in that group only
    g = per_c[(per_c["model"] == "logistic") & (per_c["metric"] == "brier_skill_vs_climatology")].set_index(
        "country"
    )["value"]
    mali = preds[(preds["country"] == "Mali")]
    b = ((mali["p"] - mali["y_true"]) ** 2).groupby(mali["model"]).mean()
    assert g["Mali"] == pytest.approx(1 - b["logistic"] / b["climatology"])


def test_skill_is_undefined_where_the_reference_is_missing():
    y = np.array([0, 1, 0, 1.0])
    preds = _preds(y, [0.1, 0.9, 0.2, 0.7], [0.5] * 4)
    preds = preds.drop(index=preds.index[(preds["model"] == "climatology") & (preds["unit_id"] == "U0")])
    m = score_predictions(preds).set_index(["model", "metric"])
    row = m.loc[("logistic", "brier_skill_vs_climatology")]
    assert np.isnan(row["value"]) and row["note"] == "undefined: climatology forecast missing for 1 of 4 rows"


@pytest.mark.parametrize("max_cells", [12_000, 2**23])  # batches of a few groups, or of all
@pytest.mark.parametrize("weighted", [False, True])
def test_rank_scores_of_all_groups_at_once_are_each_groups_own(weighted, max_cells):
    """Batched groups (one size, no tied scores) and the one-by-one rest, against
    weighted_rank_scores group by group on the rows sorted by score, to the bit."""
    rng = np.random.default_rng(7)
    sizes = [29] * 40 + [12] * 7 + [29] * 5 + [3, 1] + [300] * 4  # past numpy's pairwise-sum block
    group = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(group)
    n = len(group)
    y = (rng.random(n) < 0.3).astype(float)
    p = rng.random(n)
    tied = np.isin(group, [3, 8, 41, 44])  # a baseline's few distinct values
    p[tied] = np.round(p[tied], 1)
    y[group == 5] = 0.0  # one class: undefined
    group[rng.random(n) < 0.01] = -1  # rows of no group are left out
    month = rng.integers(0, 29, n)
    counts = rng.poisson(1.0, size=(60, 29)).astype(float) if weighted else None
    got = rank_scores_by_group(
        y, p, group, len(sizes), counts, None if counts is None else month, max_cells=max_cells
    )
    for g in range(len(sizes)):
        rows = np.flatnonzero(group == g)
        rows = rows[np.argsort(-p[rows], kind="stable")]
        w = np.ones((1, len(rows))) if counts is None else counts[:, month[rows]]
        want = weighted_rank_scores(y[rows], p[rows], w)
        for m in ("auroc", "aupr"):
            np.testing.assert_array_equal(got[m][g], want[m], err_msg=f"group {g} {m}")
