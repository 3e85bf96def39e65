"""One unit's story in one PNG: its recent monthly attack counts and the published forecast.

Reads only the panel and the score table (``riskcast.scoring.SCORE_COLUMNS``), so it can
plot any scored run without touching models or the registry.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from riskcast.atomic import atomic_path

__all__ = ["unit_plot"]

_BAR, _POINT = "#7a8b99", "#c0392b"


def _unit_rows(panel: pd.DataFrame, unit_id: str) -> pd.DataFrame:
    ids = panel["unit_id"].astype(str)
    rows = panel[ids == str(unit_id)]
    if rows.empty:
        valid = sorted(ids.unique())
        shown = ", ".join(valid[:8]) + (f", ... ({len(valid)} units)" if len(valid) > 8 else "")
        raise ValueError(f"unknown unit_id {unit_id!r}: the panel has e.g. {shown}")
    return rows


def _forecast_rows(scores: pd.DataFrame, unit_id: str) -> pd.DataFrame:
    """The unit's rows of the latest as_of in ``scores``, one per horizon, with month stamps."""
    s = scores[scores["unit_id"].astype(str) == str(unit_id)].copy()
    if s.empty:
        return s
    s["as_of"] = pd.to_datetime(s["as_of"].astype(str)).dt.to_period("M").dt.to_timestamp()
    s = s[s["as_of"] == s["as_of"].max()]
    s["target"] = pd.to_datetime(s["target_month"].astype(str)).dt.to_period("M").dt.to_timestamp()
    return s.sort_values("horizon", kind="stable")


def unit_plot(
    panel: pd.DataFrame, scores: pd.DataFrame, unit_id: str, path: str | Path, months: int = 36
) -> Path:
    """Bars of the unit's observed monthly target counts, points for its forecast horizons.

    Args:
        panel: columns unit_id, unit_name, country, month, n_target (the features panel).
        scores: the score table (unit_id, as_of, target_month, horizon, p, expected_count,
            q10, q90); the latest ``as_of`` of the unit is drawn. A unit without scores
            gets its history only, with a note.
        unit_id: the unit to draw.
        path: the PNG to write (atomically).
        months: how many of the most recent panel months to show as bars.

    Returns:
        ``path``.

    Raises:
        ValueError: ``unit_id`` is not in the panel (the message lists some valid ids), or
            ``months`` is below 1.
    """
    matplotlib.use("Agg")  # files only: never open a window, never need a display
    if months < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    path = Path(path)
    rows = _unit_rows(panel, unit_id)
    hist = rows.assign(month=pd.to_datetime(rows["month"])).sort_values("month")
    hist = hist[hist["month"] > hist["month"].max() - pd.DateOffset(months=months)]
    fc = _forecast_rows(scores, unit_id)

    fig, ax = plt.subplots(figsize=(8, 3.6))
    # Bars 25 days wide on a date axis: months read as separate, adjacent blocks.
    ax.bar(
        hist["month"],
        hist["n_target"].astype(float),
        width=25,
        align="edge",
        color=_BAR,
        label="observed attacks",
    )
    if not fc.empty:
        centre = fc["expected_count"].astype(float).to_numpy()
        centre = np.where(np.isnan(centre), fc["q50"].astype(float).to_numpy(), centre)
        # Error bars must be non-negative even when the mean falls outside [q10, q90].
        lo = np.clip(centre - fc["q10"].astype(float).to_numpy(), 0, None)
        hi = np.clip(fc["q90"].astype(float).to_numpy() - centre, 0, None)
        x = fc["target"] + pd.Timedelta(days=12)  # the middle of the month, like the bars
        ax.errorbar(
            x,
            centre,
            yerr=[lo, hi],
            fmt="o",
            color=_POINT,
            capsize=3,
            ms=5,
            label="forecast: expected count, q10-q90",
        )
        top = np.nanmax(np.concatenate([hist["n_target"].astype(float).to_numpy(), centre + hi, [1.0]]))
        # Vertical text above each range: adjacent horizons are only a bar width apart.
        for xi, ytop, p in zip(x, np.nan_to_num(centre + hi), fc["p"].astype(float)):
            ax.annotate(
                f"P(attack) {p:.2f}",
                (xi, ytop),
                textcoords="offset points",
                xytext=(0, 4),
                ha="center",
                va="bottom",
                rotation=90,
                fontsize=7,
                color=_POINT,
            )
        ax.set_ylim(0, top * 1.45)
        ax.axvline(fc["as_of"].iloc[0] + pd.DateOffset(months=1), color="#999", lw=0.8, ls="--")
        ax.set_xlim(hist["month"].min() - pd.Timedelta(days=20), fc["target"].max() + pd.Timedelta(days=45))
    else:
        ax.text(
            0.99, 0.95, "no forecast for this unit", transform=ax.transAxes, ha="right", va="top", fontsize=8
        )
    first = rows.iloc[0]
    ax.set_title(f"{first['unit_name']} ({first['country']}) - {unit_id}")
    ax.set_ylabel("attacks per month")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        # metadata pinned so the same tables give the same bytes
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path
