"""The report's backtest tables, pivoted so they fit a page: models as rows, metrics as columns.

The registered model and the baselines make the table in the body; every other model of the set
goes to the appendix in the same layout. A table with a column per model (13 of them) was wider
than an A4 page and than a 1200 px window: rows grow down, which a page can always hold.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["METRIC_LABELS", "backtest_tables", "set_comparison"]

#: metric -> column header, in the order shown; metrics not listed follow under their own names
METRIC_LABELS = {
    "auroc": "AUROC",
    "aupr": "AUPR",
    "brier": "Brier",
    "brier_skill_vs_climatology": "Brier skill vs climatology (95 % interval)",
    "brier_minus_climatology": "Brier minus climatology",
    "log_loss": "Log loss",
    "ece": "ECE",
    "mae_log1p_count": "MAE of log(1 + count)",
    "crps_count": "CRPS of the count",
    "coverage_10_90": "10-90 % coverage",
}
#: shown once per horizon in the group's header row, not as a column
_PER_HORIZON = ("base_rate",)
#: shown with their 95 % interval in the cell
_WITH_INTERVAL = ("brier_skill_vs_climatology",)


def _cell(r: pd.Series | None, with_interval: bool) -> str:
    if r is None or pd.isna(r["value"]):
        return "n/a"
    v = f"{r['value']:.3f}"
    if with_interval and pd.notna(r.get("ci_low")) and pd.notna(r.get("ci_high")):
        v += f" [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
    return v


def backtest_tables(metrics: pd.DataFrame, registered: str | None, baselines: list[str]) -> dict:
    """The backtest as ``{"columns": [header], "main": [group], "appendix": [group]}``.

    A group is one horizon: ``{"horizon", "n", "base_rate", "rows": [{"model", "registered",
    "baseline", "cells"}]}``. ``main`` holds the registered model, then the baselines; ``appendix``
    every other model, sorted by name. "n/a": the metric cannot be computed on those rows.
    """
    if metrics.empty:
        return {"columns": [], "main": [], "appendix": []}
    present = list(dict.fromkeys(metrics["metric"]))
    shown = [m for m in METRIC_LABELS if m in present] + [
        m for m in present if m not in METRIC_LABELS and m not in _PER_HORIZON
    ]
    models = set(metrics["model"])
    main = [m for m in [registered, *baselines] if m in models]
    main = list(dict.fromkeys(main))
    rest = sorted(models - set(main))
    by = {(r["model"], int(r["horizon"]), r["metric"]): r for _, r in metrics.iterrows()}

    def groups(names: list[str]) -> list[dict]:
        out = []
        for h in sorted(metrics["horizon"].astype(int).unique()):
            d = metrics[metrics["horizon"] == h]
            base = d[d["metric"] == "base_rate"]["value"].dropna()
            rows = [
                {
                    "model": m,
                    "registered": m == registered,
                    "baseline": m in baselines,
                    "cells": [_cell(by.get((m, h, k)), k in _WITH_INTERVAL) for k in shown],
                }
                for m in names
            ]
            out.append(
                {
                    "horizon": h,
                    "n": int(d["n"].max()),
                    "base_rate": f"{base.iloc[0]:.2f}" if len(base) else "n/a",
                    "rows": rows,
                }
            )
        return out if names else []

    return {
        "columns": [METRIC_LABELS.get(m, m) for m in shown],
        "main": groups(main),
        "appendix": groups(rest),
    }


def set_comparison(metrics: pd.DataFrame) -> list[dict]:
    """Per model and horizon: the full feature set against its history-only twin (``<m>_history``),
    on the same folds."""
    if metrics.empty:
        return []
    names = set(metrics["model"])
    pairs = [(m, f"{m}_history") for m in sorted(names) if f"{m}_history" in names]
    m = metrics[metrics["metric"].isin(["auroc", "brier_skill_vs_climatology", "log_loss"])]
    wide = m.pivot_table(index=["horizon", "metric"], columns="model", values="value", aggfunc="first")
    rows = []
    for full, history in pairs:
        for h in sorted(m["horizon"].unique()):
            row = {"model": full, "horizon": int(h)}
            for metric in ("auroc", "brier_skill_vs_climatology", "log_loss"):
                a, b = wide.loc[(h, metric), full], wide.loc[(h, metric), history]
                row[metric] = tuple(
                    "n/a" if pd.isna(v) else f"{v:+.3f}" if i == 2 else f"{v:.3f}"
                    for i, v in enumerate((a, b, a - b))
                )
            rows.append(row)
    return rows
