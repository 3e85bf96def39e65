"""The monthly job's checks before training: coverage, region assignment, row counts; and the drift report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from riskcast.atomic import write_text
from riskcast.drift import compare_profiles, input_profile
from riskcast.jobs.retrain.context import Ctx, month_start

__all__ = ["validate", "drift"]


def validate(ctx: Ctx, data, as_of: pd.Timestamp, previous: dict | None) -> list[dict]:
    """Coverage, region assignment and row-count checks (schemas were checked while reading)."""
    v = ctx.spec.validation
    checks = [{"name": "schemas", "ok": True, "detail": "every input read and matched its schema"}]
    events = data.events
    if len(events):
        newest = pd.to_datetime(events["date"]).groupby(events["source_dataset"]).max()
        oldest_ok = as_of - pd.DateOffset(months=v.max_lag_months)
        for src, last in sorted(newest.items()):
            ok = month_start(last) >= oldest_ok
            checks.append(
                {
                    "name": f"coverage:{src}",
                    "ok": bool(ok),
                    "detail": f"{src}: newest event {last:%Y-%m-%d}; the as-of month {as_of:%Y-%m} allows data "
                    f"from {oldest_ok:%Y-%m} on (max_lag_months={v.max_lag_months})"
                    + ("" if ok else ": the data are too old for this month"),
                }
            )
    else:
        checks.append({"name": "coverage", "ok": False, "detail": "no events at all were read"})
    a = data.assignment or {}
    n, n_ok = int(a.get("n_events", 0)), int(a.get("n_assigned", 0))
    share = (n - n_ok) / n if n else 0.0
    checks.append(
        {
            "name": "region_assignment",
            "ok": share <= v.max_unassigned_share,
            "detail": f"{n - n_ok} of {n} events ({share:.1%}) could not be placed in a unit "
            f"(limit {v.max_unassigned_share:.1%})",
        }
    )
    before = (previous or {}).get("inputs_rows", {})
    for name, rep in sorted(data.reports.items()):
        kept, prev = int(rep.get("rows_kept", 0)), before.get(name)
        if prev is None:
            checks.append(
                {
                    "name": f"rows:{name}",
                    "ok": True,
                    "detail": f"{name}: {kept} rows (no earlier run to compare)",
                }
            )
            continue
        ok = kept >= v.min_rows_ratio * prev
        checks.append(
            {
                "name": f"rows:{name}",
                "ok": bool(ok),
                "detail": f"{name}: {kept} rows, last month {prev} (minimum ratio {v.min_rows_ratio:g})"
                + ("" if ok else f": collapsed to {kept / prev if prev else 0:.0%} of last month"),
            }
        )
    return checks


def drift(ctx: Ctx, data, as_of: pd.Timestamp, previous: dict | None, work: Path) -> dict:
    """This month's input profile against the last complete month's (kept as ``input_profile.json``)."""
    profile = input_profile(
        data.events, data.units, as_of, data.reports, window_months=ctx.spec.drift.window_months
    )
    write_text(work / "input_profile.json", json.dumps(profile, indent=2, sort_keys=True) + "\n")
    prev = None
    if previous is not None:
        p = ctx.state / "months" / previous["as_of"] / "input_profile.json"
        prev = json.loads(p.read_text()) if p.exists() else None
    drift = compare_profiles(prev, profile, mix_threshold=ctx.spec.drift.mix_threshold)
    drift["compared_with"] = previous["as_of"] if prev is not None else None
    write_text(work / "drift.json", json.dumps(drift, indent=2, sort_keys=True, default=str) + "\n")
    return drift
