"""Forecast scores, each reported beside the baselines on identical rows.

A metric that cannot be computed (one class only, no rows) is reported as NaN with a note,
never dropped.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

__all__ = ["score_predictions", "METRICS"]

METRICS = ("auroc", "aupr", "brier", "brier_skill_vs_climatology", "log_loss", "mae_log1p_count", "base_rate")


def _binary(y: np.ndarray, p: np.ndarray) -> dict[str, tuple[float, str]]:
    out: dict[str, tuple[float, str]] = {}
    one_class = len(np.unique(y)) < 2
    note = "undefined: only one class in the evaluated rows"
    out["auroc"] = (np.nan, note) if one_class else (float(roc_auc_score(y, p)), "")
    out["aupr"] = (np.nan, note) if one_class else (float(average_precision_score(y, p)), "")
    out["brier"] = (float(brier_score_loss(y, p)), "")
    pc = np.clip(p, 1e-6, 1 - 1e-6)
    out["log_loss"] = (float(log_loss(y, pc, labels=[0, 1])), "")
    out["base_rate"] = (float(np.mean(y)), "")
    return out


def score_predictions(preds: pd.DataFrame, reference: str = "climatology") -> pd.DataFrame:
    """Metrics per model and horizon: columns model, horizon, metric, value, n, note.

    Brier skill is 1 - Brier(model) / Brier(reference) on exactly the same rows.
    """
    rows = []
    preds = preds.dropna(subset=["y_true"])
    ref = preds[preds["model"] == reference].set_index(["unit_id", "origin", "horizon"])["p"]
    for (model, h), g in preds.groupby(["model", "horizon"], sort=True):
        y = g["y_true"].to_numpy(dtype=float)
        p = g["p"].to_numpy(dtype=float)
        n = len(g)
        scores = _binary(y, p)
        key = pd.MultiIndex.from_frame(g[["unit_id", "origin", "horizon"]])
        ref_p = ref.reindex(key).to_numpy(dtype=float)
        if np.isnan(ref_p).any():
            scores["brier_skill_vs_climatology"] = (np.nan, f"undefined: {reference} has no forecast for some of these rows")
        else:
            ref_brier = brier_score_loss(y, ref_p)
            scores["brier_skill_vs_climatology"] = (
                (np.nan, "undefined: reference Brier is 0") if ref_brier == 0 else (float(1 - scores["brier"][0] / ref_brier), "")
            )
        if "expected_count" in g and g["expected_count"].notna().all() and "y_count" in g:
            err = np.abs(np.log1p(g["expected_count"].clip(lower=0)) - np.log1p(g["y_count"]))
            scores["mae_log1p_count"] = (float(err.mean()), "")
        else:
            scores["mae_log1p_count"] = (np.nan, "model gives no count forecast")
        for metric in METRICS:
            value, note = scores[metric]
            rows.append({"model": model, "horizon": int(h), "metric": metric, "value": value, "n": n, "note": note})
    return pd.DataFrame(rows, columns=["model", "horizon", "metric", "value", "n", "note"])
