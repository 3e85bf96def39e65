#!/usr/bin/env python
"""The whole product (`riskcast run`) on an Africa-sized SYNTHETIC PRIO-GRID panel, on Dask.

    python benchmarks/grid_run.py                                   # 103 x 103 cells x 420 months (Africa)
    python benchmarks/grid_run.py --side 30 --months 120            # a quick check (900 cells, 10 years)
    python benchmarks/grid_run.py --horizons 1 3 --eval-months 4    # a smaller backtest
    python benchmarks/grid_run.py --side 255 --horizons 1 --eval-months 1   # global: 65,025 cells
    python benchmarks/grid_run.py --keep out/grid_run               # keep the inputs and the run's folder

What it does (generation happens before the clock):

1. Inputs, in a temp dir (or ``--keep DIR``/inputs): a ``side x side`` block of PRIO-GRID cells x
   ``--months`` months from 1990-01 (103 x 103 = 10,609 cells x 420 months, 1990-01..2024-12, by
   default) from ``synthetic.py`` (seeded; hotspots in proportion to the area, as
   ``dask_bench.py`` does): the events as a canonical EVENTS parquet file (about 2 M rows),
   synthetic presence and shocks as canonical PRESENCE / SHOCKS files. Everything is SYNTHETIC.
2. A config TOML: ``unit = "priogrid"``, ``regions.bbox`` covering exactly those cells (checked
   with riskcast's own ``load_units`` before the run), the countries of the synthetic labels
   (Mali, Burkina Faso, Niger), ``compute.backend = "dask"`` with 2 workers x 1 thread x 6 GiB,
   no ablation, no intensity targets, no PDF, and a small backtest (``--eval-months`` 6,
   ``--n-boot`` 50, ``--horizons`` 1 3 6 12). The model set is the PRIO-GRID default
   (models/grid.toml: climatology, persistence, lgbm, lgbm_history), the panel stays in the
   workers' block files (run.json's ``panel.storage`` is checked).
3. ``riskcast -q run CONFIG --out DIR`` in a subprocess (its own process group, so ``--timeout``
   can end all of it), polled every 0.5 s with psutil: the RSS of the driver and of every
   descendant process (the Dask worker processes of each LocalCluster the run opens -- one per
   stage that uses Dask -- and joblib's loky workers of the baselines' backtest), each with its
   high-water mark and when it was reached; the wall time. The run's stderr is scanned for
   Dask's memory messages ("Restarting worker", "exceeded ... memory budget", "Unmanaged
   memory", paused / killed workers): a worker restart is reported, never hidden.
4. A table: wall time, run.json's ``timings_seconds``, ``backtest.seconds`` and
   ``backtest.model_seconds``, driver peak, max worker peak, worker restarts, and the Brier skill
   against climatology (95 % month-bootstrap interval) of lgbm and lgbm_history per horizon
   from metrics.csv.

RSS is polled, so a spike shorter than 0.5 s can be missed; the nanny's own memory monitor
(which restarts a worker over 95 % of ``compute.memory_limit``) is what the stderr scan reports.
Other jobs may share the machine: the load average before and after is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

GB = 1024**3
STAGES = ("ingest", "features", "backtest", "train", "score", "report")
MEMORY_PATTERNS = {
    "restart": re.compile(r"Restarting worker", re.I),
    "exceeded": re.compile(r"exceeded .*memory", re.I),
    "unmanaged": re.compile(r"Unmanaged memory use is high", re.I),
    "paused": re.compile(r"Worker is at \d+% memory usage\. Pausing|paused", re.I),
    "killed": re.compile(r"KilledWorker|killed by signal|Worker process died|Nanny.*(died|killed)", re.I),
}


# --- inputs -------------------------------------------------------------------------------


def corner(side: int) -> tuple[float, float]:
    """South-west corner (lat0, lon0): the synthetic default, moved south/west for large blocks
    (as in dask_bench.py: a global square reaches from ~56 S to 72 N)."""
    import synthetic

    lat0 = min(synthetic.LAT0, max(-90.0, 72.0 - 0.5 * side))
    lon0 = min(synthetic.LON0, 180.0 - 0.5 * side)
    return lat0, lon0


def write_inputs(side: int, n_months: int, seed: int, folder: Path) -> dict:
    """Canonical events / presence / shocks files of the synthetic grid; their paths and sizes."""
    import numpy as np
    import pandas as pd
    import synthetic

    from riskcast.io.canonical import write_canonical

    lat0, lon0 = corner(side)
    months = pd.date_range("1990-01-01", periods=n_months, freq="MS")
    units = synthetic.grid_units(side, lat0=lat0, lon0=lon0)
    hotspots = max(1, round(12 * side**2 / 10_000))
    ev = synthetic.grid_events(units, months, side=side, seed=seed, hotspots=hotspots)
    n = len(ev)
    events = pd.DataFrame(
        {
            "event_id": np.char.add("SYN", np.arange(n).astype(str)).astype(object),
            "date": ev["date"],
            "country": ev["country"],
            "admin1": None,
            "admin2": None,
            "latitude": ev["latitude"],
            "longitude": ev["longitude"],
            "event_type": ev["event_type"],
            "sub_event_type": None,
            "actor1": ev["actor1"],
            "actor2": ev["actor2"],
            "fatalities": ev["fatalities"],
            "source_dataset": "synthetic",
            "precision": pd.array(np.ones(n, dtype=np.int64), dtype="Int64"),
            "geo_precision": pd.array(np.ones(n, dtype=np.int64), dtype="Int64"),
        }
    )
    del ev
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "events": write_canonical(events, folder / "events.parquet"),
        "presence": write_canonical(
            synthetic.grid_presence(units, months, seed=seed + 1), folder / "presence.parquet"
        ),
        "shocks": write_canonical(synthetic.grid_shocks(months, seed=seed + 2), folder / "shocks.parquet"),
    }
    bbox = [lon0, lat0, lon0 + 0.5 * side, lat0 + 0.5 * side]  # cell centres lie 0.25 inside the edges
    return dict(
        paths=paths,
        bbox=bbox,
        n_units=len(units),
        n_events=n,
        start=months[0].strftime("%Y-%m"),
        end=months[-1].strftime("%Y-%m"),
        unit_ids=set(units["unit_id"]),
    )


def _toml(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return json.dumps(str(v))


def write_config(path: Path, inputs: dict, args) -> Path:
    import synthetic

    lines = [
        "# SYNTHETIC Africa-sized PRIO-GRID run written by benchmarks/grid_run.py",
        f"name = {_toml('grid-run')}",
        f"seed = {args.seed}",
        'unit = "priogrid"',
        f"countries = {_toml(list(synthetic.COUNTRIES))}",
        "",
    ]
    for name, p in inputs["paths"].items():
        lines += [
            f"[inputs.{name}]",
            f'kind = "{name}"',
            'format = "canonical"',
            f"path = {_toml(str(p))}",
            "",
        ]
    lines += [
        "[regions]",
        f"bbox = {_toml(inputs['bbox'])}",
        "",
        "[panel]",
        f"start = {_toml(inputs['start'])}",
        f"end = {_toml(inputs['end'])}",
        "",
        "[target]",
        "threshold = 1",
        "intensity = []",
        "",
        "[backtest]",
        f"horizons = {_toml(list(args.horizons))}",
        f"eval_months = {args.eval_months}",
        f"n_boot = {args.n_boot}",
        "ablation = false",
        "",
        "[report]",
        "pdf = false",
        "",
        "[tracking]",
        'experiment = "grid-run"',
        'registered_model = "grid-run"',
        "",
        "[compute]",
        'backend = "dask"',
        f"n_workers = {args.workers}",
        "threads_per_worker = 1",
        f"memory_limit = {_toml(args.memory_limit)}",
    ]
    if args.block_units:
        lines.append(f"block_units = {args.block_units}")
    path.write_text("\n".join(lines) + "\n")
    return path


def check_units(config: Path, expected: set[str]) -> int:
    """riskcast's own unit set for the config must be exactly the generated cells."""
    from riskcast.config import load_config
    from riskcast.regions.units import load_units

    got = set(load_units(load_config(config))["unit_id"])
    if got != expected:
        raise SystemExit(
            f"bbox mismatch: {len(got)} units from the config, {len(expected)} generated "
            f"({len(got - expected)} extra, {len(expected - got)} missing)"
        )
    return len(got)


# --- the run, watched -----------------------------------------------------------------------


def _kind(proc) -> str:
    try:
        cmd = " ".join(proc.cmdline())
    except Exception:
        return "?"
    if "loky" in cmd:
        return "loky"
    if "resource_tracker" in cmd or "semaphore_tracker" in cmd:
        return "tracker"
    if "spawn_main" in cmd or "multiprocessing" in cmd or "forkserver" in cmd:
        return "dask"
    return "other"


def watch(cmd: list[str], stderr_path: Path, stdout_path: Path, every: float, timeout: float | None) -> dict:
    import psutil

    t0 = time.perf_counter()
    with open(stderr_path, "wb") as err, open(stdout_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=ROOT, start_new_session=True)
        driver = psutil.Process(proc.pid)
        drv = dict(peak=0, at=0.0, trace=[])  # trace: (t, rss) of every sample, for per-stage peaks
        procs: dict[int, dict] = {}
        samples, timed_out = 0, False
        while proc.poll() is None:
            now = time.perf_counter() - t0
            try:
                rss = driver.memory_info().rss
                drv["trace"].append((now, rss))
                if rss > drv["peak"]:
                    drv.update(peak=rss, at=now)
                kids = driver.children(recursive=True)
            except psutil.Error:
                kids = []
            for k in kids:
                try:
                    rss = k.memory_info().rss
                except psutil.Error:
                    continue
                rec = procs.get(k.pid)
                if rec is None:
                    parent = k.ppid()
                    rec = procs[k.pid] = dict(
                        kind=_kind(k), parent=parent, first=now, last=now, peak=0, at=now
                    )
                rec["last"] = now
                if rss > rec["peak"]:
                    rec.update(peak=rss, at=now)
            samples += 1
            if timeout and now > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(every)
        rc = proc.wait()
    # nothing of the run may outlive it
    try:
        os.killpg(proc.pid, 0)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return dict(
        rc=rc, wall=time.perf_counter() - t0, driver=drv, procs=procs, samples=samples, timed_out=timed_out
    )


def scan_stderr(path: Path) -> dict:
    hits: dict[str, list[str]] = {k: [] for k in MEMORY_PATTERNS}
    text = path.read_text(errors="replace")
    for line in text.splitlines():
        for k, pat in MEMORY_PATTERNS.items():
            if pat.search(line):
                hits[k].append(line.strip())
    return dict(hits=hits, text=text)


def stage_at(t: float, wall: float, timings: dict) -> str:
    """The stage running at ``t`` s after launch, approximately: the time outside ``total``
    (interpreter start, imports, config) is taken to come before the first stage."""
    if not timings:
        return "?"
    clock = max(wall - timings.get("total", wall), 0.0)
    if t < clock:
        return "start-up"
    for s in STAGES:
        clock += timings.get(s, 0.0)
        if t <= clock:
            return s
    return "end"


# --- report ---------------------------------------------------------------------------------


def _f(x, nd=1) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def report(args, inputs: dict, n_units: int, res: dict, scan: dict, out_dir: Path, load: tuple) -> int:
    import pandas as pd

    run = {}
    if (out_dir / "run.json").exists():
        run = json.loads((out_dir / "run.json").read_text())
    timings = run.get("timings_seconds", {})
    bt = run.get("backtest", {})
    print()
    print(
        f"## grid_run: {args.side} x {args.side} = {n_units:,} cells x {args.months} months "
        f"({inputs['start']}..{inputs['end']}), {inputs['n_events']:,} SYNTHETIC events"
    )
    print(
        f"horizons {list(args.horizons)}, eval_months {args.eval_months}, n_boot {args.n_boot}, "
        f"{args.workers} workers x 1 thread x {args.memory_limit}, block_units {args.block_units or 'default'}"
    )
    print(f"load average before {load[0]:.2f} / after {load[1]:.2f} (2 cores; other jobs may share them)")
    print()
    print("| measure | value |")
    print("|---|---:|")
    status = "ok" if res["rc"] == 0 else ("TIMED OUT" if res["timed_out"] else f"FAILED (exit {res['rc']})")
    print(f"| status | {status} |")
    print(f"| wall (s, from outside) | {res['wall']:.1f} |")
    for s in (*STAGES, "total"):
        if s in timings:
            print(f"| timings_seconds.{s} | {timings[s]:.1f} |")
    for k, v in bt.get("seconds", {}).items():
        print(f"| backtest.seconds.{k} | {v:.1f} |")
    for k, v in bt.get("model_seconds", {}).items():
        print(f"| backtest.model_seconds.{k} | {v:.1f} |")
    if run:
        print(f"| panel.storage | {run.get('panel', {}).get('storage', '?')} |")
    d = res["driver"]
    print(
        f"| driver peak RSS (GB) | {d['peak'] / GB:.2f} (at {d['at']:.0f} s, {stage_at(d['at'], res['wall'], timings)}) |"
    )
    dask = {p: r for p, r in res["procs"].items() if r["kind"] == "dask"}
    if dask:
        pid, w = max(dask.items(), key=lambda kv: kv[1]["peak"])
        print(
            f"| max worker peak RSS (GB) | {w['peak'] / GB:.2f} (pid {pid}, at {w['at']:.0f} s, "
            f"{stage_at(w['at'], res['wall'], timings)}) |"
        )
    else:
        print("| max worker peak RSS (GB) | - (no worker process seen) |")
    if timings:
        by_stage: dict[str, int] = {}
        for t, rss in d["trace"]:
            s = stage_at(t, res["wall"], timings)
            by_stage[s] = max(by_stage.get(s, 0), rss)
        print(
            "| driver peak RSS by stage (GB) | "
            + ", ".join(f"{s} {by_stage[s] / GB:.2f}" for s in ("start-up", *STAGES) if s in by_stage)
            + " |"
        )
    loky = [r["peak"] for r in res["procs"].values() if r["kind"] == "loky"]
    if loky:
        print(f"| max loky (baseline backtest) peak RSS (GB) | {max(loky) / GB:.2f} |")
    print(f"| worker processes seen | {len(dask)} |")
    hits = scan["hits"]
    print(f"| worker restarts (stderr) | {len(hits['restart'])} |")
    for k in ("exceeded", "unmanaged", "paused", "killed"):
        print(f"| stderr '{k}' messages | {len(hits[k])} |")
    print(f"| RSS samples (every {args.every} s) | {res['samples']} |")

    if dask:
        print()
        print("Worker processes (Dask, one LocalCluster per stage that uses it):")
        print()
        print("| pid | alive (s) | peak RSS (GB) | at (s) | stage at peak |")
        print("|---:|---|---:|---:|---|")
        for pid, r in sorted(dask.items(), key=lambda kv: kv[1]["first"]):
            print(
                f"| {pid} | {r['first']:.0f}-{r['last']:.0f} | {r['peak'] / GB:.2f} | {r['at']:.0f} | "
                f"{stage_at(r['at'], res['wall'], timings)} |"
            )

    metrics = out_dir / "metrics.csv"
    if metrics.exists():
        m = pd.read_csv(metrics)
        m = m[m["metric"] == "brier_skill_vs_climatology"]
        print()
        print("Brier skill vs climatology (95 % month-bootstrap interval), per horizon:")
        print()
        models = [x for x in ("lgbm", "lgbm_history", "persistence") if x in set(m["model"])]
        print("| horizon | " + " | ".join(models) + " |")
        print("|---:|" + "---|" * len(models))
        for h in sorted(m["horizon"].unique()):
            cells = []
            for name in models:
                r = m[(m["model"] == name) & (m["horizon"] == h)]
                if r.empty:
                    cells.append("-")
                else:
                    r = r.iloc[0]
                    cells.append(f"{r['value']:+.3f} [{_f(r['ci_low'], 3)}, {_f(r['ci_high'], 3)}]")
            print(f"| {h} | " + " | ".join(cells) + " |")
        br = pd.read_csv(metrics)
        br = br[(br["metric"] == "base_rate") & (br["model"] == "climatology")]
        if not br.empty:
            print()
            print(
                "base rate (share of evaluated cell-months with an attack): "
                + ", ".join(f"h{int(r.horizon)} {r.value:.3f}" for r in br.itertuples())
            )

    for k in ("restart", "exceeded", "killed"):
        for line in hits[k][:10]:
            print(f"stderr [{k}]: {line}")
    if res["rc"] != 0:
        print()
        print("---- last 60 lines of the run's stderr ----")
        print("\n".join(scan["text"].splitlines()[-60:]))
    return 0 if res["rc"] == 0 and not hits["restart"] else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--side", type=int, default=103, help="cells per side (103: Africa, 10,609; 255: global, 65,025)"
    )
    ap.add_argument("--months", type=int, default=420, help="months from 1990-01 (420: to 2024-12)")
    ap.add_argument("--eval-months", type=int, default=6)
    ap.add_argument("--horizons", type=int, nargs="+", default=[1, 3, 6, 12])
    ap.add_argument("--n-boot", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--memory-limit", default="6GiB")
    ap.add_argument("--block-units", type=int, default=None, help="compute.block_units (default: riskcast's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=float, default=0.5, help="RSS polling interval (s)")
    ap.add_argument("--timeout", type=float, default=None, help="end the run after this many seconds")
    ap.add_argument(
        "--keep", type=Path, default=None, help="keep inputs (DIR/inputs) and the run (DIR/run) here"
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    args = ap.parse_args(argv)

    if args.keep:
        base = args.keep.resolve()
        shutil.rmtree(base / "run", ignore_errors=True)
        base.mkdir(parents=True, exist_ok=True)
        cleanup = None
    else:
        base = Path(tempfile.mkdtemp(prefix="grid_run_"))
        cleanup = base
    try:
        t = time.perf_counter()
        inputs = write_inputs(args.side, args.months, args.seed, base / "inputs")
        config = write_config(base / "grid_run.toml", inputs, args)
        n_units = check_units(config, inputs.pop("unit_ids"))
        print(
            f"inputs: {n_units:,} cells, {inputs['n_events']:,} events, written in "
            f"{time.perf_counter() - t:.0f} s -> {base}",
            flush=True,
        )
        out_dir = base / "run"
        exe = Path(sys.executable).with_name("riskcast")
        cmd = [str(exe) if exe.exists() else "riskcast", "-q", "run", str(config), "--out", str(out_dir)]
        print("running:", " ".join(cmd), flush=True)
        load0 = os.getloadavg()[0]
        res = watch(cmd, base / "stderr.log", base / "stdout.log", args.every, args.timeout)
        load1 = os.getloadavg()[0]
        scan = scan_stderr(base / "stderr.log")
        code = report(args, inputs, n_units, res, scan, out_dir, (load0, load1))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(
                json.dumps(
                    dict(
                        args={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                        inputs={
                            k: (str(v) if k != "paths" else {a: str(b) for a, b in v.items()})
                            for k, v in inputs.items()
                        },
                        rc=res["rc"],
                        wall=res["wall"],
                        driver_peak_gb=res["driver"]["peak"] / GB,
                        driver_trace=[(round(t, 1), rss) for t, rss in res["driver"]["trace"]],
                        procs={str(p): {**r, "peak_gb": r["peak"] / GB} for p, r in res["procs"].items()},
                        stderr_hits=scan["hits"],
                    ),
                    indent=1,
                    default=str,
                )
            )
        return code
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
