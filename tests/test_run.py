"""End to end: the main job on the embedded data, through the CLI, and its contract."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from riskcast.config import default_config
from riskcast.jobs.run import run_all
from tests.conftest import cli





@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    r = cli("demo", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith(str((out / "report.html").resolve()))
    return out


def test_outputs_follow_the_contract(demo_out):
    for name in ("features.parquet", "predictions.csv", "metrics.csv", "scores.csv", "report.html", "run.json"):
        assert (demo_out / name).is_file(), name
    panel = pd.read_parquet(demo_out / "features.parquet")
    assert {"unit_id", "unit_name", "country", "month"} <= set(panel.columns)
    assert panel["unit_id"].nunique() == 10
    assert any(c.startswith("target_") for c in panel.columns)
    assert len(panel) == panel["unit_id"].nunique() * panel["month"].nunique()  # complete grid
    preds = pd.read_csv(demo_out / "predictions.csv")
    for col in ("unit_id", "unit_name", "country", "origin", "target_month", "horizon", "model", "y_true", "p", "expected_count",
                "q10", "q50", "q90", "y_count"):
        assert col in preds.columns
    assert set(preds["model"]) == {"climatology", "persistence", "zero_count", "last_value", "logistic_history", "logistic", "glm_negbin_history",
                                   "glm_negbin", "lgbm_history", "lgbm", "ensemble", "ensemble_platt"}
    for name in ("reliability.csv", "ablation.csv", "metrics_by_country.csv", "metrics_by_unit.csv", "figures/reliability.png"):
        assert (demo_out / name).is_file(), name
    metrics = pd.read_csv(demo_out / "metrics.csv")
    assert list(metrics.columns) == ["model", "horizon", "metric", "value", "ci_low", "ci_high", "n", "note"]
    point = metrics[metrics["value"].notna() & metrics["ci_low"].notna()]
    assert ((point["ci_low"] <= point["value"] + 1e-12) & (point["value"] <= point["ci_high"] + 1e-12)).all()
    # baselines and model are scored on identical folds: same n per horizon and metric
    assert metrics.groupby(["horizon", "metric"])["n"].nunique().max() == 1
    run = json.loads((demo_out / "run.json").read_text())
    for key in ("mlflow_run_id", "registered_model", "registered_model_version", "data_hashes", "config_hash", "inputs"):
        assert key in run, key
    assert run["inputs"]["events"]["rows_read"] > 0
    assert all(len(h) == 64 for h in run["data_hashes"].values())


def test_model_beats_nothing_silently(demo_out):
    """The logistic model is reported beside both baselines; on the synthetic data it is informative."""
    m = pd.read_csv(demo_out / "metrics.csv")
    auc = m[(m["metric"] == "auroc") & (m["horizon"] == 1)].set_index("model")["value"]
    assert {"climatology", "persistence", "logistic"} <= set(auc.index)
    assert auc["logistic"] > 0.7


def test_scores_come_from_the_registry(demo_out):
    import mlflow

    run = json.loads((demo_out / "run.json").read_text())
    client = mlflow.MlflowClient(tracking_uri=run["tracking_uri"], registry_uri=run["tracking_uri"])
    mv = client.get_model_version(run["registered_model"], run["registered_model_version"])
    assert mv.run_id == run["mlflow_run_id"]
    r = client.get_run(run["mlflow_run_id"])
    assert r.data.tags["config_hash"] == run["config_hash"]
    assert any(k.startswith("auroc_h1_") for k in r.data.metrics)
    scores = pd.read_csv(demo_out / "scores.csv")
    assert set(scores["horizon"]) == {1, 3, 6, 12} and scores["p"].between(0, 1).all()
    assert (scores["model"] == run["registered_model"]).all()
    assert (scores["model_version"].astype(str) == str(run["champion_version"])).all()
    assert scores["tier"].notna().all() and (scores["q10"] <= scores["q90"]).all()
    assert str(client.get_registered_model(run["registered_model"]).aliases["champion"]) == str(run["champion_version"])


def test_report_says_the_data_are_synthetic(demo_out):
    html = (demo_out / "report.html").read_text()
    assert "SYNTHETIC" in html and "climatology" in html and "persistence" in html


def test_same_inputs_config_and_seed_give_identical_scores(tmp_path):
    """Every model of the default set (tuned, boosted, ensembled) and the bootstrap, twice: same bytes.

    A short window keeps it quick; the serial and the parallel backtest must agree too.
    """
    quick = ["backtest.horizons=[1, 12]", "backtest.eval_months=4", "backtest.ablation=false"]
    run_all(default_config(quick), tmp_path / "a", echo=lambda m: None)
    run_all(default_config([*quick, "backtest.n_jobs=1"]), tmp_path / "b", echo=lambda m: None)
    for name in ("scores.csv", "predictions.csv", "metrics.csv", "reliability.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    a, b = (json.loads((tmp_path / d / "run.json").read_text()) for d in ("a", "b"))
    assert a["data_hashes"] == b["data_hashes"]
    assert set(pd.read_csv(tmp_path / "a" / "predictions.csv")["model"]) >= {"ensemble", "lgbm", "glm_negbin", "logistic"}


def test_real_acled_mali_run(shared_data, tmp_path):
    """The example config on the real ACLED Mali file: 10 regions, 2012-01 to the file's end."""
    r = cli("run", "examples/acled_mali.toml", "--out", str(tmp_path))
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


@pytest.mark.parametrize("sets", [
    ["unit=admin2", "inputs.events.options.level=\"admin2\""],
    ["unit=priogrid", "regions.bbox=[-4.5, 14.0, 1.5, 18.0]", "regions.max_unassigned_share=0.9"],
], ids=["admin2", "priogrid"])
def test_other_spatial_units(tmp_path, sets):
    quick = ["backtest.horizons=[1, 3]", "backtest.eval_months=6", "model.set=\"fast\"", "backtest.ablation_model=\"logistic\""]
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


def test_strings_from_data_are_escaped_in_the_report(demo_out, tmp_path):
    import shutil

    from riskcast.reporting.report import render_report

    out = tmp_path / "copy"
    shutil.copytree(demo_out, out)
    hostile = "<script>alert('x')</script>"
    scores = pd.read_csv(out / "scores.csv")
    scores["unit_name"] = hostile
    scores.to_csv(out / "scores.csv", index=False)
    events = pd.read_parquet(out / "tables" / "events.parquet")
    events["source_dataset"] = hostile + " synthetic"
    events.to_parquet(out / "tables" / "events.parquet")
    html = render_report(default_config(), out)
    assert "<script>" not in html and "&lt;script&gt;" in html


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
path = "{(d / 'events' / 'acled_hdx_burkina_faso_1997_2020-08.csv').as_posix()}"
[inputs.coups]
kind = "shocks"
format = "powell_thyne"
path = "{(d / 'shocks' / 'powell_thyne_coups_V2022.11.29.csv').as_posix()}"
[inputs.accords]
kind = "shocks"
format = "ucdp_peace"
path = "{(d / 'shocks' / 'ucdp_peace_agreements_221.xlsx').as_posix()}"
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
    assert any("already read" in reason for reason in run["inputs"]["shocks"]["dropped"]) or \
        any("already read" in reason for reason in run["inputs"]["coups"]["dropped"])


def test_report_compares_full_and_history_only_per_horizon(demo_out):
    html = (demo_out / "report.html").read_text()
    assert "Full feature set against history only" in html
    m = pd.read_csv(demo_out / "metrics.csv")
    bss = m[m["metric"] == "brier_skill_vs_climatology"].pivot_table(index="horizon", columns="model", values="value")
    assert len(bss) == 4
    for model in ("logistic", "glm_negbin", "lgbm"):
        assert f"<td class=\"l\">{model}</td>" in html
    # The embedded data's effects are known: with the count GLM, the full feature set beats
    # history only at every horizon (issue 3's criterion; the README records the numbers).
    assert (bss["glm_negbin"] > bss["glm_negbin_history"]).all(), bss[["glm_negbin", "glm_negbin_history"]]


def test_stage_commands_chain_through_the_output_folder(tmp_path):
    quick = ["--set", "backtest.horizons=[1]", "--set", "backtest.eval_months=3", "--set", "model.set=fast",
             "--set", "backtest.ablation_model=logistic"]
    for stage in ("ingest", "features", "backtest", "train", "score", "report"):
        r = cli(stage, "pipelines/demo.toml", "--out", str(tmp_path), *quick)
        assert r.returncode == 0, (stage, r.stderr)
    for name in ("features.parquet", "predictions.csv", "metrics.csv", "scores.csv", "report.html", "run.json"):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "run.json").read_text())["registered_model_version"] == "1"


def test_score_command_by_champion_version_and_run(demo_out, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(demo_out, out)
    run = json.loads((out / "run.json").read_text())
    r = cli("score", "pipelines/demo.toml", "--out", str(out), "--output", str(tmp_path / "s.parquet"))
    assert r.returncode == 0, r.stderr
    champion = pd.read_parquet(tmp_path / "s.parquet")
    # the MLflow store lives in the copied folder's run.json URI only for the registry; the copy's
    # own mlflow.db holds the same registry, so version 1 and the run give the same scores
    r = cli("score", "pipelines/demo.toml", "--out", str(out), "--version", "1", "--output", str(tmp_path / "v.json"))
    assert r.returncode == 0, r.stderr
    by_version = pd.read_json(tmp_path / "v.json")
    r = cli("score", "pipelines/demo.toml", "--out", str(out), "--run", run["mlflow_run_id"], "--output", str(tmp_path / "r.csv"))
    assert r.returncode == 0, r.stderr
    by_run = pd.read_csv(tmp_path / "r.csv")
    assert len(champion) == len(by_version) == len(by_run) == 10 * 4
    for other in (by_version, by_run):
        assert other["p"].round(9).tolist() == champion["p"].round(9).tolist()
    assert (by_run["model_version"] == f"run:{run['mlflow_run_id']}").all()
    r = cli("score", "pipelines/demo.toml", "--out", str(out), "--output", str(tmp_path / "bad.txt"))
    assert r.returncode == 2 and "--output" in r.stderr and not (tmp_path / "bad.txt").exists()


def test_report_explains_the_top_units_in_words(demo_out):
    html = (demo_out / "report.html").read_text()
    assert "what pushed each top unit" in html
    section = html[html.index("what pushed each top unit"):html.index("<h2>All units</h2>")]
    assert ("&uarr;" in section or "↑" in section) and any(ch.isdigit() for ch in section)
    # the baseline-free explanation: what moved each forecast since last month, same model
    changes = pd.read_csv(demo_out / "changes.csv")
    assert set(changes["unit_id"]) == set(pd.read_csv(demo_out / "scores.csv")["unit_id"])
    assert changes["p_before"].between(0, 1).all() and (changes["changes"].fillna("") != "").any()
    assert "What moved it since last month" in section and "a month before:" in section


def test_scoring_the_same_month_again_reuses_the_scores(demo_out, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(demo_out, out)
    first = (out / "scores.csv").read_bytes()
    r = cli("score", "pipelines/demo.toml", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "run.json").read_text())["scores_reused"] is True
    assert (out / "scores.csv").read_bytes() == first


def test_plot_command_draws_one_unit(demo_out, tmp_path):
    r = cli("plot", "--out", str(demo_out), "--unit", "ML07", "--file", str(tmp_path / "gao.png"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "gao.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = cli("plot", "--out", str(demo_out), "--unit", "XX99", "--file", str(tmp_path / "none.png"))
    assert r.returncode == 2 and "XX99" in r.stderr and not (tmp_path / "none.png").exists()


def test_report_shows_the_change_since_the_previous_report(demo_out, tmp_path):
    import shutil

    from riskcast.reporting.report import render_report

    out = tmp_path / "copy"
    shutil.copytree(demo_out, out)
    scores = pd.read_csv(out / "scores.csv")
    assert (out / "scores_history" / f"scores_{scores['as_of'].iloc[0]}.csv").is_file()
    html = render_report(default_config(), out)
    assert "Change since last report" in html and "<td>new</td>" in html  # no earlier month yet
    earlier = scores.assign(as_of="2024-11", p=0.0)
    earlier.to_csv(out / "scores_history" / "scores_2024-11.csv", index=False)
    html = render_report(default_config(), out)
    top = scores[scores["horizon"] == 1].sort_values("p", ascending=False).iloc[0]
    assert f"<td>{top['p']:+.2f}</td>" in html and "<td>new</td>" not in html
