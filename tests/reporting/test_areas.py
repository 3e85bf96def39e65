"""Escalation by area (riskcast.reporting.areas), on small hand-made tables: regions and a curated
area summed from their members, rising and falling members named, actors and places of the last
3 months only, and nothing after the as-of month counted."""

from __future__ import annotations

import pandas as pd
import pytest

from riskcast.reporting.areas import area_members, area_trends, heavy_event
from riskcast.reporting.first_page import _area_words, _side
from riskcast.reporting.frontpage import actor_mentions

AS_OF = "2019-06"
TYPES = ("Battles", "Violence against civilians")
NAMES = pd.Series({"a": "Alpha", "b": "Beta", "c": "Gamma", "d": "Delta"})


def panel_of(history: dict[str, list[float]], end: str = AS_OF) -> pd.DataFrame:
    rows = []
    for uid, counts in history.items():
        months = pd.period_range(end=end, periods=len(counts), freq="M")
        rows += [
            {"unit_id": uid, "month": m.to_timestamp(), "n_target": c, "n_fatalities": 3 * c}
            for m, c in zip(months, counts)
        ]
    return pd.DataFrame(rows)


def events_of(rows: list[tuple]) -> pd.DataFrame:
    """(unit_id, date, event_type, actor1, actor2, location) -> an EVENTS-like table."""
    df = pd.DataFrame(rows, columns=["unit_id", "date", "event_type", "actor1", "actor2", "location"])
    df["event_id"] = [str(i) for i in range(len(df))]
    df["date"] = pd.to_datetime(df["date"])
    return df


AREAS = pd.DataFrame({"area": ["Border", "Border", "Alone"], "unit_id": ["b", "c", "d"]})
PARENTS = {"a": "North", "b": "North", "c": "South", "d": "South"}


def test_members_are_regions_first_then_curated_areas_with_two_members_here():
    got = area_members(PARENTS, AREAS, ["a", "b", "c", "d"])
    assert list(got) == ["North", "South", "Border"]  # "Alone" has one member: says no more than the unit
    assert got == {"North": ["a", "b"], "South": ["c", "d"], "Border": ["b", "c"]}
    assert area_members(PARENTS, AREAS, ["a", "b"]) == {"North": ["a", "b"]}  # c not in this panel


def test_area_sums_its_members_and_names_who_rises_and_who_falls():
    # 12 months each: a rises (1 -> 6 in the last 3), b falls (4 -> 1), c steady, d quiet
    panel = panel_of(
        {
            "a": [1] * 9 + [6] * 3,
            "b": [4] * 9 + [1] * 3,
            "c": [2] * 12,
            "d": [0] * 12,
        }
    )
    events = events_of(
        [
            (
                "a",
                "2019-06-10",
                "Battles",
                "JNIM: Group for Support of Islam and Muslims",
                "Military Forces of Mali (2013-)",
                "Boni",
            ),
            (
                "a",
                "2019-05-10",
                "Violence against civilians",
                "JNIM: Group for Support of Islam and Muslims",
                "Civilians (Mali)",
                "Boni",
            ),
            (
                "b",
                "2019-04-10",
                "Violence against civilians",
                "Dan Na Ambassagou",
                "Civilians (Mali)",
                "Sobane",
            ),
            ("b", "2019-01-10", "Battles", "Old Group", None, "Far"),  # before the last 3 months
            ("a", "2019-07-02", "Battles", "Future Group", None, "Later"),  # after the as-of month
            ("a", "2019-06-11", "Protests", "Protesters (Mali)", None, "Square"),  # not a target type
        ]
    )
    got = area_trends(panel, events, {"North": ["a", "b"]}, NAMES, AS_OF, TYPES, ["Mali"], watched=["a"])
    (north,) = got
    # monthly means summed over members: last 3 = 6 + 1, last 12 = (9 + 18) / 12 + (36 + 3) / 12
    assert north["a3"] == pytest.approx(7.0) and north["a12"] == pytest.approx((27 + 39) / 12)
    assert north["d3"] == pytest.approx(21.0)
    assert north["rising"] == [("Alpha", 6.0, pytest.approx(27 / 12))]
    assert north["falling"] == [("Beta", 1.0, pytest.approx(39 / 12))]
    assert north["actors"] == [("JNIM", 2), ("Dan Na Ambassagou", 1), ("Military Forces of Mali", 1)]
    assert north["places"] == [("Boni", 2), ("Sobane", 1)]
    assert north["civilians3"] == pytest.approx(2 / 3)
    assert north["civilians12"] == pytest.approx(2 / 4)
    flat = str(got)
    assert "Future Group" not in flat and "Later" not in flat  # nothing after the as-of month
    assert "Old Group" not in flat and "Square" not in flat


def test_only_areas_with_a_watched_member_or_rising_as_a_whole_are_summarised():
    panel = panel_of({"a": [1] * 9 + [6] * 3, "b": [2] * 12, "c": [2] * 12, "d": [0] * 12})
    members = {"North": ["a", "b"], "South": ["c", "d"], "Border": ["b", "c"]}
    got = area_trends(panel, None, members, NAMES, AS_OF, TYPES, watched=[])
    assert [a["name"] for a in got] == ["North"]  # rising as a whole, though nobody is watched
    got = area_trends(panel, None, members, NAMES, AS_OF, TYPES, watched=["c"])
    assert [a["name"] for a in got] == ["North", "Border", "South"]  # most rising members first
    assert got[0]["actors"] == [] and got[0]["places"] == [] and got[0]["civilians3"] is None


def test_deadliest_attacks_are_named_with_place_date_deaths_and_actor():
    panel = panel_of({"a": [1] * 9 + [6] * 3, "b": [2] * 12})
    events = events_of(
        [
            (
                "a",
                "2019-06-09",
                "Violence against civilians",
                "Fulani Ethnic Militia (Mali)",
                "Civilians (Mali)",
                "Sobane-Da",
            ),
            (
                "b",
                "2019-06-17",
                "Violence against civilians",
                "JNIM: Group for Support of Islam and Muslims",
                "Civilians (Mali)",
                "Gangafani",
            ),
            (
                "a",
                "2019-05-01",
                "Battles",
                "Military Forces of Mali (2013-)",
                "JNIM: Group for Support of Islam and Muslims",
                "Boni",
            ),
            ("a", "2019-05-02", "Battles", "Unidentified Armed Group (Mali)", None, "Nowhere"),  # no deaths
            ("a", "2019-07-01", "Battles", "Future Group", None, "Later"),  # after the as-of month
        ]
    )
    events["fatalities"] = [35, 41, 3, 0, 99]
    (north,) = area_trends(panel, events, {"North": ["a", "b"]}, NAMES, AS_OF, TYPES, ["Mali"], watched=["a"])
    assert [
        (d["place"], d["date"].strftime("%Y-%m-%d"), d["deaths"], d["actor"]) for d in north["deadliest"]
    ] == [
        ("Gangafani", "2019-06-17", 41, "JNIM"),
        ("Sobane-Da", "2019-06-09", 35, "Fulani Ethnic Militia"),
        ("Boni", "2019-05-01", 3, "Military Forces of Mali"),
    ]
    words = _area_words(north)
    assert words["deadliest"].startswith("Gangafani, 17 Jun (41 killed, JNIM); Sobane-Da, 9 Jun (35 killed,")
    assert north["members"] == ["Alpha", "Beta"]


def test_a_curated_area_says_which_side_of_its_borders_the_report_covers():
    areas = pd.DataFrame(
        {"area": ["Border"] * 3, "unit_id": ["b", "c", "x"], "country": ["Mali", "Mali", "Niger"]}
    )
    summary = {"name": "Border", "members": ["Beta", "Gamma"]}
    assert _side(summary, areas, ("Mali",)) == "Mali side only: Beta, Gamma"
    assert _side(summary, areas, ("Mali", "Niger")) == "Beta, Gamma"  # both sides covered
    assert _side({"name": "North", "members": ["Alpha"]}, areas, ("Mali",)) == ""  # a region, not curated


def test_an_attack_acled_cannot_yet_attribute_stays_with_both_groups():
    events = events_of(
        [
            (
                "a",
                "2019-06-01",
                "Battles",
                "JNIM: Group for Support of Islam and Muslims and/or Islamic State (Greater Sahara)",
                "Military Forces of Mali (2013-)",
                "Boni",
            )
        ]
    )
    assert list(actor_mentions(events, ["Mali"])["actor"]) == [
        "JNIM or Islamic State (Greater Sahara)",  # never JNIM alone
        "Military Forces of Mali",
    ]


def test_one_attack_that_carries_the_12_month_toll_is_named_beside_the_average():
    rows = [("a", f"2019-0{m}-05", "Battles", "X", None, f"P{m}") for m in (4, 5, 6)]
    rows += [
        (
            "a",
            "2019-03-23",
            "Violence against civilians",
            "Dan Na Ambassagou",
            "Civilians (Mali)",
            "Ogossagou",
        )
    ]
    events = events_of(rows)
    events["fatalities"] = [5, 5, 5, 164]
    heavy = heavy_event(events, ["a"], AS_OF, TYPES, ["Mali"])
    assert (heavy["place"], heavy["deaths"], heavy["actor"]) == ("Ogossagou", 164, "Dan Na Ambassagou")
    events["fatalities"] = [50, 50, 50, 40]  # a quarter of 190 is 47.5: not one attack's toll
    assert heavy_event(events, ["a"], AS_OF, TYPES, ["Mali"]) is None
    assert (
        heavy_event(events.iloc[:3], ["a"], AS_OF, TYPES) is None
    )  # only the last 3 months: nothing earlier
