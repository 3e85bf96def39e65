"""Stage hand-overs: each stage refuses a hand-over built from another config or other inputs.

One small synthetic run is made once (module fixture); each test copies its folder and runs a
stage as a user would, through the CLI: exit 2, the file and the stage to rerun named, and the
output folder untouched.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from riskcast.config import default_config
from riskcast.errors import InputError
from riskcast.jobs.handover import check_stamp, stamp
from riskcast.jobs.run import run_all
from riskcast.outputs import RunOutputs, read_run
from riskcast.records import ModelRecord, RunRecord, ScoreRecord, read_record
from tests.conftest import PROJECT, cli

DEMO = PROJECT / "pipelines" / "demo.toml"

SMALL = [
    "model.set=fast",
    "backtest.horizons=[1]",
    "backtest.eval_months=3",
    "backtest.min_train_months=24",
    "backtest.ablation=false",
    "backtest.n_boot=20",
    "report.pdf=false",
    "panel.start=2019-01",
    "target.intensity=[]",
]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("handover") / "out"
    run_all(default_config(SMALL), out, echo=lambda m: None)
    return out


@pytest.fixture
def out(tmp_path, finished) -> Path:
    o = tmp_path / "out"
    shutil.copytree(finished, o)
    # the tracking store is addressed by absolute path: point the copy's records at its own
    for name in ("run.json", "model.json"):
        f = o / name
        f.write_text(f.read_text().replace(str(finished), str(o)))
    return o


def refused(stage: str, out: Path, *sets: str) -> str:
    """``riskcast <stage>`` (demo config) on ``out``: exit 2, no traceback, ``out`` unchanged."""
    before = snapshot(out)
    args = [a for s in (*SMALL, *sets) for a in ("--set", s)]
    r = cli(stage, str(DEMO), "--out", str(out), *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert snapshot(out) == before, "the output folder changed"
    return " ".join(r.stderr.split())


def test_every_hand_over_records_what_it_was_built_from(finished):
    run = read_run(RunOutputs(finished))
    assert set(run.stages) == {"ingest", "features", "backtest", "train"}
    scored = read_record(finished / "score.json", ScoreRecord, "score")
    stages = {**run.stages, "score": scored.built_from}
    hashes = run.data_hashes
    assert all(s.data_hashes == hashes for s in stages.values())
    # each stage's stamp covers its own sections and those before it, not the later ones
    assert "target" in run.stages["features"].config_sections
    assert "model" not in run.stages["features"].config_sections
    assert "model" in run.stages["backtest"].config_sections
    assert "report" not in stages["score"].config_sections
    model = read_record(finished / "model.json", ModelRecord, "train")
    assert model.built_from == run.stages["train"]


def test_backtest_refuses_features_built_with_another_target(out):
    msg = refused("backtest", out, "target.threshold=2")
    assert f"{out / 'features.parquet'}: was built with other settings in [target] than this config" in msg
    assert "run `riskcast features` with this config first" in msg


def test_train_refuses_a_backtest_of_another_model_set(out):
    msg = refused("train", out, "model.set=default")
    assert f"{out / 'metrics.csv'}: was built with other settings in [model] than this config" in msg
    assert "run `riskcast backtest` with this config first" in msg


def test_score_refuses_a_model_trained_with_another_config(out):
    msg = refused("score", out, "promotion.metric=log_loss")
    assert f"{out / 'model.json'}: was built with other settings in [promotion] than this config" in msg
    assert "run `riskcast train`" in msg


def test_report_refuses_scores_of_another_scoring_config(out):
    msg = refused("report", out, "scoring.top_k=1")
    assert f"{out / 'scores.csv'}: was built with other settings in [scoring] than this config" in msg


def test_a_later_section_does_not_invalidate_an_earlier_hand_over(out):
    """Changing the report's title needs no new backtest: only the report reads it."""
    r = cli(
        "report",
        str(DEMO),
        "--out",
        str(out),
        *[a for s in SMALL for a in ("--set", s)],
        "--set",
        "report.title=x",
    )
    assert r.returncode == 0, r.stderr


def test_features_after_a_new_ingest_are_refused_until_rebuilt(out, tmp_path):
    """A new ingest (another seed: other data) leaves features.parquet behind; backtest refuses it."""
    cfg_sets = [*SMALL, "seed=7"]
    r = cli("ingest", str(DEMO), "--out", str(out), *[a for s in cfg_sets for a in ("--set", s)])
    assert r.returncode == 0, r.stderr
    msg = refused("backtest", out, "seed=7")
    assert f"{out / 'features.parquet'}: was built" in msg
    assert "from other data than the tables ingested here (inputs events)" in msg


def test_a_run_json_that_riskcast_did_not_write_is_refused_in_words(out):
    run = json.loads((out / "run.json").read_text())
    run["pannel"] = run.pop("panel")
    (out / "run.json").write_text(json.dumps(run))
    msg = refused("backtest", out)
    assert (
        f"{out / 'run.json'}: is not a run.json that riskcast writes (pannel: Extra inputs are not permitted)"
        in msg
    )


def test_check_stamp_names_every_differing_section():
    a, b = default_config(SMALL), default_config([*SMALL, "target.threshold=2", "panel.start=2020-01"])
    with pytest.raises(InputError, match=r"other settings in \[panel\], \[target\]"):
        check_stamp(
            b, stamp(a, "features", {"events": "x"}), "features", file="f", data_hashes={"events": "x"}
        )
    check_stamp(a, stamp(a, "features", {"events": "x"}), "features", file="f", data_hashes={"events": "x"})
    # compute and name never change a hand-over's numbers
    c = default_config([*SMALL, "compute.n_workers=3", "name=other"])
    check_stamp(c, stamp(a, "score", {}), "score", file="f", data_hashes={})


def test_run_record_refuses_unknown_fields():
    with pytest.raises(ValueError, match="Extra inputs"):
        RunRecord.model_validate({"as_off": "2024-01"})
