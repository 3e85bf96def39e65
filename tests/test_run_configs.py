"""End to end on other configurations: real ACLED files, admin-2 and PRIO-GRID units, the stage
commands, reproducibility. (Apart from tests/test_run.py, whose module runs the main job once, so
that the two can run side by side.)"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from riskcast.config import default_config
from riskcast.jobs.run import run_all
from tests.conftest import cli


def test_same_inputs_config_and_seed_give_identical_scores(tmp_path):
    """Every model of the default set (tuned, boosted, ensembled) and the bootstrap, twice: same bytes.

    A short window keeps it quick; the serial and the parallel backtest must agree too.
    """
    quick = [
        "backtest.horizons=[1, 12]",
        "backtest.eval_months=4",
        "backtest.ablation=false",
        "report.pdf=false",
    ]
    run_all(default_config(quick), tmp_path / "a", echo=lambda m: None)
    run_all(default_config([*quick, "backtest.n_jobs=1"]), tmp_path / "b", echo=lambda m: None)
    for name in (
        "scores.csv",
        "predictions.csv",
        "metrics.csv",
        "reliability.csv",
        "intensity_predictions.csv",
        "intensity_metrics.csv",
        "intensity_scores.csv",
    ):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    a, b = (json.loads((tmp_path / d / "run.json").read_text()) for d in ("a", "b"))
    assert a["data_hashes"] == b["data_hashes"]
    assert set(pd.read_csv(tmp_path / "a" / "predictions.csv")["model"]) >= {
        "ensemble",
        "lgbm",
        "glm_negbin",
        "logistic",
    }


def test_real_acled_mali_run(shared_data, tmp_path):
    """The example config on the real ACLED Mali file: 10 regions, 2012-01 to the file's end."""
    # The real file through every stage; the fast model set without the ablation keeps it short
    # (the default set on real data is the skill card's job: benchmarks/skill.py).
    quick = ["model.set=fast", "backtest.ablation=false", "backtest.n_boot=20", "report.pdf=false"]
    r = cli(
        "run", "examples/acled_mali.toml", "--out", str(tmp_path), *[x for s in quick for x in ("--set", s)]
    )
    assert r.returncode == 0, r.stderr
    panel = pd.read_parquet(tmp_path / "features.parquet")
    assert panel["unit_id"].nunique() == 10
    assert f"{panel['month'].min():%Y-%m}" == "2012-01" and f"{panel['month'].max():%Y-%m}" == "2019-06"
    run = json.loads((tmp_path / "run.json").read_text())
    acled = run["inputs"]["acled"]
    assert acled["rows_read"] == 2913 and acled["rows_kept"] + acled["rows_dropped"] == acled["rows_read"]
    assert run["panel"]["events_not_in_panel"]["before the panel start"] > 0
    assert "events before the panel start" in r.stderr
    preds = pd.read_csv(tmp_path / "predictions.csv")
    assert set(preds["horizon"]) == {1, 3, 6, 12}
    assert (tmp_path / "report.html").is_file() and (tmp_path / "scores.csv").is_file()
    html = (tmp_path / "report.html").read_text()
    # ACLED's record times give a reporting lag in the coverage headline
    assert "median reporting lag" in html


@pytest.mark.parametrize(
    "sets",
    [
        ["unit=admin2", 'inputs.events.options.level="admin2"'],
        ["unit=priogrid", "regions.bbox=[-4.5, 14.0, 1.5, 18.0]", "regions.max_unassigned_share=0.9"],
    ],
    ids=["admin2", "priogrid"],
)
def test_other_spatial_units(tmp_path, sets):
    quick = [
        "backtest.horizons=[1, 3]",
        "backtest.eval_months=6",
        'model.set="fast"',
        'backtest.ablation_model="logistic"',
        "report.pdf=false",
    ]
    cfg = default_config([*sets, *quick])
    result = run_all(cfg, tmp_path, echo=lambda m: None)
    panel = pd.read_parquet(tmp_path / "features.parquet")
    n_units = panel["unit_id"].nunique()
    if cfg.unit == "admin2":
        assert n_units == 50
    else:
        assert n_units == 12 * 8 and panel["unit_id"].str.match(r"^PG\d+$").all()
    assert len(panel) == n_units * panel["month"].nunique()
    assert result["registered_model_version"] == "1"
    ablation = pd.read_csv(tmp_path / "ablation.csv")  # the ablation by feature family runs here
    assert len(ablation) > 0


def test_real_burkina_faso_run_with_all_context_sources(shared_data, tmp_path):
    """The default feature set on real Burkina Faso events, curated presence/shocks, P&T coups, UCDP accords."""
    d = shared_data
    cfg_path = tmp_path / "bfa.toml"
    cfg_path.write_text(f"""
name = "bfa"
countries = ["Burkina Faso"]
[inputs.acled]
kind = "events"
format = "acled_hdx"
path = "{(d / "events" / "acled_hdx_burkina_faso_1997_2020-08.csv").as_posix()}"
[inputs.coups]
kind = "shocks"
format = "powell_thyne"
path = "{(d / "shocks" / "powell_thyne_coups_V2022.11.29.csv").as_posix()}"
[inputs.accords]
kind = "shocks"
format = "ucdp_peace"
path = "{(d / "shocks" / "ucdp_peace_agreements_221.xlsx").as_posix()}"
[inputs.shocks]
kind = "shocks"
format = "curated"
[inputs.presence]
kind = "presence"
format = "curated"
[backtest]
horizons = [1, 3]
eval_months = 12
ablation_model = "logistic"
[model]
set = "fast"
[report]
pdf = false
""")
    r = cli("run", str(cfg_path), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    panel = pd.read_parquet(tmp_path / "out" / "features.parquet")
    assert panel["unit_id"].nunique() == 13
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert len(run["feature_sets"]["default"]["columns"]) >= 60
    # the 2014 coup reaches the shock features; read from two sources, it is counted once
    decay = panel.groupby("month")["shock_decay_coup_halflife3"].first()
    assert decay.loc["2014-10-01"] == 1.0 and decay.loc["2014-09-01"] < 1e-6
    assert run["inputs"]["shocks"]["rows_dropped"] + run["inputs"]["coups"]["rows_dropped"] > 0
    assert any("already read" in reason for reason in run["inputs"]["shocks"]["dropped"]) or any(
        "already read" in reason for reason in run["inputs"]["coups"]["dropped"]
    )


def test_stage_commands_chain_through_the_output_folder(tmp_path):
    quick = [
        "--set",
        "backtest.horizons=[1]",
        "--set",
        "backtest.eval_months=3",
        "--set",
        "model.set=fast",
        "--set",
        "backtest.ablation_model=logistic",
    ]
    for stage in ("ingest", "features", "backtest", "train", "score", "report"):
        r = cli(stage, "pipelines/demo.toml", "--out", str(tmp_path), *quick)
        assert r.returncode == 0, (stage, r.stderr)
    for name in (
        "features.parquet",
        "predictions.csv",
        "metrics.csv",
        "scores.csv",
        "report.html",
        "run.json",
    ):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "run.json").read_text())["registered_model_version"] == "1"
