"""`riskcast fetch ucdp` and `riskcast fetch coups` against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import riskcast.fetch.ucdp as ucdp_mod
from riskcast.errors import InputError
from riskcast.fetch import CredentialsError, FetchError, FetchRequest, QuotaError, ShrinkRefused, fetch_source
from riskcast.io.vintages import current_vintage, list_vintages, read_vintage
from tests.fetch._fakes import json_response


def _ucdp(fake, *versions, **kw) -> FetchRequest:
    return FetchRequest("ucdp", countries=("Mali",), versions=versions, base_url=fake.url, **kw)


def test_ucdp_pages_from_zero_with_the_token_header_and_checks_the_total(
    ucdp, ucdp_env, policy, tmp_path, monkeypatch
):
    monkeypatch.setattr(ucdp_mod, "PAGE_SIZE", 40)
    out = fetch_source(_ucdp(ucdp, "23.1"), tmp_path, env=ucdp_env, policy=policy)
    assert ucdp.requests == 4  # 150 events, 40 a page: pages 0..3
    table = read_vintage(tmp_path / "ucdp", table="events").table
    assert len(table) == 150 and table["event_id"].str.startswith("GED-").all()
    assert set(table["event_type"]) <= {"state-based", "non-state", "one-sided"}
    assert not table["admin1"].str.endswith(" region").any()  # the same conversion as a downloaded GED file
    m = out.vintage.manifest
    assert m["dataset_version"] == "23.1" and m["checkpoint"]["versions"] == ["23.1"] and m["requests"] == 4
    ledger = json.loads((tmp_path / "ucdp" / "quota.json").read_text())
    assert ledger["used"] == 4 and ledger["daily_limit"] == 5000


def test_ucdp_adds_a_monthly_candidate_release_without_refetching_the_yearly(
    ucdp, ucdp_env, policy, tmp_path, monkeypatch
):
    monkeypatch.setattr(ucdp_mod, "PAGE_SIZE", 100)
    fetch_source(_ucdp(ucdp, "23.1"), tmp_path, env=ucdp_env, policy=policy)
    before = ucdp.requests
    out = fetch_source(_ucdp(ucdp, "23.1", "23.0.4"), tmp_path, env=ucdp_env, policy=policy)
    assert ucdp.requests - before == 1  # only the candidate release (86 events, one page)
    m = out.vintage.manifest
    assert m["incremental"] and m["rows"]["new"] == 86 and m["rows"]["total"] == 236
    assert m["checkpoint"]["versions"] == ["23.0.4", "23.1"] and m["dataset_version"] == "23.1,23.0.4"


def test_ucdp_quota_is_checked_before_the_requests_are_sent(ucdp, ucdp_env, policy, tmp_path, monkeypatch):
    monkeypatch.setattr(ucdp_mod, "PAGE_SIZE", 40)
    # the first page says 4 pages are needed; only 2 requests are allowed today
    with pytest.raises(QuotaError, match=r"needs 3 more request\(s\), but only 1 of the daily 2 are left"):
        fetch_source(_ucdp(ucdp, "23.1", daily_quota=2), tmp_path, env=ucdp_env, policy=policy)
    assert ucdp.requests == 1 and current_vintage(tmp_path / "ucdp") is None
    # with the day's quota spent, nothing at all is sent
    with pytest.raises(QuotaError, match="needs 1 more request"):
        fetch_source(_ucdp(ucdp, "23.1", daily_quota=1), tmp_path, env=ucdp_env, policy=policy)
    assert ucdp.requests == 1


def test_ucdp_failed_requests_count_against_the_quota(ucdp, ucdp_env, policy, tmp_path):
    ucdp.fail("/api/gedevents/23.1", json_response({"message": "busy"}, 503))
    fetch_source(_ucdp(ucdp, "23.1"), tmp_path, env=ucdp_env, policy=policy)
    assert json.loads((tmp_path / "ucdp" / "quota.json").read_text())["used"] == 2  # the 503 and the page


def test_ucdp_without_a_valid_token(ucdp, policy, tmp_path):
    with pytest.raises(CredentialsError, match="UCDP_ACCESS_TOKEN"):
        fetch_source(_ucdp(ucdp, "23.1"), tmp_path, env={}, policy=policy)
    with pytest.raises(CredentialsError, match="HTTP 401"):
        fetch_source(_ucdp(ucdp, "23.1"), tmp_path, env={"UCDP_ACCESS_TOKEN": "not-the-token"}, policy=policy)
    with pytest.raises(FetchError, match="name the GED release"):
        fetch_source(_ucdp(ucdp), tmp_path, env={"UCDP_ACCESS_TOKEN": "x"}, policy=policy)


def test_coups_download_becomes_a_shocks_vintage(coups_server, policy, tmp_path):
    req = FetchRequest("coups", countries=("Mali", "Burkina Faso", "Niger"), base_url=coups_server.url)
    out = fetch_source(req, tmp_path, policy=policy)
    shocks = read_vintage(tmp_path / "coups", table="shocks").table
    assert len(shocks) == 6 and set(shocks["kind"]) == {"coup"}  # Chad is not asked for
    assert out.vintage.manifest["table"] == "shocks" and out.changes.total == 6
    # an answer that lost most rows is refused; the same file again changes nothing
    coups_server.text = coups_server.text.split("\n", 2)[0] + "\n" + coups_server.text.split("\n")[1] + "\n"
    with pytest.raises(ShrinkRefused):
        fetch_source(req, tmp_path, policy=policy)
    assert current_vintage(tmp_path / "coups").id == out.vintage.id


def test_vintage_edited_after_its_fetch_is_refused(coups_server, policy, tmp_path):
    out = fetch_source(FetchRequest("coups", base_url=coups_server.url), tmp_path, policy=policy)
    df = pd.read_parquet(out.vintage.table_path)
    df.loc[0, "description"] = "edited by hand"
    df.to_parquet(out.vintage.table_path, index=False)
    with pytest.raises(InputError, match="changed after it was fetched"):
        read_vintage(tmp_path / "coups", table="shocks")
    with pytest.raises(InputError, match="holds the shocks table, not events"):
        read_vintage(out.vintage.path, table="events")
    with pytest.raises(InputError, match="fetch it first"):
        read_vintage(tmp_path / "acled", table="events")


def test_vintages_are_listed_oldest_first_with_the_current_one(coups_server, policy, tmp_path):
    a = fetch_source(FetchRequest("coups", base_url=coups_server.url), tmp_path, policy=policy).vintage
    b = fetch_source(FetchRequest("coups", base_url=coups_server.url), tmp_path, policy=policy).vintage
    listed = list_vintages(tmp_path / "coups")
    assert [(v.id, cur) for v, cur in listed] == [(a.id, False), (b.id, True)]
    assert b.manifest["rows"]["unchanged"] == 3 and b.manifest["rows"]["changed"] == 0  # three Malian coups


def test_ucdp_releases_sharing_events_keep_the_latest_and_yearly_replaces_candidates(
    half_year_events, ucdp_env, policy, tmp_path
):
    from tests.fetch._fakes import FakeUcdp, ged_rows

    june = half_year_events[pd.to_datetime(half_year_events["date"]) >= "2023-06-01"]
    yearly = ged_rows(half_year_events)  # 24.1 covers 2023: ids 1..236
    candidate = ged_rows(june, start_id=236 - len(june) + 1)  # 23.0.6: June 2023, the same ids as in 24.1
    january = june.iloc[:3].assign(
        date=pd.to_datetime(june["date"].iloc[:3]) + pd.DateOffset(months=7)
    )  # 2024-01
    fake = FakeUcdp({"24.1": yearly, "23.0.6": candidate, "24.0.1": ged_rows(january, start_id=900)}).start()
    try:
        out = fetch_source(
            FetchRequest("ucdp", versions=("23.0.6", "24.1"), base_url=fake.url),
            tmp_path,
            env=ucdp_env,
            policy=policy,
        )
        assert out.changes.total == 236  # no crash on the shared ids, no double counting
        assert any("candidate events dated up to 2023-12-31 left out" in n for n in out.notes)
        # a candidate release after the yearly one is added as an update
        out = fetch_source(
            FetchRequest("ucdp", versions=("23.0.6", "24.1", "24.0.1"), base_url=fake.url),
            tmp_path,
            env=ucdp_env,
            policy=policy,
        )
    finally:
        fake.stop()
    m = out.vintage.manifest
    assert (
        m["incremental"]
        and m["rows"]["new"] == 3
        and m["checkpoint"]["versions"] == ["23.0.6", "24.0.1", "24.1"]
    )


def test_a_redirect_is_not_followed_with_the_token(ucdp, ucdp_env, policy, tmp_path):
    from werkzeug import Response

    from tests.fetch._fakes import FakeUcdp

    elsewhere = FakeUcdp({}).start()
    try:
        ucdp.fail(
            "/api/gedevents/23.1",
            Response("moved", status=302, headers={"Location": f"{elsewhere.url}/api/gedevents/23.1"}),
        )
        with pytest.raises(FetchError, match="redirect, which riskcast does not follow"):
            fetch_source(_ucdp(ucdp, "23.1"), tmp_path, env=ucdp_env, policy=policy)
        assert elsewhere.requests == 0
    finally:
        elsewhere.stop()


def test_an_empty_first_answer_is_refused_unless_forced(acled, acled_env, policy, tmp_path):
    req = FetchRequest("acled", countries=("Burkina faso",), base_url=acled.url)  # misspelt: ACLED knows none
    with pytest.raises(ShrinkRefused, match="no rows at all.*check the country names"):
        fetch_source(req, tmp_path, env=acled_env, policy=policy)
    assert current_vintage(tmp_path / "acled") is None
    out = fetch_source(
        FetchRequest("acled", countries=("Burkina faso",), base_url=acled.url, force=True),
        tmp_path,
        env=acled_env,
        policy=policy,
    )
    assert out.changes.total == 0


def test_bad_options_are_refused_before_any_request(tmp_path):
    from riskcast.errors import ConfigError
    from riskcast.fetch import RetryPolicy

    with pytest.raises(ConfigError, match="--timeout"):
        RetryPolicy(timeout=0)
    with pytest.raises(ConfigError, match="--min-rows-ratio"):
        FetchRequest("acled", min_rows_ratio=1.5)


def test_ucdp_with_every_release_already_held_sends_nothing_and_keeps_the_rows(
    ucdp, ucdp_env, policy, tmp_path
):
    first = fetch_source(_ucdp(ucdp, "23.1"), tmp_path, env=ucdp_env, policy=policy)
    before = ucdp.requests
    again = fetch_source(_ucdp(ucdp, "23.1"), tmp_path, env=ucdp_env, policy=policy)
    assert ucdp.requests == before
    assert again.changes.total == first.changes.total == 150 and again.changes.new == 0
    assert again.vintage.manifest["sha256"] == first.vintage.manifest["sha256"]
