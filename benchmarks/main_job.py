#!/usr/bin/env python
"""The main job and the real Mali cercles run, end to end, by stage and by model.

Each run is the product's own command in a fresh process (``riskcast demo`` / ``riskcast run``,
set-up excluded: the environment is already installed), timed from outside; the breakdown comes
from the run's ``run.json`` (``timings_seconds`` by stage, ``backtest.seconds`` by part of the
backtest stage, ``backtest.model_seconds`` by model: worker seconds, summed over horizons).

The CPU seconds (user + system, the run and its worker processes) are printed beside the wall
time: on a machine others use too the wall time of a 2-core run moves by tens of seconds, its
CPU seconds far less. ``--repeat N`` runs each case N times and reports the fastest.

    python benchmarks/main_job.py                 # both
    python benchmarks/main_job.py --only demo --repeat 3

The Mali cercles run needs ``../shared/data``; without it that case is skipped with the reason.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
RISKCAST = Path(sys.executable).with_name("riskcast")
CASES = {
    "demo": (
        ["demo"],
        "the main job (embedded SYNTHETIC Mali admin-1, 13 models x 4 horizons x 36 origins)",
        False,
    ),
    "mali_admin2": (
        ["run", "examples/acled_mali_admin2.toml"],
        "real ACLED Mali cercles (50 units, origins 2017-01..), make skill's slowest real config",
        True,
    ),
}
TARGETS = {"demo": 60.0, "mali_admin2": 40.0}


def run_case(key: str, out_root: Path) -> dict | None:
    args, title, needs_shared = CASES[key]
    if needs_shared and not SHARED.is_dir():
        print(f"{key}: skipped: {SHARED} is absent (the real data are not redistributed)")
        return None
    out = out_root / key
    shutil.rmtree(out, ignore_errors=True)  # a fresh run: no registry or scores to reuse
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(
        [str(RISKCAST), "-q", *args, "--out", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        print(f"{key}: failed ({done.returncode}): {done.stderr.strip()[-500:]}")
        return None
    run = json.loads((out / "run.json").read_text())
    stages = run["timings_seconds"]
    parts = run["backtest"]["seconds"]
    models = sorted(run["backtest"]["model_seconds"].items(), key=lambda kv: -kv[1])
    print(f"\n## {key}: {title}")
    print(
        f"  wall {wall:.1f} s (target {TARGETS[key]:.0f} s: {'met' if wall < TARGETS[key] else 'NOT met'}), "
        f"CPU {cpu:.1f} s (all processes)"
    )
    print("  stages: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))
    print("  backtest parts: " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items()))
    print(
        f"  worker seconds, all models: {sum(v for _, v in models):.1f}; top 8: "
        + ", ".join(f"{k} {v:.1f}" for k, v in models[:8])
    )
    return {"key": key, "wall": wall, "cpu": cpu, "stages": stages, "parts": parts}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # --only is shared by make bench's benchmarks: names this one does not know are left out
    ap.add_argument("--only", nargs="*", default=list(CASES), help=f"cases: {', '.join(CASES)}")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench_main")
    ap.add_argument("--repeat", type=int, default=1, help="runs per case; the fastest is reported")
    args, _ = ap.parse_known_args(argv)
    keys = [k for k in args.only if k in CASES]
    if not keys:
        print(f"main job: no case among {args.only} (cases: {', '.join(CASES)})")
    for key in keys:
        runs = [r for r in (run_case(key, args.out) for _ in range(max(args.repeat, 1))) if r]
        if len(runs) > 1:
            walls = ", ".join(f"{r['wall']:.1f}" for r in runs)
            cpus = ", ".join(f"{r['cpu']:.1f}" for r in runs)
            print(
                f"\n## {key}: {len(runs)} runs: wall {walls} s (fastest {min(r['wall'] for r in runs):.1f}); CPU {cpus} s"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
