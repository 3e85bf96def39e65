"""read_input: format name -> reader, with kind checks."""

from __future__ import annotations

import pytest

import riskcast.io as rio
from riskcast.errors import InputError
from riskcast.io import READERS, read_input
from riskcast.io.base import ReadReport, ReadResult
from riskcast.io.canonical import write_canonical
from tests.io._helpers import FIXTURES


def test_public_api():
    assert set(rio.__all__) == {"read_input", "merge_events", "READERS"}
    assert {
        "acled_hdx",
        "acled_export",
        "acled_aggregates",
        "ucdp_ged",
        "powell_thyne",
        "ucdp_peace",
        "geopko",
        "radpko",
        "canonical",
    } <= set(READERS)


def test_dispatch_and_options():
    res = read_input("events", "ucdp_ged", FIXTURES / "ucdp_ged_sample.csv")
    assert res.report.format == "ucdp_ged" and len(res.table) == 12
    res = read_input("events", "acled_hdx", FIXTURES / "acled_hdx_sample.csv", options={})
    assert len(res.table) == 5


def test_canonical_table_from_kind(tmp_path):
    events = read_input("events", "acled_hdx", FIXTURES / "acled_hdx_sample.csv").table
    p = write_canonical(events, tmp_path / "e.parquet")
    res = read_input("events", "canonical", p)
    assert res.report.table == "events" and len(res.table) == 5


def test_unknown_format_lists_known():
    with pytest.raises(InputError) as exc:
        read_input("events", "acled_xlsx", FIXTURES / "acled_hdx_sample.csv")
    assert "unknown format 'acled_xlsx'" in str(exc.value) and "acled_hdx" in str(exc.value)
    assert exc.value.file == str(FIXTURES / "acled_hdx_sample.csv")


def test_kind_mismatch():
    with pytest.raises(InputError, match="gives the events table, not shocks"):
        read_input("shocks", "acled_hdx", FIXTURES / "acled_hdx_sample.csv")


def test_unknown_kind():
    with pytest.raises(InputError, match="unknown input kind 'incidents'"):
        read_input("incidents", "acled_hdx", FIXTURES / "acled_hdx_sample.csv")


def test_registering_a_format(monkeypatch):
    def read_fake(path, *, sheet=None, **options):
        return ReadResult(
            None, ReadReport(file=str(path), format="fake", table="events", notes=[str(options)])
        )

    monkeypatch.setitem(READERS, "fake", ("events", read_fake))
    res = read_input("events", "fake", "x.csv", options={"seed": 1})
    assert res.report.notes == ["{'seed': 1}"]
