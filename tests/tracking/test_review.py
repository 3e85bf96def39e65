"""What a reviewer reads in MLflow, piece by piece: the commit tag, the descriptions (within the
store's limit, rewritten when the monthly job applies its decision), the pinned requirements and
riskcast's wheel, and the cleanup of a backtest's child runs left open by a killed job."""

from __future__ import annotations

import hashlib
import re
import subprocess
import zipfile
from importlib.metadata import version

import mlflow
import pandas as pd
import pytest

from riskcast.models import CountGLM
from riskcast.models.spec import resolve_model_set_path
from riskcast.tracking.bundle import ForecastBundle
from riskcast.tracking.describe import (
    MAX_DESCRIPTION,
    Forecasts,
    model_description,
    replace_section,
    version_description,
)
from riskcast.tracking.job_runs import RETRAIN_ID_TAG, apply_decision, mark_runs_killed
from riskcast.tracking.model_runs import log_model_runs, model_metrics
from riskcast.tracking.portable import build_wheel, pinned_requirements
from riskcast.tracking.provenance import git_commit
from riskcast.tracking.registry import TAG_METRIC, TAG_MODEL, TAG_WINDOW, PromotionDecision
from tests.conftest import PROJECT
from tests.tracking._models import FEATURES

NAME = "riskcast-review-test"


def test_git_commit_is_head_in_a_checkout_and_absent_elsewhere(tmp_path, monkeypatch):
    assert git_commit(tmp_path) is None  # not a checkout: no tag, no failure
    if (PROJECT / ".git").exists():
        head = subprocess.run(
            ["git", "-C", str(PROJECT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        )
        assert git_commit() == head.stdout.strip()
    monkeypatch.setenv("PATH", str(tmp_path))  # no git at all
    assert git_commit.__wrapped__(PROJECT / "src" / "riskcast") is None


def test_replace_section_rewrites_one_section_and_keeps_the_rest():
    text = "## t\n\nintro\n\n### A\nold a\n\n### B\nb\n"
    assert replace_section(text, "A", "new a") == "## t\n\nintro\n\n### A\nnew a\n\n### B\nb\n"
    assert replace_section(text, "B", "new b").endswith("### B\nnew b\n")
    assert replace_section(text, "C", "c").endswith("### B\nb\n\n### C\nc\n")


def _forecasts(n_features: int) -> Forecasts:
    return Forecasts(
        unit="admin2",
        countries=["Mali", "Burkina Faso"],
        target="at least one attack in the month",
        event_types=["Battles"],
        horizons=[1, 3, 6, 12],
        intensity={"k5": "at least 5 attacks in the month (model logistic_history)"},
        feature_cols=[f"a_rather_long_feature_name_number_{i:04d}" for i in range(n_features)],
    )


@pytest.fixture
def version_one(store, tmp_path):
    """A real registered version 1 (no champion yet), tagged as training tags it."""
    client = mlflow.MlflowClient()
    client.create_registered_model(NAME)
    mv = client.create_model_version(NAME, source=str(tmp_path))
    for key, value in {
        TAG_MODEL: "glm",
        TAG_WINDOW: "h1:2024-01..2024-12",
        TAG_METRIC + "brier": "0.08",
    }.items():
        client.set_model_version_tag(NAME, mv.version, key, value)
    return client, str(mv.version)


def test_descriptions_fit_the_store_and_are_rewritten_when_the_job_applies_its_decision(version_one):
    client, v = version_one
    f = _forecasts(400)  # far more names than 5,000 characters hold
    model_description(client, NAME, f, "the rule")
    version_description(
        client,
        NAME,
        v,
        f,
        model="glm",
        model_class="CountGLM",
        window="h1:2024-01..2024-12",
        scores={"brier": 0.08},
        last_month="2024-12",
        run_id="r" * 32,
        backtest_run_id=None,
        data_hash="d" * 64,
        promotion="would be promoted (from none); the monthly job moves the alias once its outputs are written",
    )
    for text in (
        client.get_registered_model(NAME).description,
        client.get_model_version(NAME, v).description,
    ):
        assert len(text) <= MAX_DESCRIPTION
        assert re.search(r"\.\.\. and \d+ more \(all in the model's signature\)", text)
        assert "`k5`: at least 5 attacks" in text and "`p_<target>_h{h}`" in text
    assert "### Champion\nNo champion yet." in client.get_registered_model(NAME).description
    decision = PromotionDecision(
        promoted=True, reason="first model: no champion yet", champion_before=None, champion_after=v
    )
    apply_decision(NAME, v, decision)
    assert {k: str(x) for k, x in client.get_registered_model(NAME).aliases.items()} == {"champion": v}
    vtext = client.get_model_version(NAME, v).description
    assert (
        f"### Promotion\npromoted: the champion alias moved from none to v{v}. Reason: first model" in vtext
    )
    assert "would be promoted" not in vtext and "### Provenance" in vtext
    mtext = client.get_registered_model(NAME).description
    assert f"### Champion\nv{v}: model `glm`, backtest window h1:2024-01..2024-12" in mtext
    assert "brier 0.08" in mtext and len(mtext) <= MAX_DESCRIPTION


def test_requirements_pin_every_distribution_the_bundle_imports(panel):
    glm = CountGLM(columns=("a", "b", "c")).fit(panel[FEATURES], panel["y"], panel["y_count"])
    reqs = pinned_requirements(ForecastBundle({1: glm}, FEATURES, "glm"))
    pins = dict(r.split("==") for r in reqs)
    names = [r.split("==")[0].lower() for r in reqs]
    assert names == sorted(names) and all("==" in r for r in reqs)
    # the GLM's module imports statsmodels and scipy; riskcast.models' package imports LightGBM
    for dist in (
        "statsmodels",
        "scipy",
        "lightgbm",
        "scikit-learn",
        "numpy",
        "pandas",
        "mlflow",
        "cloudpickle",
    ):
        assert pins[dist] == version(dist), dist
    # riskcast travels as a wheel; the CLI's, fetching's and reporting's packages do not travel
    assert not {"riskcast", "typer", "requests", "jinja2", "weasyprint", "dask"} & set(pins)


def test_wheel_is_reproducible_and_holds_the_package(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = build_wheel(tmp_path / "a"), build_wheel(tmp_path / "b")
    assert a.name == b.name and re.fullmatch(r"riskcast-[^-]+-py3-none-any\.whl", a.name)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    names = zipfile.ZipFile(a).namelist()
    assert "riskcast/tracking/bundle.py" in names and "riskcast/models/glm.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    info = [n for n in names if n.endswith(".dist-info/RECORD")]
    assert len(info) == 1 and len(zipfile.ZipFile(a).read(info[0]).decode().splitlines()) == len(names)


def test_killed_job_leaves_no_backtest_child_running(store):
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name("test").experiment_id
    parent = client.create_run(exp, tags={RETRAIN_ID_TAG: "feed0001"}, run_name="2024-06")
    backtest = client.create_run(
        exp, tags={"mlflow.parentRunId": parent.info.run_id, "riskcast.kind": "backtest"}, run_name="bt"
    )
    child = client.create_run(exp, tags={"mlflow.parentRunId": backtest.info.run_id}, run_name="glm")
    killed = mark_runs_killed("test", "feed0001", parent.info.run_id)
    assert set(killed) == {parent.info.run_id, backtest.info.run_id, child.info.run_id}
    assert {client.get_run(r).info.status for r in killed} == {"KILLED"}


def test_each_model_run_holds_its_own_and_its_intensity_metrics(store):
    def rows(model, metric, h, value, **extra):
        return {
            "model": model,
            "horizon": h,
            "metric": metric,
            "value": value,
            "ci_low": value - 0.01,
            "ci_high": value + 0.01,
            "n": 10,
            "note": "",
            **extra,
        }

    metrics = pd.DataFrame(
        [
            rows("logistic", "brier", 1, 0.1),
            rows("logistic", "brier", 3, 0.2),
            rows("climatology", "brier", 1, 0.3),
            rows("logistic", "base_rate", 1, 0.4),
            rows("logistic", "auroc", 3, float("nan")),
        ]
    )
    intensity = pd.DataFrame(
        [rows("logistic", "brier", 1, 0.05, target="k5"), rows("zero_count", "brier", 1, 0.07, target="k5")]
    )
    with mlflow.start_run() as parent:
        ids = log_model_runs(
            metrics,
            baselines=["climatology", "zero_count"],
            model_set=resolve_model_set_path("default"),
            tags={"riskcast.version": "x"},
            intensity=intensity,
        )
    client = mlflow.MlflowClient()
    assert sorted(ids) == ["climatology", "logistic", "zero_count"]
    logistic = client.get_run(ids["logistic"])
    assert logistic.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert logistic.data.metrics == pytest.approx(
        {
            "brier_h1": 0.1,
            "brier_h1_ci_low": 0.09,
            "brier_h1_ci_high": 0.11,
            "brier_h3": 0.2,
            "brier_h3_ci_low": 0.19,
            "brier_h3_ci_high": 0.21,
            "brier_mean": 0.15,
            "k5.brier_h1": 0.05,
            "k5.brier_h1_ci_low": 0.04,
            "k5.brier_h1_ci_high": 0.06,
            "k5.brier_mean": 0.05,
        }
    )  # no base_rate (the data's, not the model's), no NaN
    assert (
        logistic.data.params["spec.model"] == "Tuned"
        and logistic.data.params["spec.base"] == "logistic_fixed"
    )
    # without resampling (backtest.n_boot = 0) there are no interval columns, and no interval keys
    assert model_metrics(metrics.drop(columns=["ci_low", "ci_high"]), "logistic") == pytest.approx(
        {"brier_h1": 0.1, "brier_h3": 0.2, "brier_mean": 0.15}
    )
    zero = client.get_run(ids["zero_count"])
    assert zero.data.tags["riskcast.baseline"] == "true" and set(zero.data.metrics) >= {"k5.brier_h1"}
