"""Bad input through the CLI: one clear message, exit code 2, and no half-written output."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import PROJECT, acled_config, cli

FIXTURE = PROJECT / "tests" / "fixtures" / "acled_hdx_sample.csv"


def assert_nothing_written(out: Path):
    assert not out.exists() or not any(p for p in out.rglob("*") if p.is_file()), list(out.rglob("*"))


def bad_csv(tmp_path: Path, edit) -> Path:
    lines = FIXTURE.read_text().splitlines()
    lines = edit(lines)
    p = tmp_path / "events.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


CASES = {
    # name: (edit of the fixture's lines, expected fragments of the message)
    "unparseable date": (
        lambda ls: ls[:2] + [ls[2].replace("2018-02-03", "2018-02-31")] + ls[3:],
        ["row 3", "event_date"],
    ),
    "negative fatalities": (
        lambda ls: ls[:2] + [ls[2][: ls[2].rfind(",")] + ",-4"] + ls[3:],
        ["row 3", "fatalities"],
    ),
    "latitude out of range": (
        lambda ls: ls[:2] + [ls[2].replace("15.01", "115.01")] + ls[3:],
        ["row 3", "latitude"],
    ),
    "date in the future": (
        lambda ls: ls[:2] + [ls[2].replace("2018-02-03", "2099-02-03")] + ls[3:],
        ["row 3", "event_date", "future"],
    ),
    "missing column": (lambda ls: [ls[0].replace("fatalities", "fatalitie")] + ls[1:], ["fatalities"]),
    "duplicate event ids": (lambda ls: ls + [ls[2]], ["rows 3 and", "event_id_cnty", "duplicate"]),
    "malformed csv": (lambda ls: ls[:3] + [ls[3] + ',"extra",1,2,3'] + ls[4:], ["row 4"]),
    "empty file": (lambda ls: [], ["empty"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_event_file_exits_2_names_the_place_and_writes_nothing(tmp_path, case):
    edit, fragments = CASES[case]
    events = bad_csv(tmp_path, edit)
    if case == "empty file":
        events.write_text("")
    out = tmp_path / "out"
    r = cli("run", str(acled_config(tmp_path, events)), "--out", str(out))
    assert r.returncode == 2, (r.stdout, r.stderr)
    msg = " ".join(r.stderr.split())
    assert str(events) in msg
    for f in fragments:
        assert f in msg, (f, msg)
    assert "Traceback" not in r.stderr
    assert_nothing_written(out)


def test_unknown_config_key_exits_2(tmp_path):
    p = acled_config(tmp_path, FIXTURE, extra="[model]\nCC = 1\n")
    r = cli("run", str(p), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert f"{p}, key 'model.CC': unknown key" in " ".join(r.stderr.split())
    assert_nothing_written(tmp_path / "out")


def test_wrong_sheet_name_exits_2(tmp_path, shared_data):
    p = tmp_path / "agg.toml"
    path = shared_data / "aggregates" / "acled_hdx_bfa_political_violence_admin2_month_1997_2020.xlsx"
    p.write_text(f"""
countries = ["Burkina Faso"]
[inputs.agg]
kind = "counts"
format = "acled_aggregates"
path = "{path.as_posix()}"
sheet = "Daten"
""")
    r = cli("run", str(p), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    msg = " ".join(r.stderr.split())
    assert "Daten" in msg and "Data" in msg
    assert_nothing_written(tmp_path / "out")


def test_unresolvable_regions_above_the_limit_fail_with_the_list(tmp_path):
    events = bad_csv(tmp_path, lambda ls: ls[:2] + [line.replace(",Mopti,", ",Atlantis,") for line in ls[2:]])
    r = cli("run", str(acled_config(tmp_path, events)), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    msg = " ".join(r.stderr.split())
    assert "could not be assigned" in msg and "Atlantis" in msg
    assert_nothing_written(tmp_path / "out")


def test_a_stage_without_its_inputs_says_which_stage_to_run(tmp_path):
    r = cli("score", str(acled_config(tmp_path, FIXTURE)), "--out", str(tmp_path / "out"))
    assert r.returncode == 2
    assert "riskcast features" in " ".join(r.stderr.split())


def test_too_short_backtest_window_is_refused(tmp_path):
    p = acled_config(tmp_path, FIXTURE)
    r = cli("run", str(p), "--out", str(tmp_path / "out"), "--set", "backtest.min_train_months=200")
    assert r.returncode == 2
    assert "too short" in r.stderr


def test_gazetteer_naming_an_unknown_neighbour_exits_2(tmp_path):
    from riskcast.facts import load_regions

    g = load_regions("admin1", ["Mali"]).copy()
    g.loc[2, "neighbours"] = "ML01|ML99"
    path = tmp_path / "regions.csv"
    g.to_csv(path, index=False)
    r = cli(
        "run",
        str(acled_config(tmp_path, FIXTURE)),
        "--out",
        str(tmp_path / "out"),
        "--set",
        f'regions.gazetteer="{path}"',
    )
    assert r.returncode == 2, r.stderr
    msg = " ".join(r.stderr.split())
    assert f"{path}, row 4, column 'neighbours'" in msg and "ML99" in msg
    assert_nothing_written(tmp_path / "out")


def test_feature_set_with_a_zero_half_life_exits_2(tmp_path):
    fs = tmp_path / "bad_set.toml"
    fs.write_text('name = "bad"\n[[features]]\nfeature = "Decay"\nhalflife = 0\n')
    r = cli(
        "run",
        str(acled_config(tmp_path, FIXTURE)),
        "--out",
        str(tmp_path / "out"),
        "--set",
        f'features.set="{fs}"',
    )
    assert r.returncode == 2, r.stderr
    assert f"{fs}, key 'features[0].halflife': halflife must be > 0" in " ".join(r.stderr.split())


def test_overlapping_presence_rows_exit_2(tmp_path):
    from riskcast.facts import load_presence

    pres = load_presence()
    first = pres.iloc[[0]].copy()
    bad = pd.concat([pres, first], ignore_index=True)
    path = tmp_path / "presence.csv"
    bad.to_csv(path, index=False, date_format="%Y-%m-%d")
    extra = f'[inputs.presence]\nkind = "presence"\nformat = "canonical"\npath = "{path.as_posix()}"\n'
    r = cli("run", str(acled_config(tmp_path, FIXTURE, extra=extra)), "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stderr
    msg = " ".join(r.stderr.split())
    assert "overlap" in msg and f"rows 2 and {len(bad) + 1}" in msg and f"{path}, row {len(bad) + 1}" in msg
