#!/usr/bin/env python
"""Batch-scoring benchmark: score every cell of a PRIO-GRID panel, 4 horizons, through the registry.

    python benchmarks/scoring_bench.py                        # 10,000 cells x 96 months
    python benchmarks/scoring_bench.py --cells 2500 --months 60

The path timed is ``riskcast score``'s (``riskcast.jobs.score.stage_score``) without the CLI:

1. a synthetic PRIO-GRID panel (``benchmarks/synthetic.py``) goes through the pipeline's feature
   stage ``riskcast.jobs.stages.build_feature_panel`` (default feature set, horizons 1/3/6/12);
2. a champion-like ``LogisticCount(C=0.01)`` on every feature column is fitted per horizon
   (``riskcast.evaluation.backtest.fit_model``) on a seeded subsample of the rows whose target
   is known -- scoring speed does not depend on how many rows the fit saw;
3. the four fits are wrapped in a ``ForecastBundle``, logged and registered in a temporary
   SQLite MLflow store (``setup_mlflow`` + ``log_bundle``) and loaded back as a pyfunc with
   ``load_registered(name, version=...)``;
4. ``riskcast.scoring.score_month`` scores the last month's units (progress printed per chunk),
   then ``riskcast.scoring_cache.cached_score`` is called twice with the same key: a miss
   (scores and stores the table) and a hit (reads it back).

Steps 1-3 are set-up: their times are printed for context only. Memory: ``peak RSS`` is the
process's high-water mark (``ru_maxrss``, the panel included); ``scoring HWM`` is the
high-water mark from just before the scoring call (reset through ``/proc/self/clear_refs``,
Linux); ``tracemalloc peak`` is the Python-level allocation peak of a second, traced scoring
call (traced separately because tracemalloc slows allocation and would distort the timing).
Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from features_bench import _maxrss_gb, _reset_peak  # noqa: E402  (same memory probes as the feature benchmark)

HORIZONS = (1, 3, 6, 12)
MODEL_NAME = "riskcast-scoring-bench"


def _status_gb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def _gb(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f} GB"


def build_panel(cells: int, n_months: int):
    """The feature panel of a ``side x side`` synthetic grid (``side`` = round(sqrt(cells)))."""
    import pandas as pd
    import synthetic

    from riskcast.config import default_config
    from riskcast.jobs.ingest import Ingested
    from riskcast.jobs.stages import build_feature_panel
    from riskcast.panel import month_range
    from riskcast.schemas import COUNTS, empty

    side = max(1, round(math.sqrt(cells)))
    start = "2010-01"
    months = month_range(start, pd.Timestamp(start) + pd.DateOffset(months=n_months - 1))
    units = synthetic.grid_units(side)
    events = synthetic.grid_events(units, months, side=side)
    cfg = default_config(
        [
            "unit=priogrid",
            f'panel.start="{months[0]:%Y-%m}"',
            f'panel.end="{months[-1]:%Y-%m}"',
            f"backtest.horizons=[{','.join(map(str, HORIZONS))}]",
        ]
    )
    counts = empty(COUNTS).assign(unit_id=pd.Series(dtype=object))
    data = Ingested(
        events=events,
        counts=counts,
        presence=synthetic.grid_presence(units, months),
        shocks=synthetic.grid_shocks(months),
        units=units,
    )
    return build_feature_panel(cfg, data), len(events)


def fit_bundle(panel, cols: list[str], fit_rows: int, seed: int):
    """A ``ForecastBundle`` of one ``LogisticCount`` per horizon, each fitted on <= ``fit_rows`` rows."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from riskcast.evaluation.backtest import fit_model
    from riskcast.models import LogisticCount
    from riskcast.tracking.bundle import ForecastBundle

    base = LogisticCount(columns=tuple(cols), C=0.01)
    rng = np.random.default_rng(seed)
    fitted = {}
    for h in HORIZONS:
        y = panel[f"target_any_h{h}"].to_numpy(dtype=float)
        known = np.flatnonzero(~np.isnan(y))
        pick = np.sort(rng.choice(known, min(fit_rows, len(known)), replace=False))
        rows = panel.iloc[pick]
        with threadpool_limits(limits=1):  # as fit_final: small fits, threads cost more than they save
            fitted[h] = fit_model(
                base, rows[cols], y[pick], rows[f"target_count_h{h}"].to_numpy(dtype=float), rows["month"], h
            )
    return ForecastBundle(fitted, cols, "logistic", data_hash="synthetic")


def register(bundle, panel, cols: list[str], store: Path):
    """Log and register ``bundle`` in a SQLite store under ``store``; load it back as the scorer would."""
    import mlflow

    from riskcast.tracking.runs import load_registered, log_bundle, setup_mlflow, tracking_uri

    setup_mlflow(tracking_uri(None, store), "scoring-bench", store)
    with mlflow.start_run(run_name="scoring-bench"):
        name, version = log_bundle(
            bundle, MODEL_NAME, input_example=panel[cols].head(3), data_hash=bundle.data_hash
        )
    return name, version, load_registered(name, version=version)


def run(args) -> dict:
    import numpy as np

    from riskcast.jobs.stages import feature_columns
    from riskcast.scoring import score_month, write_scores
    from riskcast.scoring_cache import CACHE_DIRNAME, cache_file, cached_score, score_key

    res: dict = {}
    t0 = time.perf_counter()
    panel, n_events = build_panel(args.cells, args.months)
    res["panel_s"] = time.perf_counter() - t0
    cols = feature_columns(panel)
    as_of = panel["month"].max()
    latest = panel[panel["month"] == as_of].reset_index(drop=True)
    res.update(
        units=len(latest),
        months=panel["month"].nunique(),
        panel_rows=len(panel),
        features=len(cols),
        events=n_events,
        as_of=f"{as_of:%Y-%m}",
    )
    print(
        f"panel: {res['units']:,} units x {res['months']} months = {res['panel_rows']:,} rows, "
        f"{res['features']} features, {n_events:,} events; built in {res['panel_s']:.1f} s",
        flush=True,
    )

    t0 = time.perf_counter()
    bundle = fit_bundle(panel, cols, args.fit_rows, args.seed)
    res["fit_s"] = time.perf_counter() - t0
    del panel  # scoring needs the last month only
    gc.collect()

    with tempfile.TemporaryDirectory(prefix="riskcast-scoring-bench-") as tmp:
        store = Path(tmp)
        t0 = time.perf_counter()
        name, version, model = register(bundle, latest, cols, store)
        res["register_s"] = time.perf_counter() - t0
        print(
            f"fit {len(HORIZONS)} horizons in {res['fit_s']:.1f} s (<= {args.fit_rows:,} rows each); "
            f"logged, registered and loaded {name} v{version} in {res['register_s']:.1f} s",
            flush=True,
        )
        dhash = "synthetic-" + f"{args.seed}"
        kwargs = dict(as_of=as_of, model_name=name, model_version=version, data_hash=dhash)

        def progress(done: int) -> None:
            print(
                f"  scored {done:,}/{len(latest):,} units ({time.perf_counter() - t_score:.2f} s)", flush=True
            )

        # The timed scoring call: the registered pyfunc, every unit, every horizon.
        gc.collect()
        rss_before = _status_gb("VmRSS")
        reset_ok = _reset_peak()
        print("score_month (registered pyfunc):", flush=True)
        t_score = time.perf_counter()
        scores = score_month(model, latest, progress=progress, **kwargs)
        res["score_s"] = time.perf_counter() - t_score
        res["score_hwm_gb"] = _status_gb("VmHWM") if reset_ok else None
        res["rss_before_gb"] = rss_before
        res["rows_written"] = len(scores)
        res["units_per_s"] = len(latest) / res["score_s"]
        res["unit_horizons_per_s"] = len(scores) / res["score_s"]

        # Same call, in-memory bundle: what the pyfunc wrapper (schema checks) costs on top.
        t0 = time.perf_counter()
        direct = score_month(bundle, latest, **kwargs)
        res["score_inmemory_s"] = time.perf_counter() - t0
        res["same_as_inmemory"] = bool(
            np.allclose(direct["p"], scores["p"]) and direct["unit_id"].equals(scores["unit_id"])
        )

        # Python-level allocation peak of a scoring call, traced apart from the timed one.
        gc.collect()
        tracemalloc.start()
        score_month(model, latest, **kwargs)
        res["tracemalloc_peak_gb"] = tracemalloc.get_traced_memory()[1] / 1024**3
        tracemalloc.stop()

        # The cache as stage_score uses it: key from model version, data hash and the rows.
        cache_dir = store / CACHE_DIRNAME
        t0 = time.perf_counter()
        key = score_key(
            model_name=name,
            model_version=version,
            data_hash=dhash,
            as_of=as_of,
            rows=latest,
            feature_cols=cols,
        )
        res["key_s"] = time.perf_counter() - t0
        for attempt in ("miss", "hit"):
            t0 = time.perf_counter()
            table, hit = cached_score(cache_dir, key, lambda: score_month(model, latest, **kwargs))
            res[f"cache_{attempt}_s"] = time.perf_counter() - t0
            res[f"cache_{attempt}_was_hit"] = hit
        res["cache_same"] = bool(table.equals(scores))
        res["cache_file_mb"] = cache_file(cache_dir, key).stat().st_size / 1024**2
        t0 = time.perf_counter()
        out = write_scores(table, store / "scores.csv")
        res["write_csv_s"] = time.perf_counter() - t0
        res["scores_csv_mb"] = out.stat().st_size / 1024**2
    res["peak_rss_gb"] = _maxrss_gb()
    return res


def report(r: dict) -> None:
    n_h = len(HORIZONS)
    print()
    print(f"riskcast scoring benchmark -- {os.cpu_count()} CPU(s), python {sys.version.split()[0]}")
    print(
        f"units scored (as of {r['as_of']}): {r['units']:,} x {n_h} horizons -> {r['rows_written']:,} score rows written"
    )
    print(
        f"score_month, registered pyfunc: {r['score_s']:.2f} s = {r['units_per_s']:,.0f} units/s "
        f"({r['unit_horizons_per_s']:,.0f} unit-horizons/s)"
    )
    print(
        f"score_month, in-memory bundle:  {r['score_inmemory_s']:.2f} s (same scores: {r['same_as_inmemory']})"
    )
    print(f"cache key (hash of {r['units']:,} rows x {r['features']} features): {r['key_s']:.3f} s")
    print(
        f"cached_score miss (score + store): {r['cache_miss_s']:.2f} s (hit={r['cache_miss_was_hit']}); "
        f"hit: {r['cache_hit_s']:.3f} s (hit={r['cache_hit_was_hit']}); table identical: {r['cache_same']}; "
        f"cache file {r['cache_file_mb']:.2f} MB"
    )
    print(f"write_scores csv: {r['write_csv_s']:.2f} s, {r['scores_csv_mb']:.2f} MB")
    print(
        f"memory: peak RSS {_gb(r['peak_rss_gb'])} (whole process, panel build included); "
        f"RSS before scoring {_gb(r['rss_before_gb'])}, scoring HWM {_gb(r['score_hwm_gb'])}; "
        f"tracemalloc peak of one scoring call {r['tracemalloc_peak_gb'] * 1024:.0f} MB"
    )
    print(
        f"set-up (not part of scoring): panel {r['panel_s']:.1f} s, fit {r['fit_s']:.1f} s, "
        f"log+register+load {r['register_s']:.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", type=int, default=10_000, help="PRIO-GRID cells (rounded to a square)")
    ap.add_argument("--months", type=int, default=96, help="months of the panel (the last one is scored)")
    ap.add_argument(
        "--fit-rows", type=int, default=200_000, help="rows each horizon's model is fitted on (subsample)"
    )
    ap.add_argument("--seed", type=int, default=0)
    # run_all.py passes its arguments to every benchmark: ignore the feature benchmark's own.
    args, _ = ap.parse_known_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    if args.months < max(HORIZONS) + 2:
        ap.error(f"--months must be at least {max(HORIZONS) + 2} so that every horizon has known targets")
    report(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
