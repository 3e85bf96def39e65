"""Input drift between monthly runs: profiles of hand-made events, their comparison, the report snippet."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest
from jinja2 import Environment, FileSystemLoader

from riskcast.drift import compare_profiles, input_profile
from tests.io._helpers import shared_file

REPORTS = Path(__file__).resolve().parents[1] / "reports"
UNITS = pd.DataFrame({"unit_id": ["U1", "U2", "U3"], "name": ["Kidal", "Ménaka", "Gao"]})


def _events(rows: list[tuple]) -> pd.DataFrame:
    """(date, event_type, unit_id[, source[, recorded]]) -> an events table as ingest leaves it."""
    full = [(r + (None, None, None))[:5] for r in rows]
    df = pd.DataFrame(full, columns=["date", "event_type", "unit_id", "source_dataset", "recorded"])
    df["source_dataset"] = df["source_dataset"].fillna("ACLED")
    df.insert(0, "event_id", [f"E{i}" for i in range(len(df))])
    return df.astype({"date": "datetime64[ns]", "recorded": "datetime64[ns]"})


def _monthly(
    months: list[str],
    per_month: int,
    event_type: str = "Battles",
    unit: str = "U1",
    source: str = "ACLED",
    lag_days: int | None = None,
) -> list[tuple]:
    rows = []
    for m in months:
        for i in range(per_month):
            d = pd.Timestamp(m) + pd.Timedelta(days=i % 28)
            rec = None if lag_days is None else d + pd.Timedelta(days=lag_days)
            rows.append((d, event_type, unit, source, rec))
    return rows


def _months(first: str, last: str) -> list[str]:
    return [str(p) for p in pd.period_range(first, last, freq="M")]


def _reports(rows_kept: int) -> dict:
    return {
        "acled": {
            "file": "a.csv",
            "format": "acled_hdx",
            "table": "events",
            "rows_read": rows_kept,
            "rows_kept": rows_kept,
            "rows_dropped": 0,
            "dropped": {},
            "notes": [],
        }
    }


def _render(drift: dict | None) -> str:
    env = Environment(loader=FileSystemLoader(REPORTS), autoescape=True)
    return env.get_template("_drift.html.j2").render(drift=drift)


def test_identical_inputs_no_alerts_and_zero_tvd():
    ev = _events(
        _monthly(_months("2019-01", "2020-03"), 4) + _monthly(_months("2019-06", "2020-03"), 2, "Riots", "U2")
    )
    a = input_profile(ev, UNITS, "2020-03", _reports(len(ev)))
    b = input_profile(ev.copy(), UNITS.copy(), pd.Timestamp("2020-03-01"), _reports(len(ev)))
    assert a == b
    d = compare_profiles(a, b)
    assert d["alerts"] == [] and d["mix"]["tvd"] == 0.0 and not d["first_run"]
    assert d["units"] == {"panel": {"new": [], "vanished": []}, "active": {"new": [], "vanished": []}}
    assert d["inputs"] == [{"input": "acled", "rows_before": len(ev), "rows_now": len(ev), "ratio": 1.0}]
    assert a["active_units"] == ["U1", "U2"] and a["units"] == ["U1", "U2", "U3"]
    assert a["event_types"]["counts"] == {"Battles": 48, "Riots": 20}
    assert a["events"] == {
        "total": len(ev),
        "as_of_month": 6,
        "previous_window_monthly_mean": 5.5,
        "unassigned": 0,
    }
    src = a["sources"]["ACLED"]
    assert (src["newest"], src["first"], src["as_of_month"]) == ("2020-03-04", "2019-01-01", 6)
    assert "No notable change." in _render(d)


def test_first_run_has_nothing_to_compare():
    cur = input_profile(_events(_monthly(["2020-01", "2020-02"], 3)), UNITS, "2020-02")
    d = compare_profiles(None, cur)
    assert d["first_run"] is True and d["alerts"] == [] and d["previous_as_of"] is None
    assert d["units"]["panel"] == {"new": None, "vanished": None} and d["mix"]["tvd"] is None
    assert d["sources"][0]["events_before"] is None and d["sources"][0]["events_now"] == 6
    html = _render(d)
    assert "First run: nothing to compare." in html and "<table>" not in html
    assert _render(None).strip() == ""


def test_a_vanished_and_a_new_unit():
    # U2's only event (2020-01) leaves the 3-month window when the as-of month moves to 2020-04;
    # U3 leaves the panel, U4 joins it with an event in April.
    ev = _events(
        _monthly(_months("2020-01", "2020-04"), 2)
        + [("2020-01-15", "Battles", "U2"), ("2020-04-10", "Battles", "U4")]
    )
    before = input_profile(ev, UNITS, "2020-03", window_months=3)
    units_now = pd.DataFrame({"unit_id": ["U1", "U2", "U4"], "name": ["Kidal", "Ménaka", "Tombouctou"]})
    now = input_profile(ev, units_now, "2020-04", window_months=3)
    d = compare_profiles(before, now)
    assert d["units"]["panel"] == {
        "new": [{"unit_id": "U4", "name": "Tombouctou"}],
        "vanished": [{"unit_id": "U3", "name": "Gao"}],
    }  # its name from the old profile
    assert d["units"]["active"] == {
        "new": [{"unit_id": "U4", "name": "Tombouctou"}],
        "vanished": [{"unit_id": "U2", "name": "Ménaka"}],
    }
    assert d["alerts"] == [
        "1 unit vanished from the panel: Gao",
        "1 unit new in the panel: Tombouctou",
        "1 unit vanished from the active set: Ménaka",
        "1 unit new in the active set: Tombouctou",
    ]
    html = _render(d)
    assert "Vanished from the active set (units with an event in the last 3 months): Ménaka." in html


def test_several_vanished_units_are_named_in_one_alert():
    prev = {
        "as_of": "2020-01",
        "active_units": ["U1", "U2", "U3"],
        "unit_names": {"U1": "Kidal", "U2": "Ménaka"},
    }
    cur = {"as_of": "2020-02", "active_units": ["U3"], "unit_names": {}}
    assert compare_profiles(prev, cur)["alerts"] == ["2 units vanished from the active set: Kidal, Ménaka"]


def test_mix_shift_beyond_threshold():
    base = _monthly(_months("2020-01", "2020-03"), 2) + _monthly(_months("2020-01", "2020-02"), 2, "Riots")
    before = input_profile(_events(base), UNITS, "2020-03")  # Battles 6, Riots 4
    shifted = base + _monthly(["2020-04"], 10, "Explosions/Remote violence")
    now = input_profile(_events(shifted), UNITS, "2020-04")  # Battles 6, Riots 4, Explosions 10
    d = compare_profiles(before, now)
    assert d["mix"]["tvd"] == pytest.approx(0.5)
    assert [(c["event_type"], round(c["change"], 6)) for c in d["mix"]["changes"]] == [
        ("Explosions/Remote violence", 0.5),
        ("Battles", -0.3),
        ("Riots", -0.2),
    ]
    assert d["mix"]["changes"][0]["count_before"] is None and d["mix"]["changes"][0]["count_now"] == 10
    assert "event-type mix moved by 0.50 (TVD), most in 'Explosions/Remote violence' +0.50" in d["alerts"]
    assert not any("mix" in a for a in compare_profiles(before, now, mix_threshold=0.6)["alerts"])
    html = _render(d)
    assert (
        "moved by 0.50" in html
        and '<td class="l">Explosions/Remote violence</td><td>0.00</td><td>0.50</td><td>+0.50</td>' in html
    )


def test_volume_collapse_and_an_older_newest_event():
    full = _events(_monthly(_months("2019-01", "2020-03"), 10))
    before = input_profile(full, UNITS, "2020-03", _reports(len(full)))
    # next month's download is cut short: everything after 2019-06 is missing but two April events
    cut = _events(_monthly(_months("2019-01", "2019-06"), 10) + _monthly(["2020-04"], 2))
    now = input_profile(cut, UNITS, "2020-04", _reports(len(cut)))
    d = compare_profiles(before, now)
    src = d["sources"][0]
    assert (src["events_before"], src["events_now"], src["ratio"]) == (
        150,
        62,
        pytest.approx(62 / 150, abs=1e-4),
    )
    assert (
        src["as_of_month"] == 2 and src["previous_window_monthly_mean"] == 2.5
    )  # 2019-04..06 of the 12 months before
    assert src["month_ratio"] is None  # a mean under 5 events a month is too small to call a collapse
    assert "input 'acled': rows kept fell from 150 to 62 (0.41x) since the last run (2020-03)" in d["alerts"]
    assert "ACLED: events fell from 150 to 62 (0.41x) since the last run (2020-03)" in d["alerts"]

    # same history, but the as-of month itself collapses against its 12 months before
    late = _events(_monthly(_months("2019-01", "2020-03"), 10) + _monthly(["2020-04"], 2))
    d = compare_profiles(before, input_profile(late, UNITS, "2020-04"))
    assert d["sources"][0]["month_ratio"] == 0.2
    assert (
        "ACLED: 2 events in 2020-04, 0.20x its monthly mean over the 12 months before (10.0)" in d["alerts"]
    )

    # a download that ends before last run's newest event
    old = _events(_monthly(_months("2019-01", "2020-02"), 10))
    d = compare_profiles(before, input_profile(old, UNITS, "2020-04"))
    assert (
        "ACLED's newest event (2020-02-10) is older than the one in the last run (2020-03): 2020-03-10"
        in d["alerts"]
    )
    # and one with nothing newer although the as-of month moved on
    d = compare_profiles(before, input_profile(full, UNITS, "2020-04"))
    assert "ACLED: no event newer than 2020-03-10, the newest in the last run (2020-03)" in d["alerts"]


def test_lag_change_from_recorded():
    months = _months("2019-04", "2020-03")
    before = input_profile(
        _events(_monthly(months, 3, lag_days=5) + _monthly(months, 1, source="UCDP GED")), UNITS, "2020-03"
    )
    now = input_profile(
        _events(_monthly(months, 3, lag_days=40) + _monthly(months, 1, source="UCDP GED")), UNITS, "2020-03"
    )
    assert before["sources"]["ACLED"]["lag_median_days"] == 5.0 and before["sources"]["ACLED"]["lag_n"] == 36
    assert before["sources"]["UCDP GED"]["lag_median_days"] is None  # records no times
    d = compare_profiles(before, now)
    acled, ged = d["sources"]
    assert (acled["lag_median_before"], acled["lag_median_now"], acled["lag_change_days"]) == (
        5.0,
        40.0,
        35.0,
    )
    assert ged["lag_change_days"] is None
    assert d["alerts"] == ["ACLED: median reporting lag grew from 5 to 40 days since the last run (2020-03)"]
    assert compare_profiles(before, now, lag_change_days=40)["alerts"] == []
    assert "<td>5 &rarr; 40</td>" in _render(d) and "<td>n/a &rarr; n/a</td>" in _render(d)


def test_events_after_as_of_are_ignored():
    past = _monthly(_months("2019-01", "2020-03"), 3) + [("2020-03-31", "Riots", None)]
    future = [("2020-04-01", "Protests", "U3", "New source", "2020-04-02"), ("2021-01-05", "Battles", "U2")]
    a = input_profile(_events(past), UNITS, "2020-03")
    b = input_profile(_events(past + future), UNITS, "2020-03")
    assert a == b
    assert a["events"]["unassigned"] == 1 and a["sources"]["ACLED"]["newest"] == "2020-03-31"


def test_json_round_trip():
    ev = _events(
        _monthly(_months("2019-01", "2020-03"), 3, lag_days=7) + _monthly(["2020-02"], 5, "Riots", "U2")
    )
    before = input_profile(ev, UNITS, "2020-02", _reports(len(ev)))
    now = input_profile(ev, UNITS, "2020-03", _reports(len(ev)))
    text_before, text_now = (json.dumps(p, allow_nan=False, sort_keys=True) for p in (before, now))
    loaded_before, loaded_now = json.loads(text_before), json.loads(text_now)
    assert loaded_now == now
    d = compare_profiles(before, now)
    assert compare_profiles(loaded_before, loaded_now) == d
    assert json.loads(json.dumps(d, allow_nan=False)) == d


def test_old_profile_missing_keys_is_tolerated():
    ev = _events(_monthly(_months("2019-01", "2020-03"), 3))
    before = input_profile(ev, UNITS, "2020-02", _reports(len(ev)))
    now = input_profile(ev, UNITS, "2020-03", _reports(len(ev)))
    old = copy.deepcopy(before)
    for key in (
        "sources",
        "active_units",
        "event_types",
        "inputs",
        "unit_names",
        "window_months",
        "profile_version",
    ):
        del old[key]
    d = compare_profiles(old, now)
    assert d["alerts"] == [] and d["mix"] == {"tvd": None, "changes": []}
    assert d["units"]["active"] == {"new": None, "vanished": None} and d["units"]["panel"] == {
        "new": [],
        "vanished": [],
    }
    assert d["sources"][0]["events_before"] is None and d["inputs"][0]["rows_before"] is None
    for old in (
        {},
        {"as_of": "2020-02", "sources": None, "events": "?", "event_types": {"shares": None}},
        {"sources": {"ACLED": {"newest": None, "lag_median_days": "x"}}, "inputs": {"acled": {}}},
    ):
        d = compare_profiles(old, now)
        assert d["first_run"] is False and d["alerts"] == []
        assert "Changes in the input data since the last run" in _render(d)


def test_hostile_unit_name_is_escaped():
    ev = _events(_monthly(["2020-01", "2020-02"], 2) + [("2020-02-03", "Battles", "U9")])
    before = input_profile(ev, UNITS, "2020-01")
    hostile = pd.concat([UNITS, pd.DataFrame({"unit_id": ["U9"], "name": ["<script>alert(1)</script>"]})])
    d = compare_profiles(before, input_profile(ev, hostile, "2020-02"))
    assert "1 unit new in the panel: <script>alert(1)</script>" in d["alerts"]
    html = _render(d)
    assert "<script>" not in html
    assert "New in the panel: &lt;script&gt;alert(1)&lt;/script&gt;." in html
    assert "<strong>Notable:</strong> 1 unit new in the panel: &lt;script&gt;" in html


def test_real_burkina_faso_file_june_against_july():
    from riskcast import facts
    from riskcast.io.acled import read_acled_hdx
    from riskcast.regions import Gazetteer, assign_units

    path = shared_file("events/acled_hdx_burkina_faso_1997_2020-08.csv")
    read = read_acled_hdx(path)
    units = facts.load_regions("admin1", ["Burkina Faso"])
    events, _ = assign_units(read.table, Gazetteer(units), file=str(path))
    reports = {"acled": read.report.to_dict()}
    june, july = (input_profile(events, units, m, reports) for m in ("2020-06", "2020-07"))
    dates = pd.to_datetime(events["date"])
    for p, m in ((june, "2020-06"), (july, "2020-07")):
        src = p["sources"]["ACLED"]
        assert src["newest"].startswith(m) and src["lag_n"] > 0 and src["lag_median_days"] is not None
        assert p["events"]["as_of_month"] == int((dates.dt.to_period("M") == m).sum())
        assert p["events"]["total"] == int((dates <= pd.Period(m).to_timestamp(how="end")).sum())
    d = compare_profiles(json.loads(json.dumps(june)), july)
    assert d["units"]["panel"] == {"new": [], "vanished": []} and len(july["units"]) == 13
    assert 0 <= d["mix"]["tvd"] < 0.10  # one month moves a 12-month mix only a little
    assert d["sources"][0]["newest_before"] < d["sources"][0]["newest_now"]
    assert d["sources"][0]["events_now"] > d["sources"][0]["events_before"]
    assert not any("newest" in a or "mix" in a for a in d["alerts"])
    assert "Changes in the input data since the last run" in _render(d)
