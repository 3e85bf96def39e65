"""The report's first page, on small hand-made tables: the watch list, the split by event type,
the trust line's hit rate and its interval, last month's forecast against what happened, and the
pivoted backtest tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcast.evaluation.bootstrap import month_resamples as evaluation_resamples
from riskcast.reporting.frontpage import (
    event_type_split,
    last_month,
    month_label,
    recent_actors,
    rising_in_record,
    short_month,
    watch_list,
)
from riskcast.reporting.intensity import short_label
from riskcast.reporting.tables import backtest_tables
from riskcast.reporting.trust import month_resamples, trust_line, trust_sentence

AS_OF = "2019-06"


def panel_of(history: dict[str, list[float]], end: str = AS_OF) -> pd.DataFrame:
    """A panel with the given monthly counts per unit, the last value in month ``end``."""
    rows = []
    for uid, counts in history.items():
        months = pd.period_range(end=end, periods=len(counts), freq="M")
        rows += [
            {"unit_id": uid, "month": m.to_timestamp(), "n_target": c, "n_fatalities": 2 * c}
            for m, c in zip(months, counts)
        ]
    return pd.DataFrame(rows)


def scores_of(expected: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "unit_id": u,
                "unit_name": u.title(),
                "country": "Mali",
                "as_of": AS_OF,
                "target_month": "2019-07",
                "horizon": 1,
                "p": 0.9,
                "expected_count": e,
                "q10": max(e - 2, 0),
                "q90": e + 3,
            }
            for u, e in expected.items()
        ]
    )


def test_months_are_named():
    assert month_label("2025-01") == "January 2025" and month_label(pd.Timestamp("2019-06-15")) == "June 2019"
    assert short_month("2025-02") == "Feb 2025"
    assert short_label("at least 5 attacks in the month") == "at least 5 attacks"
    assert short_label("escalation: attacks above 2 times the unit's mean") == "escalation"


def test_watch_list_ranks_rises_against_the_units_own_average():
    panel = panel_of({"busy": [10] * 12, "rising": [1] * 12, "quiet": [0] * 12, "falling": [8] * 12})
    scores = scores_of({"busy": 15.0, "rising": 4.0, "quiet": 0.4, "falling": 3.0})
    w = watch_list(scores, panel, horizon=1, n=10)
    # rising: (4+1)/(1+1) = 2.5 beats busy: 16/11; quiet (under one attack) and falling are left out
    assert list(w["unit_id"]) == ["rising", "busy"]
    assert w.loc[0, "avg12"] == pytest.approx(1.0) and w.loc[0, "ratio"] == pytest.approx(2.5)
    assert w.loc[0, "deaths12"] == pytest.approx(2.0)
    assert list(watch_list(scores, panel, horizon=1, n=1)["unit_id"]) == ["rising"]


def test_rising_in_the_record_names_what_the_forecast_misses():
    panel = panel_of({"a": [1] * 9 + [6, 6, 6], "b": [5] * 12, "c": [1] * 9 + [4, 4, 4]})
    scores = scores_of({"a": 1.0, "b": 5.0, "c": 9.0})
    r = rising_in_record(scores, panel, horizon=1, n=5, exclude=["c"])
    assert list(r["unit_id"]) == ["a"] and r.loc[0, "avg3"] == pytest.approx(6.0)


def test_event_type_split_follows_the_units_own_mix_and_sums_to_the_forecast():
    types = ("Battles", "Explosions/Remote violence", "Violence against civilians")
    events = pd.DataFrame(
        {
            "unit_id": ["a"] * 4 + ["b"] + ["a"],
            "date": pd.to_datetime(["2019-05-01"] * 4 + ["2019-06-02"] + ["2017-01-01"]),
            "event_type": [
                "Battles",
                "Battles",
                "Violence against civilians",
                "Protests",
                "Battles",
                "Battles",
            ],
        }
    )
    order, rows = event_type_split(events, pd.Series({"a": 6.0, "b": 2.0, "z": 1.0}), AS_OF, types)
    assert order == ["Battles", "Violence against civilians"]  # types that occur, in the target's order
    a, b, z = rows
    assert [c[0] for c in a["cells"]] == pytest.approx([4.0, 2.0]) and a["n"] == 3  # protests, 2017 left out
    assert b["cells"][0] == (2.0, 1.0) and b["cells"][1] == (0.0, 0.0)
    assert z["n"] == 0 and z["cells"] == [None, None]


def test_recent_actors_are_named_shortly_without_civilians():
    events = pd.DataFrame(
        {
            "event_id": ["1", "2", "3", "4"],
            "unit_id": ["a"] * 4,
            "date": pd.to_datetime(["2019-06-01", "2019-05-01", "2019-04-01", "2018-01-01"]),
            "event_type": ["Violence against civilians", "Battles", "Battles", "Battles"],
            "actor1": [
                "JNIM: Group for Support of Islam and Muslims",
                "Dan Na Ambassagou",
                "JNIM: Group for Support of Islam and Muslims",
                "Old Group",
            ],
            "actor2": ["Civilians (Mali)", "Fulani Ethnic Militia (Mali)", None, None],
        }
    )
    got = recent_actors(events, ["a"], AS_OF, ("Battles", "Violence against civilians"), countries=["Mali"])
    assert got == {"a": [("JNIM", 2), ("Dan Na Ambassagou", 1), ("Fulani Ethnic Militia", 1)]}


def test_month_draw_is_the_backtests():
    assert np.array_equal(month_resamples(17, 50, 20240601, 3), evaluation_resamples(17, 50, 20240601, 3))


def _predictions(n_months: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k, origin in enumerate(pd.period_range("2018-01", periods=n_months, freq="M")):
        for u in range(8):
            p = rng.uniform()
            rows.append(
                {
                    "unit_id": f"u{u}",
                    "origin": str(origin),
                    "target_month": str(origin + 1),
                    "horizon": 1,
                    "model": "m",
                    "y_true": float(rng.uniform() < p),
                    "p": p,
                }
            )
    return pd.DataFrame(rows)


def test_trust_line_reads_the_skill_and_computes_the_hit_rate_with_its_interval():
    preds = _predictions()
    metrics = pd.DataFrame(
        [
            {"model": "m", "horizon": 1, "metric": "brier_skill_vs_climatology", "value": 0.08}
            | {"ci_low": 0.02, "ci_high": 0.13, "n": 96},
            {"model": "m", "horizon": 1, "metric": "coverage_10_90", "value": 0.9}
            | {"ci_low": 0.85, "ci_high": 0.94, "n": 96},
        ]
    )
    t = trust_line(metrics, preds, "m", 1, cut=0.5, n_boot=200, seed=7)
    attacks = preds[preds["y_true"] == 1]
    assert t["hit"]["value"] == pytest.approx((attacks["p"] >= 0.5).mean())
    assert t["hit"]["n"] == len(attacks)
    assert t["hit"]["lo"] <= t["hit"]["value"] <= t["hit"]["hi"] and t["hit"]["lo"] < t["hit"]["hi"]
    flagged = preds[preds["p"] >= 0.5]
    assert t["precision"] == pytest.approx(flagged["y_true"].mean())
    assert t["months"] == 12 and t["skill"]["value"] == 0.08
    words = trust_sentence(t, "region")
    assert "a Brier score 8.0 % lower (better) than each region's own recent rate of attacks" in words
    assert "(Brier skill over climatology +0.080, 95 % interval +0.020 to +0.130)." in words
    hit = f"{100 * t['hit']['value']:.0f} %"
    assert f"Of the {len(attacks)} region-months with an attack, {hit} (" in words
    assert "had been forecast at P \u2265 0.5" in words
    assert (
        f"{100 * t['precision']:.0f} % of the forecasts at P \u2265 0.5 were followed by an attack." in words
    )
    assert "Attack counts fell inside the forecast's 10-90 % range 90 % of the time (85 % to 94 %)." in words
    assert trust_line(metrics, preds, "other", 1, 0.5, 200, 7) is None
    assert trust_sentence(None, "region") == ""


def test_last_month_prefers_the_forecast_issued_then_and_names_the_largest_misses(tmp_path):
    panel = panel_of({"a": [0, 3], "b": [0, 20], "c": [0, 0]})
    names = pd.Series({"a": "Alpha", "b": "Bravo", "c": "Charlie"})
    preds = pd.DataFrame(
        {
            "unit_id": ["a", "b", "c"],
            "model": "m",
            "horizon": 1,
            "target_month": AS_OF,
            "expected_count": [3.0, 5.0, 4.0],
            "q10": [1, 2, 2],
            "q90": [6, 9, 7],
        }
    )
    got = last_month(tmp_path, preds, panel, "m", 1, AS_OF, names)
    assert got["month"] == "June 2019" and got["made"] == "May 2019" and "backtest" in got["source"]
    assert (got["forecast"], got["recorded"], got["inside"], got["n"]) == (12.0, 23, 1, 3)
    assert [m["name"] for m in got["misses"]] == ["Bravo", "Charlie"]  # 11 above its range, then 2 below
    issued = preds.assign(expected_count=[3.0, 19.0, 0.5], q10=[1, 15, 0], q90=[6, 25, 2], as_of="2019-05")
    (tmp_path / "scores_history").mkdir()
    issued.to_csv(tmp_path / "scores_history" / "scores_2019-05.csv", index=False)
    got = last_month(tmp_path, preds, panel, "m", 1, AS_OF, names)
    assert "issued" in got["source"] and got["inside"] == 3 and got["misses"] == []
    assert last_month(tmp_path / "none", None, panel, "m", 1, AS_OF, names) is None


def test_backtest_tables_put_the_registered_model_and_the_baselines_first_and_the_rest_in_the_appendix():
    rows = []
    for model in ("climatology", "persistence", "glm", "lgbm", "logistic"):
        for h in (1, 3):
            for metric, v in (("auroc", 0.8), ("brier_skill_vs_climatology", 0.05), ("base_rate", 0.6)):
                rows.append(
                    {"model": model, "horizon": h, "metric": metric, "value": v}
                    | {"ci_low": 0.01, "ci_high": 0.09, "n": 100}
                )
    t = backtest_tables(pd.DataFrame(rows), "glm", ["climatology", "persistence"])
    assert t["columns"] == ["AUROC", "Brier skill vs climatology (95 % interval)"]
    assert [g["horizon"] for g in t["main"]] == [1, 3] and t["main"][0]["base_rate"] == "0.60"
    assert [r["model"] for r in t["main"][0]["rows"]] == ["glm", "climatology", "persistence"]
    assert (
        t["main"][0]["rows"][0]["registered"]
        and t["main"][0]["rows"][0]["cells"][1] == "0.050 [0.010, 0.090]"
    )
    assert [r["model"] for r in t["appendix"][1]["rows"]] == ["lgbm", "logistic"]
    assert backtest_tables(pd.DataFrame(), None, []) == {"columns": [], "main": [], "appendix": []}
