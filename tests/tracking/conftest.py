"""A temporary MLflow store (SQLite + local artifacts) per test, and fitted tiny models."""

from __future__ import annotations

import pytest

from tests.tracking._models import FEATURES, ContractModel, tiny_panel


@pytest.fixture
def store(tmp_path):
    """Point MLflow at a fresh SQLite store in tmp_path; yields its URI."""
    import mlflow

    from riskcast.tracking.runs import setup_mlflow

    uri = f"sqlite:///{(tmp_path / 'mlflow.db').as_posix()}"
    setup_mlflow(uri, "test", tmp_path)
    yield uri
    if mlflow.active_run():
        mlflow.end_run()


@pytest.fixture
def panel():
    return tiny_panel()


@pytest.fixture
def fitted(panel):
    """Fitted models for horizons 1 (LogisticCount) and 3 (Climatology)."""
    from riskcast.models import Climatology, LogisticCount

    X = panel[FEATURES]
    return {
        1: LogisticCount(columns=("a", "b", "c"), C=0.05).fit(X, panel["y"], panel["y_count"]),
        3: Climatology(
            share_column="rolling_share_any_window12", sum_column="rolling_sum_window12", window=12
        ).fit(X, panel["y"]),
    }


@pytest.fixture
def contract_model(panel):
    return ContractModel(columns=("a", "b", "c")).fit(panel[FEATURES], panel["y"])
