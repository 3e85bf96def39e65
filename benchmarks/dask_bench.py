#!/usr/bin/env python
"""Dask benchmark: the default feature set and one backtest origin on a global PRIO-GRID panel.

    python benchmarks/dask_bench.py                          # africa local + dask, then global dask
    python benchmarks/dask_bench.py --only africa            # ~10,700 cells x 420 months, both paths
    python benchmarks/dask_bench.py --only global --cells 40000 --train-months 120
    python benchmarks/dask_bench.py --workers 2 --memory-limit 6GiB --block-units 2000

Cases, each in a fresh subprocess (memory numbers do not mix):

* ``africa / local``: 103 x 103 = 10,609 cells x 420 months (1990-01..2024-12), this process:
  ``compute_features`` and plain ``lightgbm.LGBMClassifier`` (every CPU; ``--local-threads``).
* ``africa / dask`` and ``global / dask``: ``riskcast.scale.dask_features.dask_client`` (a LocalCluster of
  worker processes, 1 thread each, a memory limit per worker), ``compute_features_partitioned``
  writing one parquet file per spatial block, then ``riskcast.scale.dask_models.fit_lgbm_dask``
  (``lightgbm.dask``, data-parallel; plain ``DaskLGBMClassifier`` where that module is missing)
  on the blocks read back.
  Global: 255 x 255 = 65,025 cells, about PRIO-GRID's count of land cells; land is approximated by
  a full square (lat -55.5..72, lon -10..117.5), not a coastline.

The panels come from ``synthetic.py``, with hotspots in proportion to the area so that the share
of cell-months with an event (~21 %) stays that of the 100 x 100 benchmark; mean events per
cell-month is 0.45 at every size (12.3 M events on the global panel).

Stages timed (generation of the synthetic inputs happens before the clock):

1. ``context``: neighbour matrix + ``build_context`` on the driver;
2. ``features``: the default set (62 features, float32);
3. ``prepare``: the target and the rows of the origin. Horizon 1: the target at month t is "any
   target event in t + 1", i.e. the ``events`` feature (the panel's ``n_target``) one month on,
   within the unit. A block file holds whole units with all their months, so each block computes
   its targets alone. Training rows: months up to origin - 1 (their target month is at most the
   origin: known then), or the last ``--train-months`` of them; test rows: the origin month.
   Dask: read back from the block files and held on the workers (``persist``);
4. ``train``: LightGBM, same parameters on both paths;
5. ``predict``: the origin month; Brier and AUROC for sanity.

Memory (GiB): the driver's high-water mark per stage; per worker, the process RSS polled every
0.5 s in a background thread plus the exact high-water mark of each stage (``VmHWM``, reset
through ``/proc/self/clear_refs`` at the start of the stage). A nanny restarting its worker for
memory ("exceeded 95% memory budget") ends the case at once, reported with its stage: Dask would
recompute the lost data on a fresh worker, which runs into the same limit again, and lightgbm.dask
would wait for the lost machine. Pauses and spilling are read from the scheduler and worker logs.
The load average before and after each case is printed: other jobs may share the machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import cloudpickle  # noqa: E402
import features_bench  # noqa: E402
from features_bench import _reset_peak  # noqa: E402  (the feature benchmark's high-water-mark reset)

cloudpickle.register_pickle_by_value(features_bench)  # workers run _reset_peak without importing it

SIZES = {"africa": 10_700, "global": 65_025}
TARGET_RATIO = 1.5  # africa: dask wall no more than 1.5x the local wall
# Bagging and feature subsampling keep 100 rounds on ~26 M rows affordable on one thread per worker;
# row-wise histograms and deterministic mode are what riskcast.scale.dask_models sets, used on both paths.
LGBM = dict(
    objective="binary",
    learning_rate=0.1,
    num_leaves=31,
    min_child_samples=200,
    subsample=0.5,
    subsample_freq=1,
    colsample_bytree=0.5,
    force_row_wise=True,
    deterministic=True,
    verbose=-1,
)
GB = 1024**3


# --- inputs -------------------------------------------------------------------------------


def panel_inputs(cells: int, n_months: int) -> dict:
    """A synthetic PRIO-GRID square of ~``cells`` cells; hotspots grow with the area (see the docstring)."""
    import pandas as pd
    import synthetic

    from riskcast.config import TargetSpec
    from riskcast.features.context import load_actor_groups
    from riskcast.panel import month_range

    side = max(1, round(math.sqrt(cells)))
    if side > 360:
        raise SystemExit(
            f"--cells {cells}: a square of more than 360 x 360 half-degree cells leaves the globe"
        )
    # Africa-sized blocks keep the usual corner; larger ones reach from ~56 S to 72 N, as land does.
    lat0 = min(synthetic.LAT0, max(-90.0, 72.0 - 0.5 * side))
    lon0 = min(synthetic.LON0, 180.0 - 0.5 * side)
    start = "1990-01"
    months = month_range(start, pd.Timestamp(start) + pd.DateOffset(months=n_months - 1))
    units = synthetic.grid_units(side, lat0=lat0, lon0=lon0)
    events = synthetic.grid_events(units, months, side=side, hotspots=max(1, round(12 * side**2 / 10_000)))
    return dict(
        units=units,
        months=months,
        events=events,
        arrays=synthetic.grid_arrays(events, units, months),
        presence=synthetic.grid_presence(units, months),
        shocks=synthetic.grid_shocks(months),
        target=TargetSpec(),
        actor_groups=load_actor_groups("actor_groups"),
        side=side,
    )


def origin_rows(n_months: int, origin: int, horizon: int, train_months: int) -> tuple[int, int, int]:
    """(first training month, last training month, origin) as month positions."""
    o = min(origin - 1, n_months - 1 - horizon)  # --origin counts from 1; the test target must exist
    last = o - horizon
    first = 0 if train_months <= 0 else max(0, last - train_months + 1)
    return first, last, o


# --- memory -------------------------------------------------------------------------------


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _hwm_bytes() -> int | None:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


class WorkerMonitor(threading.Thread):
    """Polls every worker's RSS (and the scheduler's spill and status figures) every ``every`` seconds."""

    def __init__(self, client, every: float = 0.5):
        super().__init__(daemon=True)
        self.client, self.every = client, every
        self.peak: dict[str, int] = {}  # worker address -> max RSS seen
        self.spilled: dict[str, int] = {}
        self.paused: set[str] = set()
        self.samples = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.every):
            try:
                for addr, rss in self.client.run(_rss, on_error="ignore").items():
                    self.peak[addr] = max(self.peak.get(addr, 0), rss)
                for addr, w in self.client.scheduler_info(n_workers=-1)["workers"].items():
                    spilled = w["metrics"].get("spilled_bytes", {})
                    self.spilled[addr] = max(self.spilled.get(addr, 0), spilled.get("disk", 0))
                    if str(w.get("status", "")).endswith("paused"):
                        self.paused.add(addr)
                self.samples += 1
            except Exception:  # a worker going away mid-poll: the next poll sees the new one
                continue

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


class StageMemory:
    """Exact per-stage high-water marks: of every worker (``client.run``) and of the driver."""

    def __init__(self, client=None):
        self.client = client
        self.workers: dict[str, dict[str, float]] = {}
        self.driver: dict[str, float] = {}

    def start(self) -> None:
        gc.collect()
        _reset_peak()
        if self.client is not None:
            self.client.run(_reset_peak, on_error="ignore")

    def stop(self, stage: str) -> None:
        self.driver[stage] = _hwm_bytes() / GB
        if self.client is not None:
            self.workers[stage] = {
                a: v / GB for a, v in self.client.run(_hwm_bytes, on_error="ignore").items()
            }


class LogCatcher(logging.Handler):
    """Warnings of the scheduler and nannies, which run in the driver process of a LocalCluster;
    ``lost`` is set when a nanny restarts its worker."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.lines: list[str] = []
        self.lost = threading.Event()
        self.killed = 0  # workers the nannies restarted for memory

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        self.lines.append(f"{record.name}: {msg}"[:300])
        self.killed += "memory budget" in msg
        if "memory budget" in msg or "Restarting worker" in msg:
            self.lost.set()


class WorkerLost(RuntimeError):
    """A worker was restarted: its results are gone, and lightgbm.dask would wait for it (or retry) forever."""


def _guarded(lost: threading.Event, fn, *a, **kw):
    """``fn`` in a thread; raise :class:`WorkerLost` as soon as a worker restart is seen instead of
    waiting for Dask to recompute on a fresh worker (which runs into the same limit again)."""
    box: dict = {}

    def target():
        try:
            box["out"] = fn(*a, **kw)
        except BaseException as exc:  # handed back to the caller
            box["exc"] = exc

    th = threading.Thread(target=target, daemon=True)
    th.start()
    while th.is_alive():
        th.join(0.5)
        if lost.is_set():
            raise WorkerLost("a worker exceeded 95 % of its memory limit and was restarted by its nanny")
    if "exc" in box:
        raise box["exc"]
    return box["out"]


# --- one case, in its own process -----------------------------------------------------------


def _timed(times: dict, mem: StageMemory, stage: str, fn, *a, **kw):
    mem.start()
    t0 = time.perf_counter()
    out = fn(*a, **kw)
    times[stage] = time.perf_counter() - t0
    mem.stop(stage)
    print(f"    {stage}: {times[stage]:.1f} s", file=sys.stderr, flush=True)
    return out


def _scores(y, p, y_train_mean: float) -> dict:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    brier = float(np.mean((p - y) ** 2))
    clim = float(np.mean((y_train_mean - y) ** 2))
    return dict(
        brier=brier,
        brier_climatology=clim,
        auroc=float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None,
        test_rows=len(y),
        test_positive=float(y.mean()),
    )


def run_local(ctx, features, args, times, mem) -> dict:
    import lightgbm as lgb
    import numpy as np

    from riskcast.features import compute_features

    table = _timed(times, mem, "features", compute_features, features, ctx, dtype=np.float32)
    n_u, n_m = ctx.shape
    first, last, o = origin_rows(n_m, args.origin, args.horizon, args.train_months)

    def prepare():
        nt = ctx.array("n_target")
        target = np.zeros((n_u, n_m), dtype=np.int8)
        target[:, : n_m - args.horizon] = nt[:, args.horizon :] >= ctx.target.threshold  # as build_panel
        month = np.tile(np.arange(n_m), n_u)
        train, test = (month >= first) & (month <= last), month == o
        # `table` is the enclosing function's (deleted after this closure ran, to free its memory)
        return table.loc[train], target.ravel()[train], table.loc[test], target.ravel()[test]  # noqa: F821

    X, y, X_test, y_test = _timed(times, mem, "prepare", prepare)
    del table
    model = _timed(
        times,
        mem,
        "train",
        lgb.LGBMClassifier(
            **LGBM,
            n_estimators=args.rounds,
            random_state=args.seed,
            n_jobs=args.local_threads or os.cpu_count(),
        ).fit,
        X,
        y,
    )
    p = _timed(times, mem, "predict", lambda: model.predict_proba(X_test)[:, 1])
    return dict(train_rows=len(y), **_scores(y_test, p, float(y.mean())))


def _block_rows(path: str, keep_columns: list[str], horizon: int, threshold: int, first, last, origin):
    """One block file -> its training and origin rows, features + ``target`` + ``is_test``.

    The target needs ``events`` of the months after each row, so the whole file is read; it holds
    whole units (all months), so shifting within the unit is exact here."""
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(path)
    ahead = df.groupby("unit_id", sort=False)["events"].shift(-horizon)
    month = df["month"]
    keep = ((month >= first) & (month <= last)) | (month == origin)
    out = df.loc[keep, keep_columns]
    out["target"] = (ahead[keep] >= threshold).astype(
        np.int8
    )  # keep's months are <= last month - horizon: known
    out["is_test"] = (month[keep] == origin).to_numpy()
    return out.reset_index(drop=True)


def _fit_dask(client, X, y, args):
    """``riskcast.scale.dask_models.fit_lgbm_dask`` when it exists, else ``lightgbm.dask`` directly."""
    import warnings

    warnings.filterwarnings(
        "ignore", message="Parameter n_jobs will be ignored"
    )  # threads come from the workers
    params = dict(LGBM, n_estimators=args.rounds)
    try:
        from riskcast.scale.dask_models import fit_lgbm_dask
    except ImportError:
        from lightgbm.dask import DaskLGBMClassifier

        return DaskLGBMClassifier(client=client, random_state=args.seed, **params).fit(X, y), "lightgbm.dask"
    return fit_lgbm_dask(
        client, X, y, params=params, seed=args.seed
    ), "riskcast.scale.dask_models.fit_lgbm_dask"


def _block_train_rows(path: str, keep_columns: list[str], horizon: int, threshold: int, first, last):
    """One block file's training rows as (float32 matrix, 0/1 target), for ``fit_lgbm_blocks``."""
    import numpy as np
    import pandas as pd

    df = pd.read_parquet(path, columns=["unit_id", "month", *keep_columns])
    ahead = df.groupby("unit_id", sort=False)["events"].shift(-horizon)
    keep = ((df["month"] >= first) & (df["month"] <= last)).to_numpy()
    X = np.ascontiguousarray(df.loc[keep, keep_columns].to_numpy(dtype=np.float32))
    return X, (ahead[keep] >= threshold).to_numpy(dtype=np.int8)


def _block_target_counts(path, **kw) -> tuple[int, int]:
    _, y = _block_train_rows(path, **kw)
    return len(y), int(y.sum())


def _train_counts(client, files, columns, args, threshold, first, last) -> tuple[int, int]:
    """Training rows and positives over the block files (the climatology of the sanity check);
    untimed: the trainer counts its own rows."""
    futs = client.map(
        _block_target_counts,
        files,
        keep_columns=columns,
        horizon=args.horizon,
        threshold=threshold,
        first=first,
        last=last,
        pure=False,
    )
    counts = client.gather(futs)
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


def _fit_blocks(client, files, columns, args, threshold, first, last):
    import functools

    from riskcast.scale.dask_blocks import fit_lgbm_blocks

    load = functools.partial(
        _block_train_rows,
        keep_columns=columns,
        horizon=args.horizon,
        threshold=threshold,
        first=first,
        last=last,
    )
    sizes = [Path(f).stat().st_size for f in files]
    params = dict(LGBM, n_estimators=args.rounds)
    return fit_lgbm_blocks(
        client, files, load, params=params, seed=args.seed, sizes=sizes
    ), "riskcast.scale.dask_blocks.fit_lgbm_blocks"


def _booster_proba(part, booster):
    import pandas as pd

    return pd.Series(booster.predict(part.to_numpy(dtype="float32")), index=part.index, dtype=float)


def _proba(part, model):
    import pandas as pd

    return pd.Series(model.predict_proba(part)[:, 1], index=part.index, dtype=float)


def _predict_dask(model, X_test):
    """The origin month's probabilities, computed on the workers partition by partition
    (``fit_lgbm_dask`` returns a local model; ``DaskLGBMClassifier`` predicts on Dask itself;
    ``fit_lgbm_blocks`` a booster)."""
    import lightgbm as lgb

    if isinstance(model, lgb.Booster):
        return X_test.map_partitions(_booster_proba, model, meta=(None, float)).compute().to_numpy()
    if hasattr(model, "client"):
        return model.predict_proba(X_test)[:, 1].compute()
    return X_test.map_partitions(_proba, model, meta=(None, float)).compute().to_numpy()


def run_dask(holder: list, features, args, times, mem_driver, out_dir: Path) -> dict:
    """``holder`` holds the only reference to the context, so that it can be freed before training."""
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    from riskcast.config import ComputeSpec
    from riskcast.scale.dask_features import compute_features_partitioned, dask_client

    catcher = LogCatcher()
    logging.getLogger("distributed").addHandler(catcher)
    spec = ComputeSpec(
        backend="dask",
        n_workers=args.workers,
        threads_per_worker=1,
        memory_limit=args.memory_limit,
        block_units=args.block_units,
    )
    ctx = holder.pop()
    months, ctx_threshold = ctx.months, ctx.target.threshold
    n_m = len(months)
    first, last, o = origin_rows(n_m, args.origin, args.horizon, args.train_months)
    res: dict = dict(n_workers=args.workers, memory_limit=args.memory_limit, block_units=args.block_units)
    t0 = time.perf_counter()
    with dask_client(spec) as client:
        times["cluster start"] = time.perf_counter() - t0
        info = client.scheduler_info(n_workers=-1)["workers"]
        res["memory_limit_gb"] = min(w["memory_limit"] for w in info.values()) / GB
        monitor = WorkerMonitor(client)
        monitor.start()
        mem = StageMemory(client)
        mem.driver, mem.workers = mem_driver.driver, mem_driver.workers
        stage, stage_t0 = "features", time.perf_counter()
        try:
            files = _timed(
                times,
                mem,
                "features",
                _guarded,
                catcher.lost,
                compute_features_partitioned,
                features,
                ctx,
                client,
                args.block_units,
                dtype=np.float32,
                out_dir=out_dir,
            )
            res["blocks"] = len(files)
            res["parquet_gb"] = sum(Path(f).stat().st_size for f in files) / GB
            del ctx  # the driver no longer needs the panel: free it before training
            gc.collect()

            stage, stage_t0 = "prepare", time.perf_counter()
            schema = pq.read_schema(files[0])
            columns = [c for c in schema.names if c not in ("unit_id", "month")]
            meta = schema.empty_table().to_pandas()[columns]
            meta["target"], meta["is_test"] = np.int8(0), False
            meta = meta.astype({"target": np.int8, "is_test": bool})
            m = [pd.Timestamp(months[i]) for i in (first, last, o)]
            rows = dd.from_map(
                _block_rows,
                files,
                keep_columns=columns,
                horizon=args.horizon,
                threshold=ctx_threshold,
                first=m[0],
                last=m[1],
                origin=m[2],
                meta=meta,
                enforce_metadata=False,
            )

            def prepare():
                from distributed import wait

                train, test = rows[~rows["is_test"]], rows[rows["is_test"]]
                if args.trainer == "blocks":  # the training rows stay in the block files
                    held = client.persist([test[columns], test["target"]])
                    wait(held)
                    return held
                # one persist: each block file is read once for all four collections
                held = client.persist([train[columns], train["target"], test[columns], test["target"]])
                wait(held)  # persist returns at once: time the reading, not the submission
                return held

            if args.trainer == "blocks":
                X_test, y_test = _timed(times, mem, "prepare", _guarded, catcher.lost, prepare)
                n_train, n_pos = _train_counts(client, files, columns, args, ctx_threshold, m[0], m[1])
                res["train_rows"], y_mean = n_train, n_pos / n_train
                stage, stage_t0 = "train", time.perf_counter()
                model, res["trainer"] = _timed(
                    times,
                    mem,
                    "train",
                    _guarded,
                    catcher.lost,
                    _fit_blocks,
                    client,
                    files,
                    columns,
                    args,
                    ctx_threshold,
                    m[0],
                    m[1],
                )
            else:
                X, y, X_test, y_test = _timed(times, mem, "prepare", _guarded, catcher.lost, prepare)
                res["train_rows"] = len(y)
                y_mean = float(y.mean().compute())

                stage, stage_t0 = "train", time.perf_counter()
                model, res["trainer"] = _timed(
                    times, mem, "train", _guarded, catcher.lost, _fit_dask, client, X, y, args
                )

            stage, stage_t0 = "predict", time.perf_counter()
            p = _timed(times, mem, "predict", _guarded, catcher.lost, _predict_dask, model, X_test)
            res.update(_scores(y_test.compute().to_numpy(), p, y_mean))
            stage = None
        except Exception as exc:  # report what happened and where, with the memory seen so far
            res["error"] = f"{stage}: {type(exc).__name__}: {str(exc)[:400]}"
            res["failed_stage"] = stage
            times[f"{stage} (failed)"] = time.perf_counter() - stage_t0
        finally:
            monitor.stop()
            res["worker_peak_polled_gb"] = {a: v / GB for a, v in monitor.peak.items()}
            res["worker_spilled_gb"] = {a: v / GB for a, v in monitor.spilled.items()}
            res["workers_paused"] = sorted(monitor.paused)
            res["workers_seen"] = len(monitor.peak)
            # A worker killed between two polls never shows its last RSS: the nanny's message is the evidence.
            res["workers_killed_for_memory"] = catcher.killed
            res["poll_samples"] = monitor.samples
            try:
                logs = client.get_worker_logs()
                res["worker_warnings"] = [
                    msg[:300]
                    for lines in logs.values()
                    for level, msg in lines
                    if level in ("WARNING", "ERROR", "CRITICAL")
                ][-20:]
            except Exception as exc:
                res["worker_warnings"] = [f"(worker logs unavailable: {exc})"]
    res["driver_warnings"] = catcher.lines[-20:]
    logging.getLogger("distributed").removeHandler(catcher)
    return res


def child(args) -> None:
    from features_bench import _maxrss_gb, feature_list, make_context

    panel, path = args.child_case.split("/")
    load_before = os.getloadavg()  # other jobs may share the machine: say how busy it was
    times: dict[str, float] = {}
    t0 = time.perf_counter()
    inp = panel_inputs(args.cells, args.months)
    times["generate"] = time.perf_counter() - t0
    generation_gb = _hwm_bytes() / GB  # the stages below reset the high-water mark (and ru_maxrss with it)
    side, n_events = inp["side"], len(inp["events"])
    features = feature_list("default")
    mem = StageMemory()
    ctx = _timed(times, mem, "context", make_context, inp)
    del inp  # the context holds its own placed copy of the events
    n_u, n_m = ctx.shape
    if path == "local":
        res = run_local(ctx, features, args, times, mem)
        del ctx
    else:
        with tempfile.TemporaryDirectory(prefix="riskcast-dask-bench-", dir=args.tmp) as tmp:
            holder = [ctx]
            del ctx
            res = run_dask(holder, features, args, times, mem, Path(tmp))
    first, last, o = origin_rows(n_m, args.origin, args.horizon, args.train_months)
    res.update(
        panel=panel,
        path=path,
        side=side,
        cells=n_u,
        months=n_m,
        rows=n_u * n_m,
        features=len(features),
        events=n_events,
        times=times,
        driver_peak_gb=max([_maxrss_gb(), *mem.driver.values()]),
        generation_gb=generation_gb,
        stage_driver_gb=mem.driver,
        stage_worker_gb=mem.workers,
        origin_month=o + 1,
        train_first=first + 1,
        train_last=last + 1,
        load_before=load_before,
        load_after=os.getloadavg(),
    )
    print("RESULT " + json.dumps(res, default=str))


# --- the parent: run every case in a fresh process, print the table -----------------------

STAGES = ("context", "features", "prepare", "train", "predict")


def run_case(case: str, cells: int, args) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child-case",
        case,
        "--cells",
        str(cells),
        "--months",
        str(args.months),
        "--workers",
        str(args.workers),
        "--memory-limit",
        args.memory_limit,
        "--block-units",
        str(args.block_units),
        "--train-months",
        str(args.train_months),
        "--origin",
        str(args.origin),
        "--horizon",
        str(args.horizon),
        "--rounds",
        str(args.rounds),
        "--seed",
        str(args.seed),
        "--trainer",
        args.trainer,
        "--local-threads",
        str(args.local_threads),
    ]
    if args.tmp:
        cmd += ["--tmp", args.tmp]
    print(f"  running {case}, {cells:,} cells x {args.months} months ...", file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)  # stderr: live progress
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return dict(case=case, error=f"exit {proc.returncode} (no result; see the output above)")
    res = json.loads(line[len("RESULT ") :])
    if proc.returncode != 0:
        res.setdefault("error", f"exit {proc.returncode}")
    return res


def total_s(r: dict) -> float:
    return sum(r["times"].get(s, 0.0) for s in STAGES)


def restarts(r: dict) -> int:
    return max(r.get("workers_killed_for_memory", 0), r.get("workers_seen", 0) - r.get("n_workers", 0))


def worker_peak_gb(r: dict) -> float | None:
    """The highest worker RSS seen: polled RSS or a stage's exact high-water mark; at least 95 % of
    the limit when a nanny killed a worker for memory (its last RSS is never polled)."""
    vals = list(r.get("worker_peak_polled_gb", {}).values())
    vals += [v for st in r.get("stage_worker_gb", {}).values() for v in st.values()]
    if r.get("workers_killed_for_memory"):
        vals.append(0.95 * r["memory_limit_gb"])
    return max(vals) if vals else None


def _peak_text(r: dict, wp: float | None) -> str:
    return "-" if wp is None else ("killed" if r.get("workers_killed_for_memory") else f"{wp:.2f}")


def report(results: list[dict], args) -> None:
    print()
    print(
        f"riskcast dask benchmark -- default feature set, {os.cpu_count()} CPU(s), python {sys.version.split()[0]}; "
        f"horizon {args.horizon}, LightGBM {args.rounds} rounds, "
        f"local path {args.local_threads or os.cpu_count()} threads"
    )
    head = (
        f"{'panel':<7} {'path':<6} {'cells':>7} {'rows':>11} {'context':>7} {'feats':>7} {'prepare':>7} "
        f"{'train':>7} {'predict':>7} {'total s':>8} {'rows/s':>9} {'feat rows/s':>11} {'worker GB':>9} "
        f"{'limit':>6} {'driver GB':>9} "
        f"{'Brier':>7} {'clim.':>7} {'AUROC':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        if "times" not in r:
            print(f"{r['case']}: FAILED: {r['error']}")
            continue
        t = r["times"]
        wp = worker_peak_gb(r)
        cell = lambda s: f"{t[s]:>7.1f}" if s in t else f"{'-':>7}"  # noqa: E731
        brier = (
            f"{r['brier']:>7.4f} {r['brier_climatology']:>7.4f} {r['auroc']:>6.3f}" if "brier" in r else ""
        )
        # a failed case has no end-to-end speed; its total is the stages that finished
        speed = "-" if "error" in r else f"{r['rows'] / total_s(r):,.0f}"
        feat_speed = f"{r['rows'] / t['features']:,.0f}" if "features" in t else "-"
        limit = f"{r['memory_limit_gb']:.2f}" if "memory_limit_gb" in r else "-"
        driver = max(r["driver_peak_gb"], *r["stage_driver_gb"].values())
        print(
            f"{r['panel']:<7} {r['path']:<6} {r['cells']:>7,} {r['rows']:>11,} {cell('context')} {cell('features')} "
            f"{cell('prepare')} {cell('train')} {cell('predict')} {total_s(r):>8.1f} {speed:>9} {feat_speed:>11} "
            f"{_peak_text(r, wp):>9} {limit:>6} {driver:>9.2f} {brier}"
        )
    print()
    for r in results:
        if "times" not in r:
            continue
        print(
            f"{r['panel']} / {r['path']}: {r['side']}x{r['side']} cells x {r['months']} months, "
            f"{r['events']:,} events; "
            f"origin = month {r['origin_month']}, training months {r['train_first']}..{r['train_last']} "
            f"({r.get('train_rows', 0):,} rows); generation {r['times']['generate']:.1f} s"
            + (
                f"; cluster start {r['times']['cluster start']:.1f} s"
                if "cluster start" in r["times"]
                else ""
            )
            + f"; load average {r['load_before'][0]:.1f} before, {r['load_after'][0]:.1f} after"
        )
        if "test_rows" in r:
            print(
                f"  origin month: {r['test_rows']:,} rows, {100 * r['test_positive']:.1f} % with an event next month"
            )
        print(
            "  driver high-water mark per stage (GB): "
            + ", ".join(f"{s} {v:.2f}" for s, v in r["stage_driver_gb"].items())
            + (
                f" (generating the inputs, before the clock: {r['generation_gb']:.2f})"
                if "generation_gb" in r
                else ""
            )
        )
        if r["path"] == "dask":
            print(
                f"  {r['n_workers']} workers x 1 thread, limit {r['memory_limit']} "
                f"({r['memory_limit_gb']:.2f} GiB) each, {r.get('blocks', '?')} blocks of <= {r['block_units']} "
                f"cells, parquet {r.get('parquet_gb', 0):.2f} GB; trainer {r.get('trainer', '-')}"
            )
            for s, per in r["stage_worker_gb"].items():
                print(
                    f"  worker high-water marks, {s}: " + ", ".join(f"{v:.2f}" for v in per.values()) + " GB"
                )
            print(
                "  polled RSS peak per worker: "
                + ", ".join(
                    f"{a.rsplit(':', 1)[-1]} {v:.2f} GB" for a, v in r["worker_peak_polled_gb"].items()
                )
                + f" ({r['poll_samples']} polls); spilled to disk (max): "
                + ", ".join(f"{v:.2f}" for v in r["worker_spilled_gb"].values())
                + " GB"
            )
            print(
                f"  workers started {r['n_workers']}, restarted by their nanny for memory "
                f"{r.get('workers_killed_for_memory', 0)}, addresses seen {r['workers_seen']}; "
                f"paused (seen by the poll): {len(r['workers_paused'])}"
            )
            for w in r.get("worker_warnings", []) + r.get("driver_warnings", []):
                print(f"    log: {w}")
        if "error" in r:
            failed = {k: v for k, v in r["times"].items() if k.endswith("(failed)")}
            print(f"  FAILED at {r['error']}" + "".join(f" [{k} after {v:.1f} s]" for k, v in failed.items()))
    by = {(r.get("panel"), r.get("path")): r for r in results if "times" in r}
    checks = []
    loc, dsk = by.get(("africa", "local")), by.get(("africa", "dask"))
    if loc and dsk and "error" not in loc and "error" not in dsk:
        ratio = total_s(dsk) / total_s(loc)
        f_ratio = dsk["times"]["features"] / loc["times"]["features"]
        checks.append(
            (
                f"africa dask / local wall {ratio:.2f}x <= {TARGET_RATIO}x (features alone {f_ratio:.2f}x)",
                ratio <= TARGET_RATIO,
            )
        )
    g = by.get(("global", "dask"))
    if g:
        wp = worker_peak_gb(g) or 0.0
        ok = "error" not in g and wp < g["memory_limit_gb"] and restarts(g) == 0
        checks.append(
            (
                f"global {g['cells']:,} cells completed={'error' not in g}, worker peak "
                f"{'>=' if g.get('workers_killed_for_memory') else ''}{wp:.2f} GB "
                f"< limit {g['memory_limit_gb']:.2f} GB, "
                f"restarts {restarts(g)}",
                ok,
            )
        )
    if checks:
        print("\ntargets: " + "; ".join(f"{text}: {'PASS' if ok else 'MISS'}" for text, ok in checks))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["africa", "global"], help="run one panel only")
    ap.add_argument(
        "--cells",
        type=int,
        help="cells of the panel(s) run (rounded to a square; default: africa 10,700, global 65,025)",
    )
    ap.add_argument("--months", type=int, default=420, help="months from 1990-01")
    ap.add_argument("--workers", type=int, default=2, help="Dask worker processes (1 thread each)")
    ap.add_argument("--memory-limit", default="6GiB", help="memory limit per worker")
    ap.add_argument("--block-units", type=int, default=2000, help="cells per spatial block")
    ap.add_argument("--origin", type=int, default=400, help="the backtest origin, as a month number from 1")
    ap.add_argument("--horizon", type=int, default=1)
    ap.add_argument(
        "--train-months", type=int, default=0, help="train on the last N months before the origin (0: all)"
    )
    ap.add_argument("--rounds", type=int, default=100, help="LightGBM boosting rounds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--trainer",
        choices=["lightgbm.dask", "blocks"],
        default="blocks",
        help="Dask training: riskcast.scale.dask_blocks.fit_lgbm_blocks (default: from the block files, one "
        "block in memory at a time) or lightgbm.dask on persisted partitions",
    )
    ap.add_argument(
        "--local-threads", type=int, default=0, help="LightGBM threads on the local path (0: every CPU)"
    )
    ap.add_argument("--tmp", help="directory for the block files (default: the system's temp directory)")
    ap.add_argument("--json", type=Path, help="also write the results to this JSON file")
    ap.add_argument("--child-case", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    if args.child_case:
        child(args)
        return 0
    cases = [("africa", "local"), ("africa", "dask"), ("global", "dask")]
    results = [run_case(f"{p}/{m}", args.cells or SIZES[p], args) for p, m in cases if args.only in (None, p)]
    report(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
