"""Hostile inputs through the CLI, as a user finds them: each is refused with exit code 2, a message
naming the file, row and column in plain words, and the output folder left exactly as it was."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from riskcast.config import load_config
from riskcast.errors import InputError
from riskcast.jobs.ingest import ingest
from tests.conftest import PROJECT, acled_config, cli

FIXTURE = PROJECT / "tests" / "fixtures" / "acled_hdx_sample.csv"
# The fixture's data rows as a person numbers them: the header is row 1, the HXL row row 2.
LINES = FIXTURE.read_text(encoding="utf-8").splitlines()
HEADER, HXL, TST901 = LINES[0], LINES[1], LINES[2]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> Path:
    """An output folder holding a good ingest of the fixture: what a user has before the bad run."""
    d = tmp_path_factory.mktemp("good")
    good = shutil.copy(FIXTURE, d / "good.csv")
    r = cli("ingest", str(acled_config(d, Path(good))), "--out", str(d / "out"))
    assert r.returncode == 0, r.stderr
    return d / "out"


@pytest.fixture
def out(tmp_path, ingested) -> Path:
    o = tmp_path / "out"
    shutil.copytree(ingested, o)
    return o


def refused(args: list[str], out: Path) -> str:
    """Run the CLI on ``out``: exit 2, no traceback, ``out`` unchanged; the message on one line."""
    before = snapshot(out)
    r = cli(*args, "--out", str(out))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert snapshot(out) == before, "the output folder changed"
    return " ".join(r.stderr.split())


def ingest_refuses(tmp_path: Path, out: Path, lines: list[str] | bytes) -> tuple[Path, str]:
    events = tmp_path / "events.csv"
    if isinstance(lines, bytes):
        events.write_bytes(lines)
    else:
        write_lines(events, lines)
    return events, refused(["ingest", str(acled_config(tmp_path, events))], out)


def test_1_a_file_with_only_the_header_and_the_hxl_row_has_no_events(tmp_path, out):
    events, msg = ingest_refuses(tmp_path, out, [HEADER, HXL])
    assert (
        f"{events}, row 3: file has a header and an HXL hashtag row but no data rows after them (no events)"
        in msg
    )


def test_1_no_event_in_the_runs_countries_is_refused_at_ingest(tmp_path, out):
    events, msg = ingest_refuses(
        tmp_path, out, [HEADER, HXL, TST901.replace(",Mali,Mopti,", ",Niger,Tillaberi,")]
    )
    assert (
        f"{events}: no events or counts for the run's countries (Mali) in any input (inputs.acled: 1 rows read, none in these countries)"
        in msg
    )


def test_2_implausible_fatalities_are_refused_naming_row_column_and_value(tmp_path, out):
    events, msg = ingest_refuses(
        tmp_path, out, [HEADER, HXL, TST901[: TST901.rfind(",")] + ",1e12", *LINES[3:]]
    )
    assert (
        f"{events}, row 3, column 'fatalities': 1000000000000 is more than 100,000 (ingest.max_fatalities_per_event)"
        in msg
    )


def test_2_the_fatalities_bound_is_a_config_key_and_every_row_above_it_is_named(tmp_path):
    cfg = load_config(acled_config(tmp_path, FIXTURE), ["ingest.max_fatalities_per_event=2"])
    with pytest.raises(InputError) as exc:
        ingest(cfg)
    assert [(p.row, p.column) for p in exc.value.problems] == [(3, "fatalities"), (6, "fatalities")]
    assert "7 is more than 2 (ingest.max_fatalities_per_event)" in str(exc.value)
    assert (
        len(
            ingest(load_config(acled_config(tmp_path, FIXTURE), ["ingest.max_fatalities_per_event=7"])).events
        )
        > 0
    )


def test_3_a_nul_byte_is_refused_where_it_is(tmp_path, out):
    events, msg = ingest_refuses(
        tmp_path, out, [HEADER, HXL, TST901.replace(",Mopti,", ",Mo\x00pti,"), *LINES[3:]]
    )
    assert (
        f"{events}, row 3, column 'admin1': the value contains a NUL byte (\\x00), which would cut it short at 'Mo'"
        in msg
    )


def test_4_a_row_missing_fields_is_refused(tmp_path, out):
    short = TST901.rsplit(",", 2)[0]
    events, msg = ingest_refuses(tmp_path, out, [HEADER, HXL, short, *LINES[3:]])
    assert f"{events}, row 3: malformed CSV: this row has 15 fields, the header has 17" in msg


def test_5_a_repeated_column_name_is_refused(tmp_path, out):
    lines = [HEADER + ",admin1", HXL + ",", *(line + ",Elsewhere" for line in LINES[2:])]
    events, msg = ingest_refuses(tmp_path, out, lines)
    assert (
        f"{events}, row 1, column 'admin1': column name 'admin1' appears 2 times in the header (fields 10, 18)"
        in msg
    )


def test_6_an_unbalanced_quote_is_reported_where_it_opens(tmp_path, out):
    events, msg = ingest_refuses(
        tmp_path,
        out,
        [HEADER, HXL, TST901.replace(",Invented Village One,", ',"Invented Village One,'), *LINES[3:]],
    )
    assert f"{events}, row 3, column 'location': unbalanced quote starting at row 3:" in msg
    assert "lines 3-4 of the file ran together" in msg and "latitude" not in msg


def test_7_a_too_large_integer_is_shown_as_written(tmp_path, out):
    events, msg = ingest_refuses(
        tmp_path, out, [HEADER, HXL, TST901[: TST901.rfind(",")] + ",99999999999999999999", *LINES[3:]]
    )
    assert f"{events}, row 3, column 'fatalities': expected a whole number of at most" in msg
    assert "got '99999999999999999999'" in msg and "-9223372036854775808" not in msg


def test_8_a_latin1_byte_is_reported_at_its_row_and_column(tmp_path, out):
    text = (
        "\n".join([HEADER, HXL, TST901.replace("Invented Village One", "Invented Villége One"), *LINES[3:]])
        + "\n"
    )
    events, msg = ingest_refuses(tmp_path, out, text.encode("latin-1"))
    assert (
        f"{events}, row 3, column 'location': not UTF-8 text: byte 0xE9 in 'Invented Vill\\xe9ge One' cannot be read "
        "(as Latin-1 / Windows-1252 it would be 'Invented Villége One')"
    ) in msg
    assert "byte offset" not in msg and "at byte" not in msg


def test_9_presence_ending_before_it_starts_names_the_end_column(tmp_path, out):
    presence = write_lines(
        tmp_path / "presence.csv",
        [
            "force,country,region,location,latitude,longitude,start_month,end_month,troops,source",
            "Invented Force A,Mali,Gao,Gao,16.27,-0.04,2015-01-01,2016-06-01,,invented",
            "Invented Force B,Mali,Mopti,Sevare,14.53,-4.1,2016-03-01,2015-12-01,,invented",
        ],
    )
    extra = f'[inputs.presence]\nkind = "presence"\nformat = "canonical"\npath = "{presence.as_posix()}"\n'
    msg = refused(["ingest", str(acled_config(tmp_path, FIXTURE, extra))], out)
    assert (
        f"{presence}, row 3, column 'end_month': presence table: must not be before start_month, "
        "got 2015-12-01 (start_month 2016-03-01)"
    ) in msg


def test_10_a_bad_set_override_is_attributed_to_the_override(tmp_path, out):
    p = acled_config(tmp_path, FIXTURE)
    msg = refused(["ingest", str(p), "--set", "backtest.horizons=[0]"], out)
    assert (
        "error: --set backtest.horizons=[0], key 'backtest.horizons': horizons must be a non-empty list"
        in msg
    )
    assert str(p) not in msg and "Value error" not in msg
    msg = refused(["ingest", str(p), "--set", "model.CC=1"], out)
    assert "--set model.CC=1, key 'model.CC': unknown key" in msg


def test_11_features_refuses_tables_ingested_from_other_inputs(tmp_path, out):
    bad = write_lines(tmp_path / "bad.csv", [HEADER, HXL, TST901[: TST901.rfind(",")] + ",-4", *LINES[3:]])
    other = acled_config(tmp_path, bad, name="other.toml")
    msg = refused(["ingest", str(other)], out)  # the failed ingest leaves the good tables as they were
    assert f"{bad}, row 3, column 'fatalities'" in msg
    msg = refused(["features", str(other)], out)
    assert (
        f"{out / 'ingest.json'}: the tables here were not ingested from the inputs this config names" in msg
    )
    assert (
        f"inputs.acled.path is '{bad}' in the config" in msg
        and "run `riskcast ingest` with this config first" in msg
    )


def test_11_features_refuses_tables_whose_input_changed_since(tmp_path):
    events = shutil.copy(FIXTURE, tmp_path / "events.csv")
    good, out = acled_config(tmp_path, Path(events)), tmp_path / "out"
    assert cli("ingest", str(good), "--out", str(out)).returncode == 0
    Path(events).write_text(FIXTURE.read_text().replace(",Invented note one.,3", ",Invented note one.,4"))
    msg = refused(["features", str(good)], out)
    assert f"inputs.acled ({events}) changed since it was ingested" in msg


def test_12_schema_rules_are_said_in_words(tmp_path, out):
    rows = [
        HEADER,
        HXL,
        TST901[: TST901.rfind(",")] + ",-4",
        LINES[3].replace(",14.08,", ",114.08,"),
        *LINES[4:],
    ]
    events, msg = ingest_refuses(tmp_path, out, rows)
    assert f"{events}, row 3, column 'fatalities': events table: must be >= 0, got '-4'" in msg
    assert "row 4, column 'latitude': events table: must be between -90 and 90, got '114.08'" in msg
    for raw in ("greater_than", "in_range", "np.int64", "np.float64"):
        assert raw not in msg


def test_13_every_bad_row_is_reported_at_once_up_to_a_limit(tmp_path, out):
    base = TST901[: TST901.rfind(",")]
    rows = [base.replace("TST901", f"BAD{i:02d}") + ",-1" for i in range(25)]
    rows[0] = rows[0].replace("2018-02-03", "2018-02-31")
    rows[1] = rows[1].replace(",15.01,", ",abc,")
    events, msg = ingest_refuses(tmp_path, out, [HEADER, HXL, *rows])
    assert f"{events}, row 3, column 'event_date': expected a date" in msg
    assert "row 4, column 'latitude': expected a number, got 'abc'" in msg
    assert "26 more problems in this file:" in msg
    assert "row 3, column 'fatalities': events table: must be >= 0, got '-1'" in msg
    assert "... and 7 more not listed (27 in all)" in msg
