"""Features explain their own value: every class has its own ``explain()`` next to its
``describe()``, every feature of the project's sets says more than the generic fallback, the
sentences of different features differ, and "nothing there" / national values say so."""

from __future__ import annotations

import math
from functools import lru_cache

import pytest

from riskcast.features import (
    AcrossBorder,
    AllEvents,
    Bases,
    Change,
    CountryTotal,
    Decay,
    Escalation,
    Events,
    Fatalities,
    Feature,
    Indicator,
    Interaction,
    Lag,
    MonthOfYear,
    MonthsSinceArrival,
    MonthsSinceDeparture,
    MonthsSinceShock,
    NearestEventDistance,
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
from riskcast.features.spec import load_feature_set, registry
from riskcast.features.words import ExplainContext, ago, count, num
from riskcast.paths import project_file

PROJECT_SETS = sorted(p.stem for p in project_file("features").glob("*.toml") if p.stem != "actor_groups")


@lru_cache(maxsize=1)
def _project_features() -> dict[str, Feature]:
    """Every feature of the project's sets, inner features included, by column name."""
    out: dict[str, Feature] = {}
    stack = [f for name in PROJECT_SETS for f in load_feature_set(name).features]
    while stack:
        f = stack.pop()
        out.setdefault(f.name, f)
        stack += [v for v in f.params().values() if isinstance(v, Feature)]
    return out


def _generic(f: Feature, value: float) -> str:
    return Feature.explain(f, value)


@pytest.mark.parametrize("name", sorted(registry()))
def test_every_feature_class_has_its_own_explain(name):
    # A new feature class must say its value in words next to its describe(); otherwise the
    # report would fall back to "<definition>: <value>" for it without anyone noticing.
    cls = registry()[name]
    assert "explain" in vars(cls), f"{name} has no explain() of its own: add one next to its describe()"


def test_the_project_sets_are_all_checked():
    assert {"default", "history_only", "sahel", "dynamics"} <= set(PROJECT_SETS)


@pytest.mark.parametrize("column", sorted(_project_features()))
def test_every_project_feature_says_more_than_the_generic_sentence(column):
    f = _project_features()[column]
    for value in (0.0, 1.0) if f.yes_no else (0.0, 0.5, 1.0, 3.0):
        sentence = f.explain(value, ExplainContext(direction="up"))
        assert sentence and sentence != _generic(f, value), (column, value, sentence)
        assert "nan" not in sentence and "{" not in sentence, sentence


@pytest.mark.parametrize("name", PROJECT_SETS)
def test_different_features_of_a_set_say_different_things(name):
    # The two month-of-year components name the same month: the report shows that sentence once.
    feats = [f for f in load_feature_set(name).features if not isinstance(f, MonthOfYear)]
    for value in (1.0, 2.0):
        seen: dict[str, str] = {}
        for f in feats:
            s = f.explain(value)
            assert s not in seen, f"{f.name} and {seen.get(s)} both say {s!r} at {value}"
            seen[s] = f.name


def test_time_since_and_decays_of_the_same_attacks_are_told_apart():
    sentences = {
        TimeSince().explain(0.0),
        Decay(3.0).explain(1.0),
        Decay(12.0).explain(1.0),
    }
    assert sentences == {
        "last attack last month",
        "last attack last month, its weight halving every 3 months",
        "last attack last month, its weight halving every 12 months",
    }
    assert Present("France").explain(0.0) != MonthsSinceArrival("France").explain(120.0)


@pytest.mark.parametrize(
    "feature, value, sentence",
    [
        (Events(), 0.0, "no attacks last month"),
        (Lag(2), 0.0, "no attacks 2 months ago"),
        (AllEvents(), 1.0, "1 event of any type last month"),
        (Fatalities("Battles", "jnim"), 3.0, "3 deaths in battles involving JNIM last month"),
        (
            Rolling(3, of=Events(sub_event_type="Remote explosive/landmine/IED")),
            5.0,
            "5 IED or landmine attacks in the last 3 months",
        ),
        (Rolling(3, of=Events(sub_event_type="Looting")), 2.0, "2 Looting events in the last 3 months"),
        (Rolling(3, "mean"), 1.0, "1 attack a month on average over the last 3 months"),
        (Rolling(12, "mean", Indicator()), 0.0, "attacks in none of the last 12 months"),
        (Rolling(12, "mean", Indicator(5)), 0.25, "at least 5 attacks in 3 of the last 12 months"),
        (Indicator(5), 0.0, "fewer than 5 attacks last month"),
        (Change(), 0.0, "as many attacks as the month before"),
        (Change(2), 1.0, "1 more attack than 2 months before"),
        (SpatialLag(stat="mean"), 1.0, "1 attack on average per neighbouring region last month"),
        (
            SpatialLag(weighting="inverse_distance"),
            2.0,
            "2 attacks in nearby regions (distance-weighted, within 1 step) last month",
        ),
        (SpatialLag(of=Present("France")), 2.0, "France present in 2 neighbouring regions"),
        (SpatialLag(of=Present("France")), 0.0, "France present in no neighbouring region"),
        (
            AcrossBorder(),
            4.0,
            "4 attacks across the border (in other countries' regions within 150 km) last month",
        ),
        (NearestEventDistance(3), 42.4, "nearest attack 42 km away in the last 3 months"),
        (NearestEventDistance(), 1000.0, "no attack within 1000 km last month"),
        (Escalation(), 1.0, "attacks last month above 2 times their monthly mean of the 12 months before"),
        (Onset(3), 0.0, "no return of attacks last month after 3 quiet months"),
        (Troops("France"), 1.0, "1 troop of France reported in the region"),
        (Bases("France"), 0.0, "no base of France in the region"),
        (Bases("France"), 2.0, "2 bases of France in the region"),
        (MonthsSinceArrival("Wagner"), 3.0, "Wagner arrived 3 months ago"),
        (MonthsSinceDeparture("France"), 1.0, "France left 1 month ago"),
        (MonthsSinceDeparture("France"), 120.0, "France has not left (present, or never was)"),
        (MonthsSinceShock("coup", scope="unit"), 0.0, "coup in the region last month"),
        (PostShock("withdrawal_announced", 12), 1.0, "withdrawal announcement within the last 12 months"),
        (ShockCount(12, "coup"), 2.0, "2 coups in the last 12 months"),
        (ShockCount(12), 0.0, "no shocks in the last 12 months"),
        (ShockDecay("coup", 3.0), 0.0, "no coups on record"),
    ],
)
def test_sentences(feature, value, sentence):
    assert feature.explain(value) == sentence


def test_absent_says_nothing_is_there():
    assert Events().absent(0.0) and not Events().absent(1.0)
    assert Present("France").absent(0.0) and Withdrawal("France").absent(0.0)
    assert TimeSince().absent(120.0) and not TimeSince().absent(0.0)  # 0: an attack last month
    assert MonthsSinceShock("coup").absent(120.0) and not MonthsSinceShock("coup").absent(5.0)
    assert MonthsSinceArrival("France").absent(120.0) and MonthsSinceDeparture("France").absent(120.0)
    assert NearestEventDistance().absent(1000.0) and not NearestEventDistance().absent(10.0)
    # the calendar has no "nothing": month 0 of a sine is a month, the dry season a season
    assert not MonthOfYear("sin").absent(0.0) and not RainySeason().absent(0.0)


def test_national_features_say_so_and_what_it_does_to_every_unit():
    assert CountryTotal().national and Rolling(3, of=CountryTotal()).national
    assert ShockDecay("coup", 3.0, scope="national").national and not ShockDecay("coup", 3.0).national
    assert not SpatialLag().national and not Rolling(3).national
    down = ExplainContext("cercle", before={CountryTotal().name: 120.0}, direction="down", country="Mali")
    assert CountryTotal().explain(86.0, down) == (
        "86 attacks country-wide last month, down from 120 the month before: "
        "the same across Mali, so it lowers every cercle's risk"
    )
    up = ExplainContext(direction="up")
    assert Rolling(3, of=CountryTotal()).explain(250.0, up) == (
        "250 attacks country-wide in the last 3 months: the same across the country, so it raises every region's risk"
    )
    # a plain value (the month before, beside a move) says no push
    assert CountryTotal().explain(120.0) == "120 attacks country-wide last month"
    assert PostShock("coup", 6, scope="national").explain(1.0, up) == (
        "national coup within the last 6 months: the same across the country, so it raises every region's risk"
    )


def test_interaction_reads_as_both_only_for_yes_no_sides():
    f = Interaction(of=Present("France"), by=PostShock("withdrawal_announced", 12))
    assert f.yes_no and f.explain(1.0, ExplainContext(direction="up")) == (
        "France present, and withdrawal announcement within the last 12 months"
    )
    counts = Interaction(of=Present("France"), by=Events())
    assert not counts.yes_no and counts.explain(1.0) == Feature.explain(counts, 1.0)


def test_month_of_year_reads_both_components_from_the_row():
    sin, cos = MonthOfYear("sin"), MonthOfYear("cos")
    values = {sin.name: math.sin(2 * math.pi * 11 / 12), cos.name: math.cos(2 * math.pi * 11 / 12)}
    assert sin.explain(values[sin.name], ExplainContext(values=values)) == "time of year (November)"
    assert sin.explain(0.5) == "time of year"


def test_readable_names_can_be_given_in_the_context():
    ctx = ExplainContext(names={"jnim": "the JNIM coalition", "France": "French forces (Barkhane)"})
    assert Rolling(3, of=Events(actor_group="jnim")).explain(2.0, ctx) == (
        "2 attacks involving the JNIM coalition in the last 3 months"
    )
    assert Present("France").explain(1.0, ctx) == "French forces (Barkhane) present"


def test_word_helpers():
    assert (num(3.0), num(2.96), num(1.25)) == ("3", "3", "1.2")
    assert (
        count(1.0, ("attack", "attacks")) == "1 attack" and count(1.5, ("attack", "attacks")) == "1.5 attacks"
    )
    assert (ago(0), ago(1), ago(4.4)) == ("last month", "1 month ago", "4 months ago")
