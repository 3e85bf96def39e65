"""Done when: `riskcast fetch acled|ucdp ... --base-url http://127.0.0.1:PORT` writes a vintage whose
table passes the events schema and feeds `riskcast run` unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pandas as pd
import pytest

from riskcast import synth
from riskcast.io.vintages import read_vintage
from riskcast.paths import project_file
from tests.conftest import PROJECT
from tests.fetch._fakes import EMAIL, PASSWORD, UCDP_TOKEN, FakeAcled, FakeUcdp, acled_rows, ged_rows

SETS = [
    "panel.start=2024-01",
    "backtest.min_train_months=6",
    "backtest.eval_months=3",
    "backtest.horizons=[1]",
    "model.set=fast",
    "backtest.n_boot=0",
    "backtest.ablation=false",
    "report.pdf=false",
    "target.intensity=[]",
]


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
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
        timeout=600,
    )


@pytest.fixture(scope="module")
def servers():
    events = synth.default_events(seed=20240601, start="2012-01", end="2024-12", level="admin1")
    acled = FakeAcled(acled_rows(events, int(time.time()))).start()
    recent = events[pd.to_datetime(events["date"]) >= "2023-07-01"]
    ucdp = FakeUcdp(
        {
            "24.1": ged_rows(recent[pd.to_datetime(recent["date"]) < "2024-01-01"]),
            "24.0.12": ged_rows(recent[pd.to_datetime(recent["date"]) >= "2024-01-01"], start_id=50_000),
        }
    ).start()
    yield acled, ucdp
    acled.stop()
    ucdp.stop()


def test_fetched_acled_and_ucdp_feed_riskcast_run_unchanged(servers, tmp_path):
    acled, ucdp = servers
    data = tmp_path / "data"
    r = _cli(
        "fetch",
        "acled",
        "--country",
        "Mali",
        "--since",
        "2024-01-01",
        "--base-url",
        acled.url,
        "--out",
        str(data),
        env={"ACLED_EMAIL": EMAIL, "ACLED_PASSWORD": PASSWORD},
    )
    assert r.returncode == 0, r.stderr
    assert "acled: 1258 new, 0 changed, 0 deleted, 1258 total (full fetch); vintage" in r.stderr
    r = _cli(
        "fetch",
        "ucdp",
        "--country",
        "Mali",
        "--since",
        "2024-01-01",
        "--version",
        "24.1",
        "--version",
        "24.0.12",
        "--base-url",
        ucdp.url,
        "--out",
        str(data),
        env={"UCDP_ACCESS_TOKEN": UCDP_TOKEN},
    )
    assert r.returncode == 0, r.stderr
    a = read_vintage(data / "acled", table="events").table  # both pass the canonical events schema
    u = read_vintage(data / "ucdp", table="events").table
    assert len(a) == 1258 and pd.to_datetime(a["date"]).min() >= pd.Timestamp("2024-01-01")
    assert len(u) == 1258 and u["source_dataset"].eq("UCDP GED").all()

    demo = project_file("pipelines", "demo.toml").read_text(encoding="utf-8")
    old = '[inputs.events]\nkind = "events"\nformat = "synthetic"\noptions = { start = "2012-01", end = "2024-12" }'
    assert old in demo
    config = tmp_path / "live.toml"
    config.write_text(
        demo.replace(
            old,
            f'[inputs.acled]\nkind = "events"\nformat = "vintage"\npath = "{data / "acled"}"\n\n'
            f'[inputs.ucdp]\nkind = "events"\nformat = "vintage"\npath = "{data / "ucdp"}"',
        )
    )
    out = tmp_path / "out"
    r = _cli("run", str(config), "--out", str(out), *[a for s in SETS for a in ("--set", s)], env={})
    assert r.returncode == 0, r.stderr
    run = json.loads((out / "run.json").read_text())
    assert {k: v["source"] for k, v in run["data_vintages"].items()} == {"acled": "acled", "ucdp": "ucdp"}
    assert run["inputs"]["acled"]["rows_kept"] == 1258 and run["inputs"]["ucdp"]["rows_kept"] == 1258
    assert run["data_hashes"]["acled"] == run["data_vintages"]["acled"]["sha256"]
    html = (out / "report.html").read_text()
    assert (
        f"acled from acled vintage {run['data_vintages']['acled']['vintage']}" in html
    )  # the analyst sees the data's vintage
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 10 and scores["as_of"].eq("2024-12").all()
