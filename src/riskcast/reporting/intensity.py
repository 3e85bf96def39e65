"""The report's headline target: the one whose forecasts separate the top units best.

Where attacks are near-certain, P(any attack) is 0.99-1.00 for most of the top units and ranks
nothing. Every configured target (P(any attack) and the intensity targets) is a candidate; the
headline ranks by the one with the widest spread of P across its own top ``top_n`` units at the
shortest horizon, and says which, with every candidate's spread beside it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["headline", "short_label", "spread_of_top", "intensity_backtest_rows"]


def spread_of_top(p: pd.Series, top_n: int) -> float:
    """Highest minus lowest P among the ``top_n`` highest (0 with fewer than two units)."""
    top = p.sort_values(ascending=False).head(top_n)
    return float(top.max() - top.min()) if len(top) > 1 else 0.0


def short_label(description: str) -> str:
    """A header-sized name of a target: "at least 5 attacks in the month" -> "at least 5 attacks",
    "escalation: attacks above ..." -> "escalation"."""
    return description.split(":")[0].removesuffix(" in the month").strip() or description


def headline(
    out: Path, scores: pd.DataFrame, horizon: int, top_n: int, descriptions: dict[str, str]
) -> dict | None:
    """The headline table, or None when the run has no intensity targets.

    Returns ``{"target", "description", "spreads": [(target, description, spread)], "targets":
    [target, ...], "labels" / "short": {target: description / short label}, "rows": [{"unit_id",
    "name", "country", "p": {target: "0.42"}}], "extra": {intensity target: {unit_id: "0.42"}}}``
    (``extra``: every unit, for the table of all units).
    """
    path = Path(out) / "intensity_scores.csv"
    if not path.is_file():
        return None
    extra = pd.read_csv(path)
    extra = extra[extra["horizon"] == horizon]
    if extra.empty:
        return None
    any_p = scores[scores["horizon"] == horizon].set_index("unit_id")["p"].rename("any")
    wide = pd.concat(
        [any_p, extra.pivot_table(index="unit_id", columns="target", values="p", aggfunc="first")], axis=1
    )
    targets = ["any", *[t for t in dict.fromkeys(extra["target"]) if t in wide.columns]]
    spreads = {t: spread_of_top(wide[t].dropna(), top_n) for t in targets}
    best = max(targets, key=lambda t: (spreads[t], -targets.index(t)))  # first listed wins ties
    names = scores.drop_duplicates("unit_id").set_index("unit_id")
    # ties (P 0.99 and 1.00 where attacks are near-certain) are broken by the expected count
    expected = scores[scores["horizon"] == horizon].set_index("unit_id")["expected_count"]
    ranked = (
        wide.assign(_expected=expected)
        .sort_values([best, "_expected"], ascending=False, kind="stable")
        .head(top_n)
    )
    rows = [
        {
            "unit_id": u,
            "name": names.loc[u, "unit_name"],
            "country": names.loc[u, "country"],
            "p": {t: "" if pd.isna(r[t]) else f"{r[t]:.2f}" for t in targets},
        }
        for u, r in ranked.iterrows()
    ]
    return {
        "target": best,
        "description": descriptions.get(best, best),
        "targets": targets,
        "labels": {t: descriptions.get(t, t) for t in targets},
        "short": {t: short_label(descriptions.get(t, t)) for t in targets},
        "extra": {t: {u: f"{v:.2f}" for u, v in wide[t].dropna().items()} for t in targets if t != "any"},
        "spreads": [(t, descriptions.get(t, t), f"{spreads[t]:.2f}") for t in targets],
        "rows": rows,
    }


def intensity_backtest_rows(out: Path, chosen: dict[str, str], baselines: list[str]) -> list[dict]:
    """Per intensity target and model (the chosen one and the baselines): Brier skill vs the target's own climatology by horizon."""
    path = Path(out) / "intensity_metrics.csv"
    if not path.is_file():
        return []
    m = pd.read_csv(path)
    m = m[m["metric"] == "brier_skill_vs_climatology"]
    rows = []
    for target, model in chosen.items():
        for name in [model, *[b for b in baselines if b != "climatology"]]:
            d = m[(m["target"] == target) & (m["model"] == name)].sort_values("horizon")
            if d.empty:
                continue
            cells = []
            for _, r in d.iterrows():
                ci = "" if pd.isna(r.get("ci_low")) else f" [{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
                cells.append((int(r["horizon"]), f"{r['value']:.3f}{ci}"))
            rows.append({"target": target, "model": name, "chosen": name == model, "cells": cells})
    return rows
