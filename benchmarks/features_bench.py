#!/usr/bin/env python
"""Feature-library benchmark: build the default feature set and print wall time, peak memory and rows/s.

    python benchmarks/features_bench.py                       # both panels
    python benchmarks/features_bench.py --only grid --cells 10000 --months 420
    python benchmarks/features_bench.py --only mali --reference-units 50
    python benchmarks/features_bench.py --only grid --profile # + cProfile of the vectorised build

Panels:

* ``mali``: the real Mali admin-2 panel -- 50 cercles x 2012-01..2019-06, the real ACLED Mali
  events (HDX export), riskcast's curated presence and shocks and the Powell & Thyne coups, read
  and assigned to cercles by the pipeline's own ingest (``riskcast.jobs.ingest``). Skipped, with
  the reason printed, when the shared data directory is absent.
* ``grid``: a synthetic PRIO-GRID panel (``benchmarks/synthetic.py``): 100 x 100 cells x 420
  months (1990-01..2024-12) = 4.2 M rows, ~1.9 M seeded events clustered in space and time,
  300 presence rows and 48 shocks.

What is timed is the pipeline's feature path (``riskcast.jobs.stages.build_feature_panel``
without the panel table): the neighbour matrix of the gazetteer, ``build_context`` (placing
events, presence and shocks on the grid) and ``compute_features`` of the ``default`` feature
set. Reading the inputs and generating the synthetic data happen before the clock starts.

Each measurement runs in a fresh subprocess so that memory numbers do not contaminate each
other. Memory: ``peak RSS`` is the process's high-water mark (``ru_maxrss``: input tables
included); ``build peak`` is the high-water mark of the build alone (reset through
``/proc/self/clear_refs`` just before the clock starts, so it still includes the inputs the
build reads, but not transient memory of loading or generating them).

The naive reference (``benchmarks/reference.py``: plain Python loops, one value at a time) runs
on a subsample of units x all months of the same context; its values are checked against the
vectorised features on that subsample, and the speed-up is vectorised rows/s / reference rows/s.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

DATA = Path(os.environ.get("RISKCAST_SHARED_DATA", ROOT.parent / "shared" / "data"))
MALI_EVENTS = "events/acled_hdx_mali_1997_2019-06.csv"
MALI_COUPS = "shocks/powell_thyne_coups_V2022.11.29.csv"

TARGET_SECONDS, TARGET_GB, TARGET_SPEEDUP = 60.0, 6.0, 20.0


# --- memory -------------------------------------------------------------------------------


def _status_gb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024**2  # kB -> GB (GiB)
    except OSError:
        pass
    return None


def _maxrss_gb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    return kb / 1024**2


def _reset_peak() -> bool:
    """Reset the process's RSS high-water mark (Linux >= 4.0); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# --- inputs -------------------------------------------------------------------------------


def grid_inputs(cells: int, n_months: int) -> dict:
    import pandas as pd
    import synthetic

    from riskcast.config import TargetSpec
    from riskcast.features.context import load_actor_groups
    from riskcast.panel import month_range

    side = max(1, round(math.sqrt(cells)))
    start = "1990-01"
    months = month_range(start, pd.Timestamp(start) + pd.DateOffset(months=n_months - 1))
    units = synthetic.grid_units(side)
    events = synthetic.grid_events(units, months, side=side)
    presence, shocks = synthetic.grid_presence(units, months), synthetic.grid_shocks(months)
    return dict(
        label="grid",
        title=f"synthetic PRIO-GRID {side}x{side}",
        units=units,
        months=months,
        events=events,
        arrays=synthetic.grid_arrays(events, units, months),
        presence=presence,
        shocks=shocks,
        target=TargetSpec(),
        actor_groups=load_actor_groups("actor_groups"),
        stage=lambda: _grid_stage_inputs(units, months, events, presence, shocks),
    )


def _grid_stage_inputs(units, months, events, presence, shocks):
    """(config, Ingested) for ``build_feature_panel`` on the synthetic grid."""
    import pandas as pd

    from riskcast.config import default_config
    from riskcast.jobs.ingest import Ingested
    from riskcast.schemas import COUNTS, empty

    cfg = default_config(
        ["unit=priogrid", f'panel.start="{months[0]:%Y-%m}"', f'panel.end="{months[-1]:%Y-%m}"']
    )
    counts = empty(COUNTS).assign(unit_id=pd.Series(dtype=object))
    return cfg, Ingested(events=events, counts=counts, presence=presence, shocks=shocks, units=units)


def mali_inputs() -> dict:
    from riskcast.config import load_config
    from riskcast.features.context import load_actor_groups
    from riskcast.jobs.ingest import ingest
    from riskcast.panel import build_panel, month_range

    cfg = load_config(
        ROOT / "examples" / "acled_mali.toml",
        [
            "unit=admin2",
            f'inputs.acled.path="{DATA / MALI_EVENTS}"',
            f'inputs.coups.path="{DATA / MALI_COUPS}"',
        ],
    )
    data = ingest(cfg)
    panel, arrays = build_panel(
        data.events,
        data.units,
        cfg.target,
        cfg.backtest.horizons,
        start=cfg.panel.start,
        end=cfg.panel.end,
        counts=data.counts,
    )
    months = month_range(panel["month"].min(), panel["month"].max())
    return dict(
        label="mali",
        title="Mali admin-2 (real ACLED)",
        units=data.units,
        months=months,
        events=data.events,
        arrays=arrays,
        presence=data.presence,
        shocks=data.shocks,
        target=cfg.target,
        actor_groups=load_actor_groups(cfg.features.actor_groups),
        stage=lambda: (cfg, data),
    )


def mali_missing() -> str | None:
    for rel in (MALI_EVENTS, MALI_COUPS):
        if not (DATA / rel).is_file():
            return (
                f"real data not found: {DATA / rel} (set RISKCAST_SHARED_DATA to the shared data directory)"
            )
    return None


def make_context(inp: dict):
    from riskcast.features.context import build_context
    from riskcast.regions import Gazetteer

    return build_context(
        units=inp["units"],
        months=inp["months"],
        neighbours=Gazetteer(inp["units"]).neighbour_matrix(),
        arrays=inp["arrays"],
        events=inp["events"],
        presence=inp["presence"],
        shocks=inp["shocks"],
        target=inp["target"],
        actor_groups=inp["actor_groups"],
    )


def feature_list(name: str):
    from riskcast.features.spec import load_feature_set

    return load_feature_set(name).features


# --- one case, in its own process ---------------------------------------------------------


def run_vectorised(inp: dict, features, profile: bool) -> dict:
    from riskcast.features import compute_features

    n_u, n_m = len(inp["units"]), len(inp["months"])
    gc.collect()
    before = _status_gb("VmRSS")
    reset_ok = _reset_peak()
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    t0, c0 = time.perf_counter(), time.process_time()
    ctx = make_context(inp)
    t1 = time.perf_counter()
    per_feature = []
    for f in features:  # the same calls compute_features makes, timed one by one
        s = time.perf_counter()
        ctx.get(f)
        per_feature.append((time.perf_counter() - s, f.name))
    table = compute_features(features, ctx)
    t2, c2 = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.disable()
    out = dict(
        method="vectorised",
        units=n_u,
        months=n_m,
        rows=len(table),
        features=table.shape[1],
        context_s=t1 - t0,
        features_s=t2 - t1,
        wall_s=t2 - t0,
        # CPU seconds of the process over the same span: wall minus the time other jobs on a
        # shared machine took the cores away (page faults count, as they are the build's work)
        cpu_s=c2 - c0,
        rows_per_s=len(table) / (t2 - t0),
        rss_before_gb=before,
        build_peak_gb=_status_gb("VmHWM") if reset_ok else None,
        peak_rss_gb=_maxrss_gb(),
        table_gb=table.memory_usage(index=False).sum() / 1024**3,
        slowest=sorted(per_feature, reverse=True)[:12],
        events=len(ctx.events),
        presence_rows=0 if ctx.presence is None else len(ctx.presence),
        shock_rows=0 if ctx.shocks is None else len(ctx.shocks),
    )
    if prof is not None:
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
        buf.write("\n--- by internal time ---\n")
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(20)
        out["profile"] = buf.getvalue()
    return out


def run_stage(inp: dict) -> dict:
    """The pipeline's whole feature stage, ``riskcast.jobs.stages.build_feature_panel``: the panel
    table (keys, counts, targets), the features of the run's sets, and the joined table."""
    from riskcast.jobs.stages import build_feature_panel, feature_columns

    cfg, data = inp["stage"]()
    for k in ("events", "arrays", "presence", "shocks"):
        inp.pop(k, None)  # the stage reads ``data``; drop the benchmark's own references
    gc.collect()
    before = _status_gb("VmRSS")
    reset_ok = _reset_peak()
    t0 = time.perf_counter()
    panel = build_feature_panel(cfg, data)
    wall = time.perf_counter() - t0
    return dict(
        method="stage",
        units=panel["unit_id"].nunique(),
        months=panel["month"].nunique(),
        rows=len(panel),
        features=len(feature_columns(panel)),
        wall_s=wall,
        rows_per_s=len(panel) / wall,
        rss_before_gb=before,
        build_peak_gb=_status_gb("VmHWM") if reset_ok else None,
        peak_rss_gb=_maxrss_gb(),
        table_gb=panel.memory_usage(index=False).sum() / 1024**3,
    )


def _sample(inp: dict, ctx, k: int) -> list[int]:
    """``k`` units: all when the panel has no more; else half with presence rows, half at random (seeded)."""
    import numpy as np

    n_u = len(inp["units"])
    if k >= n_u:
        return list(range(n_u))
    rng = np.random.default_rng(0)
    with_presence = (
        np.unique(ctx.presence["unit_ix"].to_numpy())
        if ctx.presence is not None and len(ctx.presence)
        else np.array([], int)
    )
    pick = (
        set(rng.choice(with_presence, min(k // 2, len(with_presence)), replace=False).tolist())
        if len(with_presence)
        else set()
    )
    rest = rng.permutation(n_u)
    for u in rest.tolist():
        if len(pick) >= k:
            break
        pick.add(u)
    return sorted(pick)


def run_reference(inp: dict, features, k: int) -> dict:
    import numpy as np
    from reference import Reference

    ctx = make_context(inp)
    sample = _sample(inp, ctx, k)
    n_m = len(inp["months"])
    gc.collect()
    t0 = time.perf_counter()
    ref = Reference(ctx)
    values = {f.name: np.array([ref.compute(f, u) for u in sample], dtype=float) for f in features}
    wall = time.perf_counter() - t0
    # Check the loops against the library on the subsample (the library's own cache is separate).
    mismatches = []
    for f in features:
        fast = ctx.get(f)[sample]
        slow = values[f.name]
        if not np.allclose(fast, slow, rtol=1e-9, atol=1e-9):
            bad = ~np.isclose(fast, slow, rtol=1e-9, atol=1e-9)
            mismatches.append((f.name, int(bad.sum()), float(np.max(np.abs(fast - slow)))))
    rows = len(sample) * n_m
    # Country totals are whole-country sums shared by every unit of the country: charging them
    # to a 50-unit subsample would inflate the speed-up, so rows/s leaves them out (reported apart).
    per_row = wall - ref.one_off_s
    return dict(
        method="reference",
        units=len(sample),
        months=n_m,
        rows=rows,
        features=len(features),
        wall_s=per_row,
        one_off_s=ref.one_off_s,
        rows_per_s=rows / per_row,
        peak_rss_gb=_maxrss_gb(),
        mismatches=mismatches,
        n_checked=len(features),
    )


def child(args) -> None:
    inp = grid_inputs(args.cells, args.months) if args.child_panel == "grid" else mali_inputs()
    features = feature_list(args.feature_set)
    if args.child_method == "vectorised":
        res = run_vectorised(inp, features, args.profile)
    elif args.child_method == "stage":
        res = run_stage(inp)
    else:
        res = run_reference(inp, features, args.reference_units)
    res.update(panel=inp["label"], title=inp["title"])
    print("RESULT " + json.dumps(res))


# --- the parent: run every case in a fresh process, print the table -----------------------


def run_case(panel: str, method: str, args) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-panel",
        panel,
        "--child-method",
        method,
        "--cells",
        str(args.cells),
        "--months",
        str(args.months),
        "--reference-units",
        str(args.reference_units),
        "--feature-set",
        args.feature_set,
    ] + (["--profile"] if args.profile and method == "vectorised" else [])
    print(f"  running {panel} / {method} ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        return dict(panel=panel, method=method, error=f"exit {proc.returncode}: {tail}")
    return json.loads(line[len("RESULT ") :])


def _gb(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def report(results: list[dict], skipped: dict[str, str], args) -> None:
    print()
    print(
        f"riskcast feature benchmark -- feature set '{args.feature_set}', {os.cpu_count()} CPU(s), "
        f"python {sys.version.split()[0]}"
    )
    head = f"{'panel':<28} {'method':<11} {'units':>6} {'months':>6} {'rows':>10} {'feats':>5} {'wall s':>8} {'rows/s':>11} {'peak RSS GB':>11} {'build GB':>8} {'speed-up':>8}"
    print(head)
    print("-" * len(head))
    by = {(r["panel"], r["method"]): r for r in results}
    for r in results:
        if "error" in r:
            print(f"{r['panel']:<28} {r['method']:<11} FAILED: {r['error']}")
            continue
        speed = ""
        if (
            r["method"] == "vectorised"
            and (r["panel"], "reference") in by
            and "error" not in by[(r["panel"], "reference")]
        ):
            speed = f"{r['rows_per_s'] / by[(r['panel'], 'reference')]['rows_per_s']:.0f}x"
        print(
            f"{r.get('title', r['panel']):<28} {r['method']:<11} {r['units']:>6} {r['months']:>6} {r['rows']:>10,} "
            f"{r['features']:>5} {r['wall_s']:>8.2f} {r['rows_per_s']:>11,.0f} {_gb(r['peak_rss_gb']):>11} "
            f"{_gb(r.get('build_peak_gb')):>8} {speed:>8}"
        )
    for name, why in skipped.items():
        print(f"{name:<28} skipped: {why}")
    print()
    for r in results:
        if "error" in r:
            continue
        if r["method"] == "stage":
            print(
                f"{r['title']}: pipeline stage build_feature_panel (panel table + features of the run's sets + join): "
                f"{r['wall_s']:.2f} s, build peak {_gb(r['build_peak_gb'])} GB from {_gb(r['rss_before_gb'])} GB before, "
                f"result {r['table_gb']:.2f} GB"
            )
        elif r["method"] == "vectorised":
            print(
                f"{r['title']}: context {r['context_s']:.2f} s + features {r['features_s']:.2f} s "
                f"(CPU {r['cpu_s']:.2f} s); "
                f"{r['events']:,} events, {r['presence_rows']} placed presence rows, {r['shock_rows']} placed shock rows; "
                f"RSS before the build {_gb(r['rss_before_gb'])} GB; feature table {r['table_gb']:.2f} GB"
            )
            print(
                "  slowest features (s, first computation incl. inner features): "
                + ", ".join(f"{n} {s:.2f}" for s, n in r["slowest"][:8])
            )
        else:
            ok = r["n_checked"] - len(r["mismatches"])
            print(
                f"{r['title']}: reference wall {r['wall_s']:.2f} s for its rows, plus {r['one_off_s']:.2f} s of whole-country "
                "sums (CountryTotal) not charged to them"
            )
            print(
                f"{r['title']}: reference loops on {r['units']} units agree with the library on {ok}/{r['n_checked']} features"
                + (
                    ""
                    if not r["mismatches"]
                    else "; DIFFER: "
                    + ", ".join(f"{n} ({k} values, max |diff| {d:.3g})" for n, k, d in r["mismatches"])
                )
            )
    grid = by.get(("grid", "vectorised"))
    if grid and "error" not in grid and grid["units"] * grid["months"] >= 4_000_000:
        ref = by.get(("grid", "reference"))
        speed = grid["rows_per_s"] / ref["rows_per_s"] if ref and "error" not in ref else None
        checks = [
            (f"wall time {grid['wall_s']:.1f} s < {TARGET_SECONDS:.0f} s", grid["wall_s"] < TARGET_SECONDS),
            (f"peak RSS {grid['peak_rss_gb']:.2f} GB < {TARGET_GB:.0f} GB", grid["peak_rss_gb"] < TARGET_GB),
            (
                f"speed-up {speed:.0f}x >= {TARGET_SPEEDUP:.0f}x" if speed else "speed-up: no reference run",
                bool(speed and speed >= TARGET_SPEEDUP),
            ),
            (f"features {grid['features']} >= 60", grid["features"] >= 60),
        ]
        print(
            "\ntargets (grid panel): "
            + "; ".join(f"{text}: {'PASS' if ok else 'MISS'}" for text, ok in checks)
        )
    for r in results:
        if r.get("profile"):
            print(f"\n=== cProfile of the vectorised build, {r['title']} ===\n{r['profile']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["grid", "mali"], help="run one panel only")
    ap.add_argument(
        "--cells",
        type=int,
        default=10_000,
        help="PRIO-GRID cells of the synthetic panel (rounded to a square)",
    )
    ap.add_argument("--months", type=int, default=420, help="months of the synthetic panel, from 1990-01")
    ap.add_argument(
        "--reference-units", type=int, default=50, help="units of the naive reference's subsample"
    )
    ap.add_argument("--no-reference", action="store_true", help="skip the naive reference")
    ap.add_argument(
        "--no-stage", action="store_true", help="skip the whole pipeline stage (build_feature_panel)"
    )
    ap.add_argument("--feature-set", default="default", help="feature set (name in features/ or a TOML path)")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the vectorised build")
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    ap.add_argument("--child-panel", choices=["grid", "mali"], help=argparse.SUPPRESS)
    ap.add_argument("--child-method", choices=["vectorised", "reference", "stage"], help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    if args.child_panel:
        child(args)
        return 0
    panels = [args.only] if args.only else ["mali", "grid"]
    results, skipped = [], {}
    for panel in panels:
        if panel == "mali" and (why := mali_missing()):
            skipped["Mali admin-2 (real ACLED)"] = why
            continue
        for method in (
            ["vectorised"]
            + ([] if args.no_reference else ["reference"])
            + ([] if args.no_stage else ["stage"])
        ):
            results.append(run_case(panel, method, args))
    report(results, skipped, args)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "skipped": skipped}, indent=2, default=str))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
