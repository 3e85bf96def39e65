#!/usr/bin/env python
"""Run every riskcast benchmark (``make bench``): the feature library (features_bench.py), batch
scoring (scoring_bench.py), the main job and Mali cercles run by stage (main_job.py) and the side by
side with the VIEWS transformation library (views_bench.py), then the whole product on Dask on an
Africa-sized and a global synthetic grid (grid_run.py: about 40 and 30 minutes on 2 cores).

Arguments are passed on to each benchmark but the grid runs, e.g. ``python benchmarks/run_all.py
--only grid``; ``--skip-grid`` leaves the two grid runs out.
Benchmarks print numbers; they are not tests and never fail on a slow machine (a benchmark
exits non-zero only when a case crashes).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import features_bench  # noqa: E402
import grid_run  # noqa: E402
import main_job  # noqa: E402
import scoring_bench  # noqa: E402
import views_bench  # noqa: E402

BENCHMARKS = [
    ("feature library", features_bench.main),
    ("batch scoring", scoring_bench.main),
    ("main job and Mali cercles, by stage", main_job.main),
    ("side by side with the VIEWS transformation library", views_bench.main),
]
#: The issue's two grid sizes, each with its own arguments (the global one with one horizon and
#: one origin: the Africa backtest on 65,025 cells would take about 2.5 hours here).
GRID_RUNS = [
    ("riskcast run on Dask, Africa-sized grid (10,609 cells)", []),
    (
        "riskcast run on Dask, global grid (65,025 cells)",
        ["--side", "255", "--horizons", "1", "--eval-months", "1"],
    ),
]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    skip_grid = "--skip-grid" in argv
    argv = [a for a in argv if a != "--skip-grid"]
    status = 0
    for title, run in BENCHMARKS:
        print(f"### {title}", flush=True)
        status |= run(list(argv))
    for title, args in [] if skip_grid else GRID_RUNS:
        print(f"### {title}", flush=True)
        status |= grid_run.main(list(args))
    return status


if __name__ == "__main__":
    sys.exit(main())
