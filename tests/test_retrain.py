"""The scheduled job (`riskcast retrain`): a simulated year, idempotence, the lock, kills, validation.

One simulated year (12 monthly runs on the embedded SYNTHETIC data, one corrupt month) is run
once per module with the fast model set; the other tests work on copies of its state folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from riskcast.jobs.retrain import (
    EXIT_INTERNAL,
    EXIT_KEPT,
    EXIT_LOCKED,
    EXIT_PROMOTED,
    EXIT_UNCHANGED,
    EXIT_VALIDATION,
    OWNER_NAME,
    retrain,
)
from riskcast.jobs.simulate import simulate_year

ROOT = Path(__file__).resolve().parents[1]
# HTML reports only: the PDF (3 s each) is checked by tests/reporting, not twelve times here
FAST = [
    "target.intensity=[]",
    "model.set=fast",
    "backtest.horizons=[1]",
    "backtest.eval_months=6",
    "backtest.n_boot=20",
    "backtest.ablation=false",
    "report.pdf=false",
]
MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    work = tmp_path_factory.mktemp("year")
    return simulate_year(work, months=MONTHS, corrupt="2024-05", sets=FAST)


def _client(state: Path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{(Path(state) / 'mlflow.db').as_posix()}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _copy_state(year, tmp_path) -> tuple[Path, Path]:
    """A copy of the year's work folder (feed, spec, state): tests that change it work on their own."""
    src = Path(year["state"]).parent
    dst = tmp_path / "w"
    shutil.copytree(src, dst, symlinks=True)
    spec = dst / "monthly.toml"
    cfg = dst / "monthly_feed.toml"
    cfg.write_text(cfg.read_text().replace(str(src), str(dst)))
    spec.write_text(spec.read_text().replace(str(src), str(dst)))
    return dst, spec


def _runs(state: Path) -> list:
    c = _client(state)
    exp = c.get_experiment_by_name("riskcast-demo")
    return c.search_runs([exp.experiment_id], max_results=5000)


# --- the simulated year ---------------------------------------------------------------------


def test_year_ends_with_eleven_months_and_one_refusal(year):
    runs = {s["as_of"]: s for s in year["runs"]}
    state = Path(year["state"])
    assert [s["as_of"] for s in year["runs"]] == MONTHS
    refused = [m for m, s in runs.items() if s["status"] == "validation_failed"]
    assert refused == ["2024-05"]
    bad = runs["2024-05"]
    assert bad["exit_code"] == EXIT_VALIDATION
    # the reason names the file, the row and the column
    assert "events.csv" in bad["reason"] and "row " in bad["reason"] and "'date'" in bad["reason"]
    assert "train" not in [st["name"] for st in bad.get("steps", [])]
    scored = sorted(p.name for p in (state / "months").iterdir())
    assert scored == [m for m in MONTHS if m != "2024-05"]
    for m in scored:
        d = state / "months" / m
        assert (
            (d / "scores.csv").is_file() and (d / "report.html").is_file() and (d / "summary.json").is_file()
        )
        assert pd.read_csv(d / "scores.csv")["as_of"].eq(m).all()
    assert not list((state / "work").iterdir())  # nothing half-built left behind
    assert len(list((state / "summaries").glob("*.json"))) == 12


def test_champion_kept_through_the_refused_month(year):
    runs = {s["as_of"]: s for s in year["runs"]}
    serving_april = runs["2024-04"]["promotion"]["serving_version"]
    assert runs["2024-06"]["promotion"]["champion_before"]["version"] == serving_april


def test_every_promotion_is_justified_on_the_same_window(year):
    seen_champion = None
    for s in year["runs"]:
        if s["status"] == "validation_failed":
            continue
        p = s["promotion"]
        assert p["champion_before"]["version"] == seen_champion  # compared with the champion of the time
        if s["status"] == "promoted":
            if seen_champion is not None:
                # a better Brier than the previous champion's, on this run's backtest window
                assert p["challenger"]["brier"] < p["champion_before"]["brier"], s["as_of"]
                assert "beats champion" in p["reason"] and p["window"]
            else:
                assert "first model" in p["reason"]
            seen_champion = p["challenger"]["version"]
        elif s["status"] == "refreshed":
            # the champion's own spec refit on newer data: the same rows of the same backtest
            assert p["challenger"]["model"] == p["champion_before"]["model"]
            assert p["challenger"]["brier"] == p["champion_before"]["brier"]
            seen_champion = p["challenger"]["version"]
        else:
            assert s["status"] == "kept" and s["exit_code"] == EXIT_KEPT
            assert "does not beat" in p["reason"] or "worse" in p["reason"]
        assert s["exit_code"] == (EXIT_KEPT if s["status"] == "kept" else EXIT_PROMOTED)
    aliases = _client(Path(year["state"])).get_registered_model("riskcast-demo").aliases
    assert {k: str(v) for k, v in aliases.items()} == {"champion": seen_champion}


def test_every_run_is_finished_or_failed_with_nested_steps(year):
    runs = _runs(Path(year["state"]))
    assert {r.info.status for r in runs} <= {"FINISHED", "FAILED"}
    parents = [r for r in runs if r.data.tags.get("riskcast.kind") == "retrain"]
    assert sorted(r.data.tags["riskcast.as_of"] for r in parents) == MONTHS
    failed = [r for r in parents if r.info.status == "FAILED"]
    assert [r.data.tags["riskcast.as_of"] for r in failed] == ["2024-05"]
    ok = next(r for r in parents if r.data.tags["riskcast.as_of"] == "2024-07")
    children = {
        r.data.tags.get("riskcast.step") or r.data.tags.get("riskcast.kind")
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == ok.info.run_id
    }
    assert {
        "ingest",
        "validate",
        "drift",
        "features",
        "backtest",
        "train",
        "score",
        "report",
        "promote",
    } <= children


# --- idempotence ------------------------------------------------------------------------------


def test_same_month_same_data_does_nothing_new(year):
    # on the year's own state: a copy would move the feed, and a moved feed is another config
    state = Path(year["state"])
    spec = state.parent / "monthly.toml"
    before_runs = len(_runs(state))
    before = {p.name: p.stat().st_mtime_ns for p in (state / "months" / "2024-12").iterdir()}
    s = retrain(spec, as_of="2024-12", state=state, sets=FAST, echo=lambda m: None)
    assert s["status"] == "unchanged" and s["exit_code"] == EXIT_UNCHANGED
    assert "nothing new" in s["reason"]
    assert len(_runs(state)) == before_runs
    assert {p.name: p.stat().st_mtime_ns for p in (state / "months" / "2024-12").iterdir()} == before
    assert json.loads((state / "summary.json").read_text())["status"] == "unchanged"


# --- the lock -----------------------------------------------------------------------------------


def test_a_second_run_is_refused_while_the_lock_is_held(year, tmp_path):
    from filelock import FileLock

    work, spec = _copy_state(year, tmp_path)
    state = work / "state"
    latest = (state / "summary.json").read_text()
    with FileLock(state / "retrain.lock"):
        (state / OWNER_NAME).write_text(
            json.dumps(
                {"pid": 4242, "host": "box", "started": "2025-01-01T06:00:00+00:00", "as_of": "2025-01"}
            )
        )
        s = retrain(spec, as_of="2024-12", state=state, sets=FAST, echo=lambda m: None)
    assert s["status"] == "locked" and s["exit_code"] == EXIT_LOCKED
    assert "pid 4242 on box" in s["reason"]
    assert (state / "summary.json").read_text() == latest  # the holder's summary is not touched


def test_a_stale_lock_is_cleared_and_its_runs_marked_killed(year, tmp_path):
    work, spec = _copy_state(year, tmp_path)
    state = work / "state"
    c = _client(state)
    exp = c.get_experiment_by_name("riskcast-demo")
    dead = c.create_run(
        exp.experiment_id, tags={"riskcast.retrain_id": "deadbeef0001", "riskcast.kind": "retrain"}
    )
    (state / "work" / "2025-01-deadbeef0001").mkdir()
    (state / OWNER_NAME).write_text(
        json.dumps(
            {
                "pid": 999999,
                "host": "box",
                "started": "2025-01-01T06:00:00+00:00",
                "retrain_id": "deadbeef0001",
                "as_of": "2025-01",
                "parent_run_id": dead.info.run_id,
            }
        )
    )
    s = retrain(spec, as_of="2024-12", state=state, sets=FAST, echo=lambda m: None)
    assert s["status"] in ("promoted", "refreshed", "kept")
    assert s["stale_lock_cleared"]["runs_marked_killed"] == [dead.info.run_id]
    assert c.get_run(dead.info.run_id).info.status == "KILLED"
    assert not (state / "work" / "2025-01-deadbeef0001").exists() and not (state / OWNER_NAME).exists()


# --- killed mid-way -------------------------------------------------------------------------------


def test_terminated_mid_way_leaves_champion_and_months_untouched(year, tmp_path):
    work, spec = _copy_state(year, tmp_path)
    state = work / "state"
    c = _client(state)
    champion = str(c.get_registered_model("riskcast-demo").aliases["champion"])
    months = sorted(p.name for p in (state / "months").iterdir())
    env = {**os.environ, "RISKCAST_RETRAIN_PAUSE_BEFORE": "train:60"}
    cmd = [
        str(Path(sys.executable).parent / "riskcast"),
        "retrain",
        str(spec),
        "--as-of",
        "2024-12",
        "--state",
        str(state),
    ]
    cmd += [x for s in FAST + ["seed=7"] for x in ("--set", s)]  # another seed: not the month already done
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        owner = state / OWNER_NAME
        if owner.exists() and json.loads(owner.read_text() or "{}").get("step") == "train":
            time.sleep(1.0)  # in the pause before training: the backtest is done, nothing committed
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the job never reached the pause")
    os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERNAL, err
    s = json.loads((state / "summary.json").read_text())
    assert s["status"] == "terminated"
    assert str(c.get_registered_model("riskcast-demo").aliases["champion"]) == champion
    assert sorted(p.name for p in (state / "months").iterdir()) == months
    assert (
        json.loads((state / "months" / "2024-12" / "summary.json").read_text())["key"]
        == year["runs"][-1]["key"]
    )
    assert not list((state / "work").iterdir()) and not (state / OWNER_NAME).exists()
    parent = c.get_run(s["parent_run_id"])
    assert parent.info.status == "KILLED"
    assert all(r.info.status != "RUNNING" for r in _runs(state))


# --- validation -----------------------------------------------------------------------------------


def test_stale_data_are_refused(year, tmp_path):
    work, spec = _copy_state(year, tmp_path)
    s = retrain(spec, as_of="2025-06", state=work / "state", sets=FAST, echo=lambda m: None)
    assert s["status"] == "validation_failed" and s["exit_code"] == EXIT_VALIDATION
    bad = [c for c in s["validation"]["checks"] if not c["ok"]]
    assert [c["name"] for c in bad] == ["coverage:riskcast-synthetic (SYNTHETIC, NOT REAL EVENTS)"] or all(
        c["name"].startswith("coverage:") for c in bad
    )
    assert "too old" in bad[0]["detail"]
    assert not (work / "state" / "months" / "2025-06").exists()


def test_collapsing_row_counts_are_refused(year, tmp_path):
    work, spec = _copy_state(year, tmp_path)
    feed = work / "feed" / "events.csv"
    df = pd.read_csv(feed)
    df[df["date"] >= "2023-06-01"].to_csv(feed, index=False)  # most of the history vanished
    s = retrain(spec, as_of="2024-12", state=work / "state", sets=FAST, echo=lambda m: None)
    assert s["status"] == "validation_failed"
    rows = next(c for c in s["validation"]["checks"] if c["name"] == "rows:events")
    assert not rows["ok"] and "collapsed" in rows["detail"]


def test_partial_backtest_is_detected(tmp_path):
    from riskcast.jobs.train import backtest_complete

    preds = pd.DataFrame(
        {
            "model": ["m"] * 3,
            "horizon": [1] * 3,
            "origin": ["2024-01", "2024-02", "2024-03"],
            "p": [0.1, 0.2, 0.3],
        }
    )
    preds.to_csv(tmp_path / "p.csv", index=False)
    info = {"1": ["2024-01", "2024-03"]}
    assert backtest_complete(info, tmp_path / "p.csv", ["m"]) is None
    preds.iloc[:2].to_csv(tmp_path / "p.csv", index=False)
    assert "2 of 3 origins" in backtest_complete(info, tmp_path / "p.csv", ["m"])
    preds.assign(p=[0.1, None, 0.3]).to_csv(tmp_path / "p.csv", index=False)
    assert "missing forecasts" in backtest_complete(info, tmp_path / "p.csv", ["m"])


def test_bad_spec_names_the_key_and_exits_2(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text('[job]\nconfig = "demo.toml"\nas_of = "yesterday"\n')
    r = subprocess.run(
        [str(Path(sys.executable).parent / "riskcast"), "retrain", str(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 2 and "job.as_of" in r.stderr
    spec.write_text('[job]\nconfig = "demo.toml"\nretries = 3\n')
    r = subprocess.run(
        [str(Path(sys.executable).parent / "riskcast"), "retrain", str(spec)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 2 and "job.retries" in r.stderr and "unknown key" in r.stderr
