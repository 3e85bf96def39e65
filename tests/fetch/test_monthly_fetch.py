"""The monthly job fetches first: a simulated year against a fake ACLED on 127.0.0.1.

Before each run the server's data grow by a month, two earlier events are revised and one is
withdrawn. The year ends with twelve month folders, each naming the vintage it used; one past
month is rebuilt from its recorded vintage with identical scores.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from riskcast import synth
from riskcast.jobs.retrain import EXIT_FETCH, retrain
from riskcast.paths import project_file
from tests.conftest import cli
from tests.fetch._fakes import EMAIL, PASSWORD, FakeAcled, acled_rows, json_response

MONTHS = [f"2024-{m:02d}" for m in range(1, 13)]
# a small, quick job: the fast model set, one horizon, a short evaluation window, HTML reports only
FAST = [
    "target.intensity=[]",
    "model.set=fast",
    "backtest.horizons=[1]",
    "backtest.eval_months=4",
    "backtest.n_boot=0",
    "backtest.ablation=false",
    "panel.start=2017-01",
    "report.pdf=false",
]


def _write_spec(work: Path, url: str) -> tuple[Path, Path]:
    demo = project_file("pipelines", "demo.toml").read_text(encoding="utf-8")
    old = 'format = "synthetic"\noptions = { start = "2012-01", end = "2024-12" }'
    assert old in demo
    config = work / "monthly_live.toml"
    config.write_text(
        demo.replace(old, f'format = "vintage"\npath = "{(work / "data" / "acled").as_posix()}"'),
        encoding="utf-8",
    )
    spec = work / "monthly.toml"
    spec.write_text(
        project_file("pipelines", "monthly.toml")
        .read_text(encoding="utf-8")
        .replace('config = "demo.toml"', f'config = "{config.as_posix()}"')
        + f'\n[fetch]\ndata_dir = "{(work / "data").as_posix()}"\nretries = 2\n\n'
        f'[fetch.sources.acled]\nsince = "2012-01-01"\nbase_url = "{url}"\n',
        encoding="utf-8",
    )
    return spec, config


@pytest.fixture(scope="module")
def live_year(tmp_path_factory):
    work = tmp_path_factory.mktemp("live")
    events = synth.default_events(seed=20240601, start="2012-01", end="2024-12", level="admin1")
    month = pd.to_datetime(events["date"]).dt.to_period("M").astype(str)
    fake = FakeAcled(acled_rows(events[month < MONTHS[0]], int(time.time()))).start()
    spec, config = _write_spec(work, fake.url)
    runs, revised, deleted = [], [], []
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("ACLED_EMAIL", EMAIL)
            mp.setenv("ACLED_PASSWORD", PASSWORD)
            for i, m in enumerate(MONTHS):
                fake.add(acled_rows(events[month == m], int(time.time())))
                if i:  # the source revises and withdraws a few earlier events
                    ids = sorted(fake.events)
                    for eid in (ids[5 * i], ids[5 * i + 1]):
                        fake.revise(eid, fatalities=int(fake.events[eid]["fatalities"]) + 1)
                        revised.append(eid)
                    fake.delete(ids[5 * i + 2])
                    deleted.append(ids[5 * i + 2])
                runs.append(retrain(spec, as_of=m, state=work / "state", sets=FAST))
            # a month whose source is down: the job stops before training, champion kept
            fake.fail("/api/acled/read", *[json_response({"message": "down"}, 503)] * 4)
            down = retrain(spec, as_of="2025-01", state=work / "state", sets=FAST)
    finally:
        fake.stop()
    return {
        "work": work,
        "runs": runs,
        "down": down,
        "config": config,
        "revised": revised,
        "deleted": deleted,
        "tokens": list(fake.issued),
    }


def test_twelve_month_folders_each_recording_its_vintage(live_year):
    state = live_year["work"] / "state"
    assert [s["as_of"] for s in live_year["runs"]] == MONTHS
    assert all(s["exit_code"] in (0, 10) for s in live_year["runs"]), [
        s.get("reason") for s in live_year["runs"]
    ]
    assert sorted(p.name for p in (state / "months").iterdir()) == MONTHS
    seen = []
    for m, s in zip(MONTHS, live_year["runs"]):
        folder = state / "months" / m
        summary = json.loads((folder / "summary.json").read_text())
        run = json.loads((folder / "run.json").read_text())
        v = summary["data_vintages"]["events"]
        assert v == run["data_vintages"]["events"] and v["source"] == "acled"
        assert summary["fetch"]["sources"]["acled"]["vintage"] == v["vintage"]
        assert summary["fetch"]["sources"]["acled"]["read_by_inputs"] == ["events"]
        assert [st["name"] for st in summary["steps"]][:2] == ["fetch", "ingest"]
        seen.append(v["vintage"])
    assert len(set(seen)) == 12
    # each update after the first: the month's new events, two revisions, one withdrawal
    data = live_year["work"] / "data" / "acled"
    for m, vid in zip(MONTHS[1:], seen[1:]):
        rows = json.loads((data / vid / "manifest.json").read_text())["rows"]
        assert (rows["changed"], rows["deleted"]) == (2, 1) and rows["new"] > 0, (m, rows)
    final = pd.read_parquet(data / seen[-1] / "events.parquet").set_index("event_id")
    assert not final.index.isin(live_year["deleted"]).any()


def test_vintages_are_tagged_on_the_mlflow_runs(live_year):
    from mlflow import MlflowClient

    uri = f"sqlite:///{(live_year['work'] / 'state' / 'mlflow.db').as_posix()}"
    c = MlflowClient(tracking_uri=uri, registry_uri=uri)
    exp = c.get_experiment_by_name("riskcast-demo")
    parents = c.search_runs(
        [exp.experiment_id], filter_string="tags.`riskcast.kind` = 'retrain'", max_results=100
    )
    tagged = {r.data.tags["riskcast.as_of"]: r.data.tags.get("riskcast.vintage.events") for r in parents}
    for m, s in zip(MONTHS, live_year["runs"]):
        assert tagged[m] == f"acled/{s['data_vintages']['events']['vintage']}"


def test_a_source_outage_stops_the_job_before_training(live_year):
    down = live_year["down"]
    assert down["status"] == "fetch_failed" and down["exit_code"] == EXIT_FETCH
    assert "HTTP 503" in down["reason"] and "champion kept" in down["reason"]
    assert [st["name"] for st in down["steps"]] == ["fetch"]
    assert not (live_year["work"] / "state" / "months" / "2025-01").exists()
    current = (live_year["work"] / "data" / "acled" / "current").resolve().name
    assert current == live_year["runs"][-1]["data_vintages"]["events"]["vintage"]


def test_a_past_month_rebuilt_from_its_vintage_gives_identical_scores(live_year, tmp_path):
    state = live_year["work"] / "state"
    served = [s for s in live_year["runs"] if s["status"] in ("promoted", "refreshed")]
    assert served, "no month served its own challenger"
    month = served[len(served) // 2]["as_of"]
    folder = state / "months" / month
    vintage = json.loads((folder / "summary.json").read_text())["data_vintages"]["events"]["path"]
    out = tmp_path / "rebuild"
    r = cli(
        "run",
        str(live_year["config"]),
        "--out",
        str(out),
        "--set",
        f"inputs.events.path={vintage}",
        "--set",
        f"panel.end={month}",
        *[a for s in FAST for a in ("--set", s)],
    )
    assert r.returncode == 0, r.stderr
    for name in ("predictions.csv", "metrics.csv"):
        assert (out / name).read_bytes() == (folder / name).read_bytes(), name
    a, b = pd.read_csv(out / "scores.csv"), pd.read_csv(folder / "scores.csv")
    keep = [c for c in a.columns if c != "model_version"]
    pd.testing.assert_frame_equal(a[keep], b[keep])
    assert (
        json.loads((out / "run.json").read_text())["data_vintages"]["events"]["sha256"]
        == json.loads((folder / "run.json").read_text())["data_vintages"]["events"]["sha256"]
    )
    assert os.path.samefile(vintage, Path(live_year["work"]) / "data" / "acled" / Path(vintage).name)


def test_no_credential_or_token_in_the_state_the_data_or_mlflow(live_year):
    assert len(live_year["tokens"]) >= 26  # a login (access + refresh token) per fetch
    files = [p for p in live_year["work"].rglob("*") if p.is_file()]
    assert any(p.name == "mlflow.db" for p in files) and any(p.name == "summary.json" for p in files)
    for p in files:
        blob = p.read_bytes()
        for secret in [PASSWORD, EMAIL, *live_year["tokens"]]:
            assert secret.encode() not in blob, f"{p} holds a secret ({secret[:4]}...)"


def test_a_fetched_source_that_no_input_reads_stops_the_job(tmp_path):
    """Input paths are read from the working directory, data_dir from the spec's folder: when they
    disagree the job must not train on other data than it fetched."""
    spec, config = _write_spec(tmp_path, "http://127.0.0.1:9")
    config.write_text(config.read_text().replace(str(tmp_path / "data" / "acled"), "somewhere/else/acled"))
    s = retrain(spec, as_of="2024-01", state=tmp_path / "state", sets=FAST)
    assert s["status"] == "fetch_failed" and s["exit_code"] == EXIT_FETCH
    assert (
        "no input of the run config reads it" in s["reason"]
        and str(tmp_path / "data" / "acled") in s["reason"]
    )
    assert not (tmp_path / "state" / "months").exists()
