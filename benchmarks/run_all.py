#!/usr/bin/env python
"""Run every riskcast benchmark (``make bench``): the feature library (features_bench.py), batch
scoring (scoring_bench.py), the main job and Mali cercles run by stage (main_job.py) and the side by
side with the VIEWS transformation library (views_bench.py).

Arguments are passed on to each benchmark, e.g. ``python benchmarks/run_all.py --only grid``.
Benchmarks print numbers; they are not tests and never fail on a slow machine (a benchmark
exits non-zero only when a case crashes).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import features_bench  # noqa: E402
import main_job  # noqa: E402
import scoring_bench  # noqa: E402
import views_bench  # noqa: E402

BENCHMARKS = [
    ("feature library", features_bench.main),
    ("batch scoring", scoring_bench.main),
    ("main job and Mali cercles, by stage", main_job.main),
    ("side by side with the VIEWS transformation library", views_bench.main),
]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    status = 0
    for title, run in BENCHMARKS:
        print(f"### {title}", flush=True)
        status |= run(list(argv))
    return status


if __name__ == "__main__":
    sys.exit(main())
