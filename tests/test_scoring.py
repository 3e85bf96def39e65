"""The score table: columns, tiers, top features and provenance; written atomically by suffix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from riskcast.models.contributions import top_contributions
from riskcast.scoring import SCORE_COLUMNS, assign_tiers, score_month, write_scores
from riskcast.tracking.bundle import ForecastBundle
from tests.tracking._models import FEATURES, BareModel, ContractModel, tiny_panel

TIERS = [("very high", 0.8), ("high", 0.5), ("medium", 0.2), ("low", 0.0)]


@pytest.fixture
def month_rows():
    panel = tiny_panel()
    return panel, panel[panel["month"] == panel["month"].max()]


@pytest.fixture
def bundle(month_rows):
    panel, _ = month_rows
    model = ContractModel(columns=("a", "b", "c")).fit(panel[FEATURES], panel["y"])
    return ForecastBundle({1: model, 3: BareModel(p=0.55)}, FEATURES, "contract")


def _score(bundle, rows, **kw):
    return score_month(
        bundle, rows, as_of="2021-12", model_name="riskcast", model_version=7, data_hash="abc", **kw
    )


def test_score_table_columns_rows_and_provenance(bundle, month_rows):
    _, rows = month_rows
    scores = _score(bundle, rows)
    assert list(scores.columns) == SCORE_COLUMNS
    assert len(scores) == 2 * len(rows)
    assert set(scores["unit_id"]) == set(rows["unit_id"])
    assert (scores["as_of"] == "2021-12").all()
    assert dict(zip(scores["horizon"], scores["target_month"])) == {1: "2022-01", 3: "2022-03"}
    assert (scores[["model", "model_version", "data_hash"]] == ["riskcast", "7", "abc"]).all().all()
    h1 = scores[scores["horizon"] == 1]
    assert list(h1["p"]) == sorted(h1["p"], reverse=True)
    # Values are the bundle's, unit by unit.
    expected = bundle.forecast(rows).set_index(rows["unit_id"])
    got = h1.set_index("unit_id").loc[expected.index]
    np.testing.assert_allclose(got["p"], expected["p_h1"])
    np.testing.assert_allclose(got[["q10", "q50", "q90"]], expected[["q10_h1", "q50_h1", "q90_h1"]])
    h3 = scores[scores["horizon"] == 3]
    assert h3[["expected_count", "q10", "q50", "q90"]].isna().all().all() and (h3["top_features"] == "").all()


def test_tiers_follow_the_cuts(bundle, month_rows):
    _, rows = month_rows
    scores = _score(bundle, rows, tiers=TIERS)
    for p, tier in zip(scores["p"], scores["tier"]):
        assert tier == next(name for name, cut in TIERS if p >= cut)
    assert (scores.loc[scores["horizon"] == 3, "tier"] == "high").all()  # p = 0.55
    assert list(assign_tiers([0.0, 0.2, 0.5, 0.79, 0.8, 1.0], TIERS)) == [
        "low",
        "medium",
        "high",
        "high",
        "very high",
        "very high",
    ]
    with pytest.raises(ValueError, match=r"tiers must cover p = 0: the lowest cut is 0.1"):
        assign_tiers([0.5], [("high", 0.5), ("low", 0.1)])
    with pytest.raises(ValueError, match=r"tier cuts must lie in \[0, 1\]"):
        _score(bundle, rows, tiers=[("x", 1.5), ("low", 0.0)])


def test_top_features_are_the_largest_contributions(bundle, month_rows):
    _, rows = month_rows
    scores = _score(bundle, rows, top_k=2).query("horizon == 1").set_index("unit_id")
    contrib = bundle.models[1].contributions(rows[FEATURES]).set_axis(rows["unit_id"])
    expected = dict(zip(contrib.index, top_contributions(contrib, 2)))
    assert scores["top_features"].to_dict() == expected
    unit = contrib.index[0]
    c = contrib.loc[unit].drop("bias")
    top = c.abs().sort_values(ascending=False, kind="stable").index[:2]
    assert expected[unit] == "; ".join(f"{f} {c[f]:+.2f}" for f in top)


def test_bad_scoring_input_is_refused(bundle, month_rows):
    panel, rows = month_rows
    with pytest.raises(ValueError, match=r"months other than as_of 2021-12: \['2021-11'\]"):
        _score(bundle, panel[panel["month"] >= "2021-11"])
    with pytest.raises(ValueError, match=r"lacks the id columns \['unit_name'\]"):
        _score(bundle, rows.drop(columns="unit_name"))
    with pytest.raises(ValueError, match="several rows for units"):
        _score(bundle, pd.concat([rows, rows.head(1)]))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_write_scores_by_suffix(bundle, month_rows, tmp_path, suffix):
    scores = _score(bundle, month_rows[1])
    path = write_scores(scores, tmp_path / "out" / f"scores{suffix}")
    assert [p.name for p in path.parent.iterdir()] == [f"scores{suffix}"]  # no temp file left
    if suffix == ".csv":
        back = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"model_version": str})
        back["top_features"] = back["top_features"].fillna("")
    elif suffix == ".parquet":
        back = pd.read_parquet(path)
    else:
        records = json.loads(path.read_text())
        assert len(records) == len(scores) and records[-1]["q10"] is None  # NaN -> null
        back = pd.DataFrame(records).astype({"model_version": str})
    pd.testing.assert_frame_equal(back, scores, check_dtype=False)


def test_failed_write_leaves_the_existing_file(bundle, month_rows, tmp_path, monkeypatch):
    target = tmp_path / "scores.csv"
    target.write_text("old\n")

    def half_write(self, path, **kw):
        open(path, "w").write("unit_id,p\nU0,")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_write)
    with pytest.raises(OSError, match="disk full"):
        write_scores(_score(bundle, month_rows[1]), target)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]
    with pytest.raises(ValueError, match=r"unknown score file suffix '.xlsx'"):
        write_scores(pd.DataFrame(), tmp_path / "scores.xlsx")
    assert not (tmp_path / "scores.xlsx").exists()


# --- what moved the forecast since last month -------------------------------------------


def test_explain_change_splits_the_logit_change(bundle, month_rows):
    from riskcast.reporting.drivers import parse_top_features
    from riskcast.scoring import explain_change

    panel, now = month_rows
    before = panel[panel["month"] == panel["month"].max() - pd.DateOffset(months=1)]
    ch = explain_change(bundle, now, before.iloc[1:], horizon=1, top_k=3).set_index("unit_id")
    assert list(ch.index) == list(now["unit_id"])
    first = before["unit_id"].iloc[0]  # missing from the month before: no change to explain
    assert np.isnan(ch.loc[first, "p_before"]) and ch.loc[first, "changes"] == ""
    model = bundle.models[1]
    for uid in now["unit_id"]:
        if uid == first:
            continue
        pb = model.predict_proba(before[before["unit_id"] == uid][FEATURES])[0, 1]
        pn = model.predict_proba(now[now["unit_id"] == uid][FEATURES])[0, 1]
        assert np.isclose(ch.loc[uid, "p_before"], pb) and np.isclose(ch.loc[uid, "p_now"], pn)
        # with all three features listed, the changes add up to the change in log-odds
        moves = parse_top_features(ch.loc[uid, "changes"])
        assert len(moves) == 3
        logit = np.log(pn / (1 - pn)) - np.log(pb / (1 - pb))
        assert abs(sum(v for _, v in moves) - logit) < 0.02  # two-decimal text
    # a model without contributions explains nothing, but still gives both forecasts
    bare = explain_change(bundle, now, before, horizon=3)
    assert (bare["changes"] == "").all() and np.allclose(bare["p_before"], 0.55)


def test_explain_change_words():
    from riskcast.reporting.drivers import explain_change_row

    moves = explain_change_row(
        "n_target_lag1 +0.30",
        {"n_target_lag1": 5.0},
        {"n_target_lag1": 1.0},
        {"n_target_lag1": "target events one month before"},
    )
    ((driver, was),) = moves
    assert driver.direction == "up" and "5" in driver.sentence and "1" in was
