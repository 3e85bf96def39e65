from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.evaluation.metrics import score_predictions


def _preds(y, p_model, p_clim):
    n = len(y)
    base = pd.DataFrame({"unit_id": [f"U{i}" for i in range(n)], "origin": "2020-01", "horizon": 1, "y_true": y, "y_count": y,
                         "expected_count": np.nan})
    return pd.concat([base.assign(model="logistic", p=p_model), base.assign(model="climatology", p=p_clim)], ignore_index=True)


def test_metrics_beside_the_reference_on_the_same_rows():
    y = np.array([0, 1, 0, 1, 1, 0], dtype=float)
    m = score_predictions(_preds(y, y * 0.8 + 0.1, np.full(6, 0.5))).set_index(["model", "metric"])
    assert m.loc[("logistic", "auroc"), "value"] == 1.0
    assert abs(m.loc[("climatology", "brier"), "value"] - 0.25) < 1e-12
    assert abs(m.loc[("climatology", "brier_skill_vs_climatology"), "value"]) < 1e-12
    assert abs(m.loc[("logistic", "brier_skill_vs_climatology"), "value"] - (1 - 0.01 / 0.25)) < 1e-9
    assert (m["n"] == 6).all()


def test_undefined_metric_is_reported_not_dropped():
    y = np.zeros(5)
    m = score_predictions(_preds(y, np.full(5, 0.1), np.full(5, 0.2))).set_index(["model", "metric"])
    row = m.loc[("logistic", "auroc")]
    assert np.isnan(row["value"]) and "only one class" in row["note"]
    assert m.loc[("logistic", "mae_log1p_count"), "note"] == "model gives no count forecast"
