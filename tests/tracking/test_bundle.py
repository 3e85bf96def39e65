"""The pyfunc bundle: logged with a signature, registered, tagged, and loaded back only from the registry."""

from __future__ import annotations

import re

import mlflow
import numpy as np
import pandas as pd
import pytest

from riskcast.models.contributions import top_contributions
from riskcast.tracking.bundle import ForecastBundle
from riskcast.tracking.offline import OFFLINE_ENV
from riskcast.tracking.registry import promote_if_better, version_record
from riskcast.tracking.runs import load_registered, log_bundle, model_uri
from tests.tracking._models import FEATURES, BareModel

NAME = "riskcast-bundle-test"
WINDOW = "2021-01..2021-12"


def _log(bundle, panel, **kw):
    with mlflow.start_run() as run:
        name, version = log_bundle(
            bundle,
            NAME,
            input_example=panel[FEATURES].head(3),
            window=WINDOW,
            metrics={"brier": 0.1, "ece": 0.02},
            config_hash="cfg123",
            **kw,
        )
    return run.info.run_id, version


def test_registry_round_trip_gives_the_in_memory_predictions(store, panel, fitted, contract_model):
    bundle = ForecastBundle(
        {**fitted, 6: contract_model},
        FEATURES,
        "logistic",
        feature_spec="[history]\nx = 1\n",
        data_hash="data456",
    )
    run_id, version = _log(bundle, panel)
    assert promote_if_better(store, NAME, version, {"brier": 0.1, "ece": 0.02}, window=WINDOW).promoted
    rows = panel[panel["month"] == panel["month"].max()]
    expected = bundle.forecast(rows[FEATURES])
    for loaded in (
        load_registered(NAME, alias="champion"),
        load_registered(NAME),
        load_registered(NAME, version=version),
        load_registered(run_id=run_id),
    ):
        got = loaded.predict(rows[FEATURES])
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
    # Rows keyed by unit and month come back with their keys, and the same numbers.
    keyed = load_registered(NAME).predict(bundle.model_input(rows))
    assert list(keyed.columns[:2]) == ["unit_id", "month"]
    assert list(keyed["unit_id"]) == list(rows["unit_id"])
    assert set(keyed["month"]) == {f"{rows['month'].max():%Y-%m}"}
    pd.testing.assert_frame_equal(keyed.iloc[:, 2:].reset_index(drop=True), expected.reset_index(drop=True))
    # The scoring contract gives the same table from the registry as from memory.
    from riskcast.scoring import score_month

    kw = dict(as_of=rows["month"].max(), model_name=NAME, model_version=version, data_hash="data456")
    pd.testing.assert_frame_equal(
        score_month(load_registered(NAME), rows, **kw), score_month(bundle, rows, **kw)
    )
    # The same fitted models travel: their own predictions agree too.
    inner = load_registered(NAME).unwrap_python_model()
    np.testing.assert_array_equal(
        inner.models[1].predict_proba(rows[FEATURES]), fitted[1].predict_proba(rows[FEATURES])
    )
    assert inner.feature_spec == "[history]\nx = 1\n" and inner.data_hash == "data456"


def test_logged_model_has_signature_metadata_and_version_tags(store, panel, fitted):
    bundle = ForecastBundle(
        fitted, FEATURES, "logistic", feature_spec="[history]\n", data_hash="data456", calibrated=True
    )
    _, version = _log(bundle, panel)
    loaded = load_registered(NAME, version=version)
    sig = loaded.metadata.signature
    assert sig is not None
    # the keys are optional: callers that send the features alone are served as before
    assert sig.inputs.input_names() == ["unit_id", "month", *FEATURES]
    assert sig.inputs.required_input_names() == FEATURES
    assert [c.type.name for c in sig.inputs.inputs[:3]] == ["string", "string", "double"]
    assert sig.outputs.input_names()[:2] == ["unit_id", "month"]
    assert {"p_h1", "expected_count_h1", "q10_h1", "q50_h1", "q90_h1", "top_features_h1", "p_h3"} <= set(
        sig.outputs.input_names()
    )
    assert [p.name for p in sig.params.params] == ["top_k"]
    assert loaded.metadata.metadata["calibrated"] is True
    assert loaded.metadata.metadata["feature_spec_sha256"] == bundle.feature_spec_sha256 != ""
    tags = mlflow.MlflowClient().get_model_version(NAME, version).tags
    assert tags["riskcast.data_hash"] == "data456" and tags["riskcast.config_hash"] == "cfg123"
    assert tags["riskcast.model_name"] == "logistic"
    assert version_record(store, NAME, version) == (WINDOW, {"brier": 0.1, "ece": 0.02})


def test_wide_output_follows_the_contract_and_tolerates_missing_methods(panel, contract_model):
    rows = panel.head(6)
    bundle = ForecastBundle({1: contract_model, 2: BareModel()}, FEATURES, "mixed", quantiles=(0.1, 0.5, 0.9))
    out = bundle.forecast(rows, top_k=2)
    wide = [f"{c}_h{h}" for h in (1, 2) for c in ("p", "expected_count", "q10", "q50", "q90", "top_features")]
    assert list(out.columns) == wide
    # as a pyfunc, the row keys sent come first, as sent
    keyed = bundle.predict(None, bundle.model_input(rows), params={"top_k": 2})
    assert list(keyed.columns) == ["unit_id", "month", *wide]
    assert (
        keyed["unit_id"].equals(rows["unit_id"])
        and (keyed["month"] == rows["month"].dt.strftime("%Y-%m")).all()
    )
    pd.testing.assert_frame_equal(keyed[wide], out)
    assert out.index.equals(rows.index)
    q = out[["q10_h1", "q50_h1", "q90_h1"]].to_numpy()
    assert np.all(q[:, 0] <= q[:, 1]) and np.all(q[:, 1] <= q[:, 2])
    assert out[["expected_count_h2", "q10_h2", "q50_h2", "q90_h2"]].isna().all().all()
    assert (out["top_features_h2"] == "").all()
    contrib = contract_model.contributions(rows[FEATURES])
    assert list(out["top_features_h1"]) == top_contributions(contrib, 2)
    assert all(
        re.fullmatch(r"[a-z_0-9]+ [+-]\d+\.\d\d; [a-z_0-9]+ [+-]\d+\.\d\d", s) for s in out["top_features_h1"]
    )
    with pytest.raises(ValueError, match=r"feature columns missing from the scoring input: \['c'\]"):
        bundle.forecast(rows.drop(columns="c"))


def test_top_contributions_orders_by_magnitude_and_skips_bias_nan_and_zero():
    contrib = pd.DataFrame({"x": [0.41, 0.0], "y": [-0.5, np.nan], "z": [0.1, 0.0], "bias": [9.0, 9.0]})
    assert top_contributions(contrib, 2) == ["y -0.50; x +0.41", ""]
    assert top_contributions(contrib, 0) == ["", ""]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "/tmp/some/model"}, "not a registered model name"),
        ({"name": "../outside"}, "not a registered model name"),
        ({"name": "file:///tmp/model"}, "not a registered model name"),
        ({"name": "m", "version": "1/../../x"}, "not a model version number"),
        ({"name": "m", "alias": "champion/../x"}, "not a model alias"),
        ({"run_id": "../../etc"}, "not an MLflow run id"),
        ({"name": "m", "version": 1, "alias": "champion"}, "give one of version, alias or run_id"),
    ],
)
def test_paths_outside_the_registry_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        load_registered(**kwargs)


def test_model_uris():
    assert model_uri("riskcast") == "models:/riskcast@champion"
    assert model_uri("riskcast", version="3") == "models:/riskcast/3"
    assert model_uri(run_id="0" * 32) == f"runs:/{'0' * 32}/forecast_bundle"


def test_unknown_run_is_refused(store):
    with pytest.raises(mlflow.exceptions.MlflowException):
        load_registered(run_id="f" * 32)


def test_mlflow_telemetry_is_off():
    import os

    from mlflow.telemetry.client import get_telemetry_client
    from mlflow.telemetry.utils import is_telemetry_disabled

    assert all(k in os.environ for k in OFFLINE_ENV)
    assert is_telemetry_disabled() and get_telemetry_client() is None
