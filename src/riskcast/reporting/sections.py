"""The report's visual sections: map, sparklines, context timeline, track record, reliability.

Every figure is inlined (``data:`` URIs or SVG) so the HTML opens offline, and written as a PNG
next to the report (``figures/``) for people who would rather look than read.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskcast.facts import load_country_outlines
from riskcast.reporting.context import context_timeline, timeline_svg
from riskcast.reporting.settings import ReportSettings
from riskcast.reporting.visuals import reliability_png_uri, risk_map, sparkline_svg, track_record

__all__ = ["visual_sections"]


def visual_sections(
    settings: ReportSettings,
    model: str | None,
    out: Path,
    scores: pd.DataFrame,
    panel: pd.DataFrame,
    month: str = "next month",
) -> dict:
    """Inline figures and tables for the template (keys: map, sparklines, timeline, track, reliability).

    ``model``: the model of the set that was trained and registered, whose backtest track record is shown.
    ``month``: the month the first horizon forecasts, as the map's legend names it ("January 2025").
    """
    figures = out / "figures"
    h0 = settings.first_horizon
    as_of = pd.Timestamp(str(scores["as_of"].iloc[0]))
    units = pd.read_parquet(out / "tables" / "units.parquet")
    p = scores[scores["horizon"] == h0].set_index("unit_id")["p"]
    boundaries = settings.boundaries if settings.boundaries and Path(settings.boundaries).exists() else None
    outlines = (
        load_country_outlines(sorted(set(units["country"].dropna().astype(str))))
        if "country" in units
        else {}
    )
    sections = {
        "map": risk_map(
            units,
            p,
            figures / "risk_map.png",
            boundaries=boundaries,
            name_property=settings.name_property,
            outlines=outlines,
            label=f"P(at least one attack in {month})",
        )
    }
    last24 = panel[panel["month"] > panel["month"].max() - pd.DateOffset(months=24)].sort_values("month")
    sections["sparklines"] = {
        uid: sparkline_svg(g["n_target"].to_numpy(dtype=float)) for uid, g in last24.groupby("unit_id")
    }
    tables = out / "tables"
    shocks = pd.read_parquet(tables / "shocks.parquet") if (tables / "shocks.parquet").exists() else None
    presence = (
        pd.read_parquet(tables / "presence.parquet") if (tables / "presence.parquet").exists() else None
    )
    timeline = context_timeline(shocks, presence, as_of, months=12, countries=list(settings.countries))
    sections["timeline_svg"] = timeline_svg(timeline, as_of, months=12)
    sections["timeline"] = timeline.assign(
        date=pd.to_datetime(timeline["date"]).dt.strftime("%Y-%m-%d")
    ).to_dict("records")
    preds_path, rel_path = out / "predictions.csv", out / "reliability.csv"
    sections["track"], sections["reliability"], sections["track_model"] = [], None, model
    sections["track_units"], sections["track_months"] = [], []
    if model and preds_path.exists():
        preds = pd.read_csv(preds_path, parse_dates=["origin", "target_month"])
        if model in set(preds["model"]):
            t = track_record(preds, as_of_months=6, horizon=h0, model=model)
            t["target_month"] = t["target_month"].dt.strftime("%Y-%m")
            sections["track"] = t.to_dict("records")
            sections["track_units"], sections["track_months"] = _per_unit(
                preds, model, h0, p.sort_values(ascending=False).index[: settings.top_n]
            )
    if model and rel_path.exists():
        rel = pd.read_csv(rel_path)
        if model in set(rel["model"]):
            sections["reliability"] = reliability_png_uri(rel, model, figures / f"reliability_{model}.png")
    return sections


def _per_unit(
    preds: pd.DataFrame, model: str, horizon: int, unit_ids, months: int = 6
) -> tuple[list[dict], list[str]]:
    """Per top unit: the last ``months`` backtest forecasts and whether an attack followed."""
    d = preds[(preds["model"] == model) & (preds["horizon"] == horizon) & preds["y_true"].notna()]
    last = sorted(d["target_month"].unique())[-months:]
    d = d[d["target_month"].isin(last)]
    cells = d.set_index(["unit_id", "target_month"])
    rows = []
    for uid in unit_ids:
        if uid not in set(d["unit_id"]):
            continue
        name = d.loc[d["unit_id"] == uid, "unit_name"].iloc[0]
        marks = []
        for m in last:
            r = cells.loc[(uid, m)] if (uid, m) in cells.index else None
            marks.append("" if r is None else f"{r['p']:.2f} {'attack' if r['y_true'] == 1 else 'none'}")
        rows.append({"unit_name": name, "cells": marks})
    return rows, [pd.Timestamp(m).strftime("%Y-%m") for m in last]
