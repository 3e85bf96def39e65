"""`riskcast fetch acled` against a real HTTP server on 127.0.0.1 that plays ACLED's API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

import riskcast.fetch.acled as acled_mod
from riskcast.fetch import CredentialsError, FetchError, FetchRequest, ShrinkRefused, fetch_source
from riskcast.io.vintages import current_vintage, read_vintage
from tests.conftest import PROJECT
from tests.fetch._fakes import EMAIL, PASSWORD, json_response


def _req(fake, **kw) -> FetchRequest:
    return FetchRequest("acled", countries=("Mali",), since="2023-01-01", base_url=fake.url, **kw)


def _cli(*args: str, env: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ACLED_", "UCDP_"))},
        "COLUMNS": "300",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "riskcast.cli", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env=full,
        timeout=timeout,
    )


def test_multi_page_fetch_writes_a_vintage_that_passes_the_events_schema(
    acled, acled_env, policy, tmp_path, monkeypatch, half_year_events
):
    monkeypatch.setattr(acled_mod, "PAGE_LIMIT", 50)
    out = fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
    assert [p["page"] for p in acled.read_params] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]  # 236 rows: 4 full pages and a short one
    assert all(
        p["limit"] == "50" and p["country"] == "Mali" and p["event_date_where"] == "BETWEEN"
        for p in acled.read_params
    )
    assert acled.logins == 1 and acled.refreshes == 0
    v = current_vintage(tmp_path / "acled")
    assert v.path == out.vintage.path and v.path.parent == tmp_path / "acled"
    table = read_vintage(tmp_path / "acled", table="events").table  # the canonical events schema
    assert len(table) == len(half_year_events) == out.changes.total == out.changes.new
    assert table["event_id"].is_unique and table["source_dataset"].eq("ACLED").all()
    assert table["recorded"].notna().all()
    m = v.manifest
    assert (
        m["source"] == "acled" and m["endpoint"].endswith("/api/acled/read") and m["requests"] == 6
    )  # 1 login + 5 pages
    assert m["rows"] == {"new": 236, "changed": 0, "unchanged": 0, "deleted": 0, "total": 236}
    assert m["query"] == {"countries": ["Mali"], "since": "2023-01-01", "until": None}
    assert {"fetched_at", "sha256", "riskcast_version"} <= set(m)


def test_update_applies_two_changes_and_one_deletion_exactly(acled, acled_env, policy, tmp_path):
    first = fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy).vintage
    ids = sorted(acled.events)
    acled.revise(ids[3], fatalities=41)
    acled.revise(ids[7], admin1="Mopti")
    acled.delete(ids[11])
    out = fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
    m = out.vintage.manifest
    assert m["incremental"] and m["previous_vintage"] == first.id
    assert (m["rows"]["new"], m["rows"]["changed"], m["rows"]["deleted"], m["rows"]["total"]) == (
        0,
        2,
        1,
        235,
    )
    # the update asked only for what changed since the newest timestamp, and for the deletions
    last = acled.read_params[-1]
    assert (
        last["timestamp_where"] == ">="
        and int(last["timestamp"]) == first.manifest["checkpoint"]["max_timestamp"]
    )
    assert acled.hits["/api/deleted/read"] == 1
    old = pd.read_parquet(first.table_path).set_index("event_id")
    new = pd.read_parquet(out.vintage.table_path).set_index("event_id")
    assert ids[11] not in new.index and ids[11] in old.index
    assert new.loc[ids[3], "fatalities"] == 41 and new.loc[ids[7], "admin1"] == "Mopti"
    same = [i for i in new.index if i not in (ids[3], ids[7])]
    pd.testing.assert_frame_equal(new.loc[same], old.loc[same])  # nothing else moved
    # the first vintage is untouched and listed
    assert first.path.is_dir() and pd.read_parquet(first.table_path).shape[0] == 236


def test_server_refusing_the_token_mid_fetch_gets_a_refresh_not_a_second_login(
    acled, acled_env, policy, tmp_path, monkeypatch
):
    monkeypatch.setattr(acled_mod, "PAGE_LIMIT", 50)
    acled.revoke_after = 2  # the third page meets a 401
    out = fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
    assert out.changes.total == 236
    assert acled.logins == 1 and acled.refreshes == 1


def test_expired_token_is_refreshed_before_use(half_year_events, acled_env, policy, tmp_path, monkeypatch):
    from tests.fetch._fakes import FakeAcled, acled_rows

    monkeypatch.setattr(acled_mod, "PAGE_LIMIT", 100)
    fake = FakeAcled(
        acled_rows(half_year_events, int(time.time())), expires_in=30
    ).start()  # inside authlib's 60 s leeway
    try:
        out = fetch_source(_req(fake), tmp_path, env=acled_env, policy=policy)
    finally:
        fake.stop()
    assert out.changes.total == 236
    assert fake.logins == 1 and fake.refreshes >= 1


def test_wrong_credentials_exit_2_with_a_clear_message_and_no_vintage(acled, tmp_path):
    r = _cli(
        "fetch",
        "acled",
        "--out",
        str(tmp_path),
        "--country",
        "Mali",
        "--base-url",
        acled.url,
        env={"ACLED_EMAIL": EMAIL, "ACLED_PASSWORD": "wrong password 123"},
    )
    assert r.returncode == 2, r.stderr
    assert (
        "ACLED login refused" in r.stderr and "invalid_grant" in r.stderr and "check ACLED_EMAIL" in r.stderr
    )
    assert "Traceback" not in r.stderr and "wrong password 123" not in r.stderr + r.stdout
    assert not [p for p in (tmp_path / "acled").iterdir() if not p.name.startswith(".")]


def test_missing_credentials_and_readable_password_file_are_refused(acled, tmp_path, policy):
    with pytest.raises(CredentialsError, match="set ACLED_EMAIL"):
        fetch_source(_req(acled), tmp_path, env={}, policy=policy)
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    pw.chmod(0o644)
    with pytest.raises(CredentialsError, match="can be read by others.*chmod 600"):
        fetch_source(
            _req(acled), tmp_path, env={"ACLED_EMAIL": EMAIL, "ACLED_PASSWORD_FILE": str(pw)}, policy=policy
        )
    pw.chmod(0o600)
    out = fetch_source(
        _req(acled), tmp_path, env={"ACLED_EMAIL": EMAIL, "ACLED_PASSWORD_FILE": str(pw)}, policy=policy
    )
    assert out.changes.total == 236 and acled.logins == 1


def test_429_waits_what_retry_after_asks_then_succeeds(acled, acled_env, policy, sleeps, tmp_path):
    acled.fail("/api/acled/read", json_response({"message": "Too many requests"}, 429, {"Retry-After": "7"}))
    out = fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
    assert out.changes.total == 236
    assert sleeps == [7.0]
    assert acled.hits["/api/acled/read"] == 2


def test_token_endpoint_429_and_503_are_retried(acled, acled_env, policy, sleeps, tmp_path):
    acled.fail(
        "/oauth/token", json_response({"message": "slow down"}, 429), json_response({"message": "busy"}, 503)
    )
    out = fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
    assert out.changes.total == 236 and acled.logins == 1 and len(sleeps) == 2


def test_repeated_500s_give_up_after_the_configured_tries_and_leave_current(
    acled, acled_env, policy, sleeps, tmp_path
):
    first = fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy).vintage
    hits = acled.hits["/api/acled/read"]
    acled.fail("/api/acled/read", *[json_response({"message": "boom"}, 500)] * 10)
    with pytest.raises(FetchError, match=r"HTTP 500 .* after 3 tries"):
        fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
    assert acled.hits["/api/acled/read"] - hits == 3
    assert len(sleeps) == 2 and all(s > 0 for s in sleeps) and sleeps[1] >= 1.0  # backoff with jitter
    assert current_vintage(tmp_path / "acled").id == first.id
    assert [
        p.name for p in (tmp_path / "acled").iterdir() if not p.name.startswith(".") and p.name != "current"
    ] == [first.id]


def test_a_4xx_other_than_429_is_not_retried(acled, acled_env, policy, sleeps, tmp_path):
    acled.fail("/api/acled/read", json_response({"message": "Invalid parameter: country"}, 400))
    with pytest.raises(FetchError, match="HTTP 400.*Invalid parameter"):
        fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
    assert acled.hits["/api/acled/read"] == 1 and sleeps == []


def test_403_says_the_account_lacks_access(acled, acled_env, policy, tmp_path):
    acled.fail(
        "/api/acled/read", json_response({"message": "Access denied: the account has no API access"}, 403)
    )
    with pytest.raises(CredentialsError, match="refused the credentials \\(HTTP 403"):
        fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
    assert current_vintage(tmp_path / "acled") is None


def test_truncated_json_is_refused_and_current_unchanged(acled, acled_env, policy, tmp_path):
    first = fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy).vintage
    acled.fail("/api/acled/read", "truncated")
    with pytest.raises(FetchError, match="not complete JSON"):
        fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
    assert current_vintage(tmp_path / "acled").id == first.id


def test_an_empty_page_in_the_middle_is_a_partial_answer_not_the_end(
    acled, acled_env, policy, tmp_path, monkeypatch
):
    monkeypatch.setattr(acled_mod, "PAGE_LIMIT", 50)
    acled.fail("/api/acled/read", 1e-3, "empty")  # page 1 as usual (a pause of 1 ms), page 2 empty
    with pytest.raises(FetchError, match="announced 236 rows but its pages ended after 50"):
        fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
    assert current_vintage(tmp_path / "acled") is None


def test_a_fetch_far_smaller_than_the_current_vintage_is_refused_unless_forced(
    acled, acled_env, policy, tmp_path
):
    first = fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy).vintage
    for eid in sorted(acled.events)[:60]:  # a quarter of the events withdrawn at once: looks like an outage
        acled.delete(eid)
    with pytest.raises(ShrinkRefused, match=r"176 rows, 75% of the current vintage's 236.*--force"):
        fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
    assert current_vintage(tmp_path / "acled").id == first.id
    out = fetch_source(_req(acled, force=True), tmp_path, env=acled_env, policy=policy)
    assert out.changes.total == 176 and out.changes.deleted == 60 and out.vintage.manifest["forced"]


def test_plain_http_is_refused_off_loopback(acled_env, policy, tmp_path):
    from riskcast.errors import ConfigError

    with pytest.raises(ConfigError, match="plain http:// is refused for example.org"):
        fetch_source(
            FetchRequest("acled", base_url="http://example.org"), tmp_path, env=acled_env, policy=policy
        )


def test_killed_mid_page_leaves_current_and_the_next_fetch_succeeds(acled, acled_env, tmp_path):
    r = _cli("fetch", "acled", "--out", str(tmp_path), "--base-url", acled.url, env=acled_env)
    assert r.returncode == 0, r.stderr
    before = current_vintage(tmp_path / "acled").id
    acled.revise(sorted(acled.events)[0], fatalities=77)
    acled.fail("/api/acled/read", 30.0)  # the next page hangs; the client is killed meanwhile
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("ACLED_", "UCDP_"))}, **acled_env}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "riskcast.cli",
            "fetch",
            "acled",
            "--out",
            str(tmp_path),
            "--base-url",
            acled.url,
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while acled.hits["/api/acled/read"] < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert acled.hits["/api/acled/read"] == 2, "the second fetch never reached the read endpoint"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert current_vintage(tmp_path / "acled").id == before
    acled.failures["/api/acled/read"].clear()
    r = _cli("fetch", "acled", "--out", str(tmp_path), "--base-url", acled.url, env=acled_env)
    assert r.returncode == 0, r.stderr
    after = current_vintage(tmp_path / "acled")
    assert after.id != before and after.manifest["rows"]["changed"] == 1
    assert "1 changed" in r.stderr and str(after.path) in r.stderr.replace("\n", "")


def test_a_dead_fetchs_partial_folder_is_removed_by_the_next(acled, acled_env, policy, tmp_path):
    junk = tmp_path / "acled" / ".partial-deadbeef0000"
    junk.mkdir(parents=True)
    (junk / "events.parquet").write_bytes(b"half a file")
    msgs = []
    fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy, echo=msgs.append)
    assert not junk.exists() and any("unfinished vintage" in m for m in msgs)


def test_no_secret_reaches_any_output_or_log(acled, tmp_path):
    env = {"ACLED_EMAIL": EMAIL, "ACLED_PASSWORD": PASSWORD}
    r1 = _cli("fetch", "acled", "--out", str(tmp_path), "--base-url", acled.url, env=env)
    acled.fail(
        "/api/acled/read", json_response({"message": "boom"}, 500), json_response({"message": "boom"}, 500)
    )
    r2 = _cli("fetch", "acled", "--out", str(tmp_path), "--base-url", acled.url, "--retries", "2", env=env)
    r3 = _cli("fetch", "--list", "--out", str(tmp_path), env=env)
    assert (r1.returncode, r2.returncode, r3.returncode) == (0, 3, 0), r2.stderr
    tokens = acled.issued
    assert tokens
    blobs = [r.stdout + r.stderr for r in (r1, r2, r3)]
    blobs += [p.read_bytes().decode("latin-1") for p in tmp_path.rglob("*") if p.is_file()]
    for secret in [PASSWORD, EMAIL, *tokens]:
        assert not any(secret in b for b in blobs), f"a secret leaked: {secret[:4]}..."
    assert "current" in r3.stdout and "new 236" in r3.stdout
    assert json.loads(next((tmp_path / "acled").glob("2*/manifest.json")).read_text())["rows"]["total"] == 236


def test_a_401_from_the_token_endpoint_without_an_oauth_error_is_still_refused_credentials(
    acled, acled_env, policy, tmp_path
):
    acled.fail("/oauth/token", json_response({"message": "Unauthorized"}, 401))
    with pytest.raises(CredentialsError, match="refused the login \\(HTTP 401"):
        fetch_source(_req(acled), tmp_path, env=acled_env, policy=policy)
