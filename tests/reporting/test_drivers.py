"""Drivers in plain words: one sentence per feature family, the generic fallback, hostile
strings passed through untouched, and an end-to-end check on a small demo run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from riskcast.features import (
    Change,
    CountryTotal,
    Decay,
    Events,
    Fatalities,
    Indicator,
    Interaction,
    Lag,
    MonthOfYear,
    MonthsSinceShock,
    Onset,
    PostShock,
    Present,
    RainySeason,
    Rolling,
    ShockCount,
    ShockDecay,
    SpatialLag,
    TimeSince,
    Troops,
    Withdrawal,
)
from riskcast.reporting.drivers import Driver, drivers_table, explain, feature_index, parse_top_features

ROOT = Path(__file__).resolve().parents[2]


def one(feature, value, contribution=0.3, unit_word="region", values=None, definitions=None) -> Driver:
    """The single driver of a score whose only listed feature is ``feature`` at ``value``."""
    vals = {feature.name: value, **(values or {})}
    (d,) = explain(
        f"{feature.name} {contribution:+.2f}", vals, definitions or {}, unit_word, features=[feature]
    )
    return d


@pytest.mark.parametrize(
    "feature, value, sentence",
    [
        (Rolling(3), 12.0, "12 attacks in the last 3 months"),
        (Rolling(3), 1.0, "1 attack in the last 3 months"),
        (Rolling(12, of=Fatalities()), 40.0, "40 deaths in attacks in the last 12 months"),
        (Rolling(3, of=Events(event_type="Battles")), 2.0, "2 battles in the last 3 months"),
        (Rolling(3, of=Events(actor_group="jnim")), 5.0, "5 attacks involving JNIM in the last 3 months"),
        (Rolling(12, "mean", Indicator()), 0.25, "attacks in 3 of the last 12 months"),
        (Rolling(12, "max"), 9.0, "up to 9 attacks in a month over the last 12 months"),
        (Events(), 4.0, "4 attacks last month"),
        (Lag(2), 3.0, "3 attacks 2 months ago"),
        (TimeSince(), 7.0, "last attack 7 months ago"),
        (TimeSince(), 120.0, "no attacks in the last 120 months"),
        (Decay(3.0), 0.5, "last attack 3 months ago, its weight halving every 3 months"),
        (
            Decay(6.0, of=Events(actor_group="is_sahel")),
            0.25,
            "last attack involving IS Sahel 12 months ago, its weight halving every 6 months",
        ),
        (Decay(3.0), 0.0, "no attacks on record"),
        (Onset(), 1.0, "attacks resumed after 12 quiet months"),
        (Change(), -3.0, "3 fewer attacks than the month before"),
        (SpatialLag(), 3.0, "3 attacks in neighbouring cercles last month"),
        (SpatialLag(order=2), 1.0, "1 attack in cercles 2 steps away last month"),
        (SpatialLag(stat="mean"), 1.5, "1.5 attacks on average per neighbouring cercle last month"),
        (SpatialLag(of=Rolling(3)), 8.0, "8 attacks in neighbouring cercles in the last 3 months"),
        (
            CountryTotal(),
            86.0,
            "86 attacks country-wide last month: the same across the country, so it raises every cercle's risk",
        ),
        (
            Withdrawal("France", halflife=3.0),
            0.5,
            "France left 3 months ago, its weight halving every 3 months",
        ),
        (
            Withdrawal("France", halflife=12.0),
            2 ** (-4 / 12),
            "France left 4 months ago, its weight halving every 12 months",
        ),
        (Withdrawal("MINUSMA", halflife=3.0), 0.0, "MINUSMA has not left (present, or never was)"),
        (Present("MINUSMA"), 1.0, "MINUSMA present"),
        (Present("France"), 0.0, "France not present"),
        (Troops(), 650.0, "650 troops of foreign forces reported in the cercle"),
        (
            ShockDecay("coup", halflife=3.0),
            2 ** (-5 / 3),
            "coup 5 months ago, its weight halving every 3 months",
        ),
        (
            ShockDecay(("withdrawal_completed", "peace_accord"), halflife=6.0),
            0.5,
            "completed troop withdrawal or peace accord 6 months ago, its weight halving every 6 months",
        ),
        (MonthsSinceShock("coup"), 5.0, "coup 5 months ago"),
        (PostShock("coup", months=6), 1.0, "coup within the last 6 months"),
        (PostShock("coup", months=6), 0.0, "no coup in the last 6 months"),
        (ShockCount(12), 2.0, "2 shocks in the last 12 months"),
        (RainySeason(), 1.0, "rainy season"),
        (RainySeason(), 0.0, "dry season"),
        (MonthOfYear("sin"), 0.5, "time of year"),
    ],
)
def test_sentence_per_family(feature, value, sentence):
    assert one(feature, value, unit_word="cercle").sentence == sentence


def test_month_of_year_names_the_month_when_both_components_are_known():
    import math

    sin, cos = MonthOfYear("sin"), MonthOfYear("cos")
    values = {sin.name: math.sin(2 * math.pi * 7 / 12), cos.name: math.cos(2 * math.pi * 7 / 12)}
    assert one(cos, values[cos.name], values=values).sentence == "time of year (July)"


def test_interaction_of_two_yes_no_features():
    f = Interaction(of=Present(force="France"), by=PostShock(kind="withdrawal_announced", months=12))
    assert one(f, 1.0).sentence == "France present, and withdrawal announcement within the last 12 months"
    assert one(f, 0.0).sentence.startswith("not both: France present")


def test_direction_contribution_and_value():
    (up, down) = explain(
        "rolling_window3 +0.41; present_force_minusma -0.22",
        {"rolling_window3": 12, "present_force_minusma": 1},
        {},
        features=[Rolling(3), Present("MINUSMA")],
    )
    assert (up.column, up.contribution, up.direction, up.value) == ("rolling_window3", 0.41, "up", 12.0)
    assert (down.direction, down.sentence) == ("down", "MINUSMA present")


def test_unknown_column_falls_back_to_its_definition_and_value():
    (d,) = explain(
        "mystery_index +0.10", {"mystery_index": 2.0}, {"mystery_index": "a mystery index"}, features=[]
    )
    assert d.sentence == "a mystery index: 2"
    (d,) = explain("mystery_index -0.10", {"mystery_index": 0.123}, {}, features=[])
    assert (d.sentence, d.direction) == ("mystery index: 0.12", "down")
    (d,) = explain(
        "rolling_window3 +0.1",
        {},
        {"rolling_window3": "attacks over the last 3 months"},
        features=[Rolling(3)],
    )
    assert (
        d.sentence == "attacks over the last 3 months: n/a"
    )  # no value for the unit: say so, invent nothing


def test_parse_top_features_skips_malformed_entries():
    assert parse_top_features("a +0.41; b -0.22;; c; d x; e nan") == [("a", 0.41), ("b", -0.22)]
    assert parse_top_features(float("nan")) == [] and parse_top_features("") == []


def test_hostile_strings_pass_through_unchanged():
    evil = "<script>alert('x')</script>"
    assert one(Present(force=evil), 1.0).sentence == f"{evil} present"
    assert one(SpatialLag(), 2.0, unit_word=evil).sentence == f"2 attacks in neighbouring {evil}s last month"
    assert (
        one(Rolling(3, of=Events(actor_group=evil)), 2.0).sentence
        == f"2 attacks involving {evil} in the last 3 months"
    )
    (d,) = explain(f"{evil} +1.0", {evil: 1.0}, {evil: evil}, features=[])
    assert d.sentence == f"{evil}: 1"


def test_default_index_covers_the_project_feature_sets():
    idx = feature_index()
    assert isinstance(idx["withdrawal_force_france_halflife3"], Withdrawal)
    assert isinstance(idx["indicator"], Indicator)  # inner features are indexed too


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("drv") / "run"
    cli = Path(sys.executable).with_name("riskcast")
    subprocess.run(
        [
            str(cli),
            "demo",
            "--out",
            str(out),
            "--set",
            "model.set=fast",
            "--set",
            "backtest.eval_months=3",
            "--set",
            "backtest.horizons=[1]",
            "--set",
            "backtest.ablation=false",
            "--set",
            "target.intensity=[]",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out


def test_end_to_end_every_top_unit_gets_a_sentence_with_a_number(demo_run):
    from riskcast.features.spec import load_feature_set

    run = json.loads((demo_run / "run.json").read_text())
    scores = pd.read_csv(demo_run / "scores.csv")
    panel = pd.read_parquet(demo_run / "features.parquet")
    fs = [f for name in run["feature_sets"] for f in load_feature_set(name).features]
    table = drivers_table(scores, panel, run["feature_definitions"], fs, horizon=1, top_n=5)
    assert len(table) == 5 and table["p"].is_monotonic_decreasing
    assert list(table["unit_id"]) == list(scores[scores["horizon"] == 1].nlargest(5, "p")["unit_id"])
    for row in table.itertuples():
        assert row.drivers, row.unit_id
        assert any(re.search(r"\d", d.sentence) for d in row.drivers), row.drivers
        assert all(d.direction in ("up", "down") for d in row.drivers)
        assert not any(d.sentence.endswith(": n/a") for d in row.drivers)
    assert {"driver_1", "direction_1"} <= set(table.columns)
