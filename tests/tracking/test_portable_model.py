"""The registered model travels: it loads in a fresh environment built from its own requirements,
and serves over HTTP, scoring exactly as riskcast's own scoring did. And a reviewer can compare
in MLflow's UI: one child run per backtested model, runs tagged with riskcast's version and
commit, descriptions on the registered model and its version.

One small training run (module fixture: the demo data, one horizon, a model set whose champion
is an ensemble of a statsmodels GLM and LightGBM) registers a champion; its registry (SQLite and
artifacts) is copied to another folder and the original deleted, so everything below reads the
copy only. The fresh virtual environment is built once, with only the model's requirements.txt
(pinned packages and riskcast's wheel from the model's artifacts).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

import riskcast
from riskcast.config import default_config
from riskcast.jobs.run import run_all
from riskcast.tracking.describe import MAX_DESCRIPTION
from riskcast.tracking.model_runs import KIND_MODEL
from riskcast.tracking.offline import OFFLINE_ENV
from riskcast.tracking.portable import build_wheel
from riskcast.tracking.provenance import git_commit
from tests.test_handover import SMALL
from tests.tracking._server import free_port

NAME = "riskcast-demo"  # the demo config's registered model
MODELS = """
name = "portable"
description = "baselines, a negative-binomial GLM (statsmodels), LightGBM and their ensemble"

[[models]]
name = "climatology"
model = "Climatology"

[[models]]
name = "persistence"
model = "Persistence"

[[models]]
name = "glm"
model = "CountGLM"
features = "full"
params = { family = "negbin" }

[[models]]
name = "lgbm"
model = "LGBMHurdle"
features = "full"
params = { n_estimators = 30, learning_rate = 0.1 }

[[models]]
name = "ensemble"
model = "Ensemble"
members = ["glm", "lgbm"]
params = { calib_months = 12, method = "none" }
"""
#: What scoring compares: the numbers exactly (to 1e-12), the drivers as text.
NUMBERS = ["p", "expected_count", "q10", "q50", "q90"]
ENV = {**os.environ, **OFFLINE_ENV}
BIN = Path(sys.executable).parent
for _var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):  # nothing of the main venv leaks in
    ENV.pop(_var, None)


def _rewrite_paths(db: Path, old: str, new: str) -> None:
    """Point every text cell of a copied MLflow database that names ``old`` at ``new``.

    MLflow stores artifact locations as absolute URIs (experiments, runs, logged models, model
    versions); a registry copied elsewhere must name its own artifacts, not the original's.
    """
    con = sqlite3.connect(db)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for t in tables:
            for _, col, ctype, *_ in con.execute(f'PRAGMA table_info("{t}")'):
                if any(k in (ctype or "").upper() for k in ("CHAR", "TEXT", "CLOB")):
                    con.execute(
                        f'UPDATE "{t}" SET "{col}" = replace("{col}", ?, ?) WHERE instr("{col}", ?) > 0',
                        (old, new, old),
                    )
        con.commit()
    finally:
        con.close()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    """A finished small run, its registry moved to a copy: the scores, the rows and the copy's URI."""
    base = tmp_path_factory.mktemp("portable")
    (base / "portable.toml").write_text(MODELS)
    out = base / "out"
    t0 = time.perf_counter()
    cfg = default_config([*SMALL, f"model.set={base / 'portable.toml'}", "model.champion=ensemble"])
    run_all(cfg, out, echo=lambda m: None)
    print(f"training run: {time.perf_counter() - t0:.1f} s")
    copy = base / "registry"
    copy.mkdir()
    shutil.copy2(out / "mlflow.db", copy / "mlflow.db")
    shutil.copytree(out / "mlartifacts", copy / "mlartifacts")
    _rewrite_paths(copy / "mlflow.db", str(out.resolve()), str(copy.resolve()))
    # the original goes: whatever loads below can only have read the copy
    shutil.rmtree(out / "mlartifacts")
    (out / "mlflow.db").unlink()
    model = json.loads((out / "model.json").read_text())
    panel = pd.read_parquet(out / "features.parquet")
    latest = panel[panel["month"] == panel["month"].max()].reset_index(drop=True)
    rows = latest[["unit_id"]].assign(month=latest["month"].dt.strftime("%Y-%m"))
    rows = pd.concat([rows, latest[model["features"]].astype("float64")], axis=1)
    return {
        "uri": f"sqlite:///{(copy / 'mlflow.db').as_posix()}",
        "copy": copy,
        "rows": rows,
        "scores": pd.read_csv(out / "scores.csv"),
        "model": model,
        "metrics": pd.read_csv(out / "metrics.csv"),
    }


@pytest.fixture(scope="module")
def client(trained):
    return mlflow.MlflowClient(tracking_uri=trained["uri"], registry_uri=trained["uri"])


@pytest.fixture(scope="module")
def model_dir(trained, client) -> Path:
    """The champion's model folder inside the registry copy."""
    champion = client.get_registered_model(NAME).aliases["champion"]
    uri = client.get_model_version_download_uri(NAME, str(champion))
    path = Path(uri.removeprefix("file://"))
    assert path.is_relative_to(trained["copy"]), f"the champion's artifacts are not in the copy: {uri}"
    return path


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, model_dir) -> Path:
    """A virtual environment holding only what the model's requirements.txt names; its python."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"pip is unusable here: {probe.stderr.strip()[-300:]}")
    t0 = time.perf_counter()
    # no pip of its own (ensurepip takes seconds): the main venv's pip installs into it
    made = subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], capture_output=True, text=True
    )
    if made.returncode != 0:
        pytest.skip(f"python -m venv is unusable here: {made.stderr.strip()[-300:]}")
    python = venv / "bin" / "python"
    # run in the model's folder: requirements.txt names riskcast's wheel by a path relative to it.
    # --no-compile: byte-compiling ~100 packages is most of an install's time, and the test
    # imports a small part of them
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-compile", "-q"]
    done = subprocess.run(
        [*pip, "-r", "requirements.txt"], cwd=model_dir, capture_output=True, text=True, env=ENV, timeout=900
    )
    assert done.returncode == 0, f"pip install -r requirements.txt failed:\n{done.stderr[-4000:]}"
    print(f"fresh venv: {time.perf_counter() - t0:.1f} s")
    return python


def _scored(scores: pd.DataFrame, got: pd.DataFrame) -> None:
    """``got`` (the model's wide output, keyed by unit_id and month) against riskcast's scores.csv."""
    want = scores[scores["horizon"] == 1].set_index("unit_id")
    got = got.set_index("unit_id").loc[want.index]
    assert (got["month"] == want["as_of"]).all()
    for col in NUMBERS:
        np.testing.assert_allclose(
            got[f"{col}_h1"].to_numpy(float), want[col].to_numpy(float), rtol=0, atol=1e-12
        )
    assert list(got["top_features_h1"].fillna("")) == list(want["top_features"].fillna(""))


SCORE_IN_VENV = """
import json, sys
import mlflow.pyfunc, pandas as pd, riskcast
rows = pd.DataFrame(json.load(open(sys.argv[1])))
model = mlflow.pyfunc.load_model("models:/{name}@champion")
out = model.predict(rows, params={{"top_k": 3}})
json.dump({{"riskcast": riskcast.__file__, "out": out.to_dict(orient="list")}}, open(sys.argv[2], "w"))
"""


def test_champion_loads_in_a_fresh_venv_and_scores_like_riskcast(trained, model_dir, fresh_venv, tmp_path):
    t0 = time.perf_counter()
    req = (model_dir / "requirements.txt").read_text().split()
    pins = dict(r.split("==") for r in req if "==" in r)
    # it pins what the champion imports (an ensemble of a statsmodels GLM and LightGBM)
    for dist in (
        "statsmodels",
        "lightgbm",
        "scipy",
        "scikit-learn",
        "numpy",
        "pandas",
        "mlflow",
        "cloudpickle",
    ):
        assert pins.get(dist) == version(dist), (dist, req)
    assert [r for r in req if "==" not in r] == [f"artifacts/{build_wheel(tmp_path).name}"]
    # the environment holds those very versions, and riskcast from the wheel, not from this checkout
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(fresh_venv), "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {d["name"].lower(): d["version"] for d in json.loads(listed.stdout)}
    assert all(installed.get(d.lower()) == v for d, v in pins.items()), (pins, installed)
    (tmp_path / "rows.json").write_text(json.dumps(trained["rows"].to_dict(orient="list")))
    done = subprocess.run(
        [str(fresh_venv), "-c", SCORE_IN_VENV.format(name=NAME), "rows.json", "out.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**ENV, "MLFLOW_TRACKING_URI": trained["uri"]},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads((tmp_path / "out.json").read_text())
    assert Path(result["riskcast"]).is_relative_to(fresh_venv.parent.parent), result["riskcast"]
    got = pd.DataFrame(result["out"])
    assert list(got.columns[:2]) == ["unit_id", "month"]
    _scored(trained["scores"], got)
    print(f"fresh-venv scoring: {time.perf_counter() - t0:.1f} s")


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow models serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    pytest.fail(f"mlflow models serve did not answer /ping in {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def _stop(proc: subprocess.Popen) -> None:
    """End the server's process group (MLflow's CLI, the shell it starts, uvicorn), gently first."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:  # the whole group is gone already
            break
        try:
            proc.wait(timeout=20)
            break
        except subprocess.TimeoutExpired:
            continue


def test_served_champion_scores_rows_over_http(trained, tmp_path):
    t0 = time.perf_counter()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{NAME}@champion"]
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [*cmd, "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
            stdout=fh,
            stderr=subprocess.STDOUT,
            # MLflow starts `uvicorn` by name: the venv's bin first, as in an activated venv
            env={**ENV, "MLFLOW_TRACKING_URI": trained["uri"], "PATH": f"{BIN}{os.pathsep}{ENV['PATH']}"},
            cwd=tmp_path,
            start_new_session=True,  # its own process group: the server and its workers end together
        )
    try:
        _wait_ready(url, proc, log)
        rows = trained["rows"].head(4)
        body = {"dataframe_split": rows.to_dict(orient="split", index=False), "params": {"top_k": 3}}
        req = urllib.request.Request(
            f"{url}/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.loads(r.read())
    finally:
        _stop(proc)
    got = pd.DataFrame(answer["predictions"])
    assert list(got["unit_id"]) == list(rows["unit_id"]) and set(got["month"]) == set(rows["month"])
    _scored(trained["scores"][trained["scores"]["unit_id"].isin(rows["unit_id"])], got)
    print(f"served scoring: {time.perf_counter() - t0:.1f} s")


def _runs(client) -> list:
    exp = client.get_experiment_by_name(NAME)
    return client.search_runs([exp.experiment_id], max_results=1000)


def test_backtest_run_has_one_child_run_per_model_with_its_own_metrics(trained, client):
    runs = _runs(client)
    (backtest,) = [r for r in runs if r.data.tags.get("riskcast.kind") == "backtest"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == backtest.info.run_id]
    models = sorted(trained["metrics"]["model"].unique())
    assert (
        sorted(r.info.run_name for r in children)
        == models
        == sorted(["climatology", "persistence", "glm", "lgbm", "ensemble"])
    )
    assert not backtest.data.metrics, "the backtest run itself holds no per-model metric any more"
    assert "in its child run" in backtest.data.tags["mlflow.note.content"]  # the run's description
    for r in children:
        name = r.info.run_name
        assert r.data.tags["riskcast.kind"] == KIND_MODEL and r.data.tags["riskcast.model"] == name
        assert r.data.tags["riskcast.baseline"] == str(name in ("climatology", "persistence")).lower()
        # the same keys in every child: MLflow's compare view lines them up
        assert {"brier_h1", "brier_h1_ci_low", "brier_h1_ci_high", "brier_mean", "auroc_h1"} <= set(
            r.data.metrics
        )
        # (no longer brier_h1_glm: a metric such as brier_skill_vs_climatology keeps its own name)
        assert not any(key.endswith(f"_{m}") for key in r.data.metrics for m in models), sorted(
            r.data.metrics
        )
        want = (
            trained["metrics"].query("model == @name and metric == 'brier' and horizon == 1")["value"].item()
        )
        assert r.data.metrics["brier_h1"] == pytest.approx(want, abs=1e-12)
    glm = next(r for r in children if r.info.run_name == "glm")
    assert glm.data.params["spec.model"] == "CountGLM" and glm.data.params["spec.features"] == "full"
    # the training run holds its candidate's metrics under the same keys
    (train,) = [r for r in runs if r.data.tags.get("riskcast.kind") == "train"]
    ens = next(r for r in children if r.info.run_name == "ensemble")
    assert train.data.metrics == ens.data.metrics
    assert f"registered as {NAME} v{trained['model']['version']}" in train.data.tags["mlflow.note.content"]


def test_runs_and_versions_carry_the_riskcast_version_and_commit(trained, client):
    sha = git_commit()
    for r in _runs(client):
        assert r.data.tags["riskcast.version"] == riskcast.__version__, r.info.run_name
        assert r.data.tags.get("riskcast.git_commit") == sha, r.info.run_name
        assert r.data.tags.get("mlflow.source.git.commit") == sha, r.info.run_name
    tags = client.get_model_version(NAME, trained["model"]["version"]).tags
    assert tags["riskcast.version"] == riskcast.__version__ and tags.get("riskcast.git_commit") == sha


def test_registered_model_and_version_describe_forecast_schema_window_and_decision(trained, client):
    model, version = trained["model"], trained["model"]["version"]
    window = model["backtest_window"]
    text = client.get_registered_model(NAME).description
    assert len(text) <= MAX_DESCRIPTION
    for part in (
        "admin1 unit of Mali",
        "month t+h (h = 1 months ahead)",
        "| `unit_id` | string | no |",
        "| `month` | string `YYYY-MM` | no |",
        f"| {len(model['features'])} feature columns | double | yes |",
        "`p_h{h}`",
        "`top_features_h{h}`",
        "pip install -r requirements.txt",
        f'mlflow models serve -m "models:/{NAME}@champion" --env-manager local',
        "### Promotion\nA new version takes the `champion` alias only when its brier",
        f"### Champion\nv{version}: model `ensemble`, backtest window {window}",
    ):
        assert part in text, part
    vtext = client.get_model_version(NAME, version).description
    assert len(vtext) <= MAX_DESCRIPTION
    for part in (
        f"## v{version}: `ensemble` (Ensemble)",
        f"Window (origins per horizon): {window}.",
        f"### Promotion\npromoted: the champion alias moved from none to v{version}. Reason: first model",
        f"riskcast {riskcast.__version__}",
        f"training run `{model['mlflow_run_id']}`",
        "| `unit_id` | string | no |",
    ):
        assert part in vtext, part
