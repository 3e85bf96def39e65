"""Which drivers the report shows: every sentence once (the stronger of two that say the same),
no "nothing there" value offered as a reason the risk rose, national counts that say whether
they rose or fell; and the same picking for "what moved it since last month"."""

from __future__ import annotations

import pandas as pd

from riskcast.features import CountryTotal, Decay, Events, Lag, Present, Rolling, TimeSince, Withdrawal
from riskcast.reporting.drivers import Driver, drivers_table, explain, explain_change_row, shown
from riskcast.reporting.report import _common_lines

FEATURES = [
    Events(),
    Lag(2),
    Rolling(3),
    Rolling(6),
    TimeSince(),
    Decay(3.0),
    Decay(12.0),
    CountryTotal(),
    Present("France"),
    Withdrawal("France", halflife=3.0),
    Withdrawal("France", halflife=12.0),
]


def _d(column, contribution, sentence, absent=False) -> Driver:
    return Driver(column, contribution, "up" if contribution > 0 else "down", 0.0, sentence, absent)


def test_shown_keeps_the_stronger_of_two_equal_sentences_in_order():
    drivers = [_d("a", 0.2, "x"), _d("b", -0.5, "y"), _d("c", -0.3, "x"), _d("d", 0.1, "z")]
    assert [d.column for d in shown(drivers)] == ["b", "c", "d"]


def test_shown_drops_nothing_there_only_when_it_raised_the_risk():
    drivers = [
        _d("a", 0.4, "no attacks 2 months ago", True),
        _d("b", -0.3, "no attacks in the last 6 months", True),
    ]
    assert [d.column for d in shown(drivers)] == ["b"]


def test_explain_marks_absent_values_and_keeps_one_driver_per_column():
    values = {"lag_k2": 0.0, "rolling_window6": 0.0, "events": 3.0}
    drivers = explain("lag_k2 +0.3; rolling_window6 -0.2; events +0.1", values, {}, features=FEATURES)
    assert [(d.column, d.absent) for d in drivers] == [
        ("lag_k2", True),
        ("rolling_window6", True),
        ("events", False),
    ]
    assert drivers[0].sentence == "no attacks 2 months ago"  # never "0 attacks"
    assert [d.sentence for d in shown(drivers)] == ["no attacks in the last 6 months", "3 attacks last month"]


def test_time_since_and_decays_no_longer_repeat_each_other():
    values = {"time_since": 0.0, "decay_halflife3": 1.0, "decay_halflife12": 1.0}
    drivers = explain(
        "decay_halflife3 +0.11; time_since +0.06; decay_halflife12 +0.05", values, {}, features=FEATURES
    )
    # the two decays say different things (their half-lives); the bare months-since is the
    # shorter sentence of the same fact and goes
    assert [d.sentence for d in shown(drivers)] == [
        "last attack last month, its weight halving every 3 months",
        "last attack last month, its weight halving every 12 months",
    ]


def _scores_and_panel():
    scores = pd.DataFrame(
        {
            "unit_id": ["A", "B"],
            "unit_name": ["Kayes", "Bamako"],
            "country": ["Mali", "Mali"],
            "as_of": ["2024-12", "2024-12"],
            "horizon": [1, 1],
            "p": [0.3, 0.5],
            "top_features": [
                "country_total -0.30; withdrawal_force_france_halflife3 +0.2; withdrawal_force_france_halflife12 +0.1",
                "lag_k2 +0.25; country_total -0.2; present_force_france -0.1",
            ],
        }
    )
    months = pd.to_datetime(["2024-11-01", "2024-12-01"])
    panel = pd.DataFrame(
        {
            "unit_id": ["A", "A", "B", "B"],
            "month": list(months) * 2,
            "country_total": [120.0, 86.0, 120.0, 86.0],
            "withdrawal_force_france_halflife3": [0.0, 0.0, 0.0, 0.0],
            "withdrawal_force_france_halflife12": [0.0, 0.0, 0.0, 0.0],
            "lag_k2": [1.0, 0.0, 1.0, 0.0],
            "present_force_france": [0.0, 0.0, 0.0, 0.0],
        }
    )
    return scores, panel


def test_drivers_table_shows_true_distinct_sentences_and_counts_the_rest():
    scores, panel = _scores_and_panel()
    table = drivers_table(scores, panel, {}, FEATURES, top_n=2).set_index("unit_name")
    national = (
        "86 attacks country-wide in Dec 2024, down from 120 the month before: "
        "the same across Mali, so it lowers every region's risk"
    )
    # Kayes: both "France has not left" drivers raised the risk with nothing there: not shown
    assert [d.sentence for d in table.loc["Kayes", "drivers"]] == [national]
    assert table.loc["Kayes", "skipped"] == 2
    # Bamako: "↑ 0 attacks 2 months ago" is gone; "France not present" lowered it, so it stays
    assert [(d.direction, d.sentence) for d in table.loc["Bamako", "drivers"]] == [
        ("down", national),
        ("down", "France not present"),
    ]
    assert table.loc["Bamako", "driver_1"] == national and table.loc["Bamako", "skipped"] == 1
    assert table.loc["Kayes", "driver_2"] == ""


def test_change_row_picks_moves_like_the_drivers_but_never_empties_the_list():
    now = {"lag_k2": 0.0, "events": 2.0, "country_total": 86.0, "country": "Mali"}
    before = {"lag_k2": 1.0, "events": 5.0, "country_total": 120.0}
    moves = explain_change_row(
        "lag_k2 +0.3; events -0.2; country_total -0.1", now, before, {}, features=FEATURES
    )
    assert [(d.column, was) for d, was in moves] == [
        ("events", "5 attacks last month"),
        ("country_total", "120 attacks country-wide last month"),
    ]
    assert moves[1][0].sentence.endswith(
        "down from 120 the month before: the same across Mali, so it lowers every region's risk"
    )
    # every move a "nothing there" that raised the risk: keep the strongest, or the report would
    # print "no feature changed" under a forecast that moved
    ((d, was),) = explain_change_row("lag_k2 +0.3", now, before, {}, features=FEATURES)
    # it fell (1 -> 0) and that raised the risk: the sentence says so, or it reads as a mistake
    assert (d.sentence, was) == (
        "no attacks 2 months ago (its fall raised the risk in this model)",
        "1 attack 2 months ago",
    )


def test_change_row_names_the_months_of_both_sides_and_warns_of_moves_against_the_grain():
    now = {"events": 2.0, "lag_k2": 4.0, "country": "Mali"}
    before = {"events": 5.0, "lag_k2": 1.0}
    moves = explain_change_row(
        "events +0.2; lag_k2 +0.1", now, before, {}, features=FEATURES, as_of="2019-06"
    )
    assert [(d.sentence, was) for d, was in moves] == [
        # 5 -> 2 attacks raised the risk: against the grain, said so; each side names its month
        ("2 attacks in Jun 2019 (its fall raised the risk in this model)", "5 attacks in May 2019"),
        ("4 attacks in Apr 2019", "1 attack in Mar 2019"),  # rose and raised it: no note
    ]


def test_lines_common_to_most_units_are_said_once_under_the_table():
    rain = Driver("rainy", -0.1, "down", 1.0, "rainy season")
    own = [Driver(f"c{i}", 0.2, "up", 3.0, f"{i} attacks in Jun 2019") for i in range(4)]
    records = [
        {"drivers": [own[i], rain], "change": {"moves": [(rain, "dry season")] if i < 2 else []}}
        for i in range(4)
    ]
    common = _common_lines(records)
    assert common["drivers"] == [("down", "rainy season")]  # 4 of 4 rows
    assert common["moves"] == []  # 2 of 4 rows, but fewer than 3: stays in its rows
    assert [r["drivers"] for r in records] == [[d] for d in own]
    assert records[0]["change"]["moves"] == [(rain, "dry season")]
