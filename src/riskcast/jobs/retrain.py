"""The scheduled monthly job: ingest, validate, retrain, compare, promote or keep, score, report.

``riskcast retrain SPEC`` runs it; ``SPEC`` is a pipeline file such as ``pipelines/monthly.toml``
(see :class:`RetrainSpec`). The job is built to run from cron on the first of every month with
nobody watching:

* **One at a time.** A lock file in the state folder (``filelock``: an OS lock the kernel drops
  when the process dies) stops a second run on the same state; it exits with
  :data:`EXIT_LOCKED` and names the holder. A run killed without cleaning up leaves its owner
  record (``retrain.lock.json``); the next run sees it, says so, marks the dead run's MLflow
  runs KILLED and clears it.
* **Idempotent.** A month already done with the same data, config and spec is not redone: the
  job says so and exits :data:`EXIT_UNCHANGED`, creating no run and no file but its summary.
* **Nothing half-written.** Everything is built in ``work/`` and renamed into
  ``months/<YYYY-MM>/`` at the very end; the ``champion`` alias moves only then, and only when
  the challenger beat the champion on the same backtest window. Killing the job at any point
  leaves the champion, earlier months and their reports as they were.
* **Refuses bad input before training.** Schema errors, stale data, unassigned events and row
  counts collapsing against the last run stop the job (:data:`EXIT_VALIDATION`), champion kept.
* **Says what happened.** ``summary.json`` (every attempt, also in ``summaries/``) records the
  steps, the validation checks, the promotion decision with both Brier scores, the data drift
  since the last month and the MLflow parent run, whose nested child runs are the steps.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
import tomllib
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from riskcast.atomic import write_text
from riskcast.config import Config, config_hash, load_config
from riskcast.errors import ConfigError, InputError
from riskcast.fetch.errors import CredentialsError, FetchError
from riskcast.jobs.fetch import FetchStep, fetch_step

__all__ = [
    "retrain",
    "load_spec",
    "RetrainSpec",
    "EXIT_PROMOTED",
    "EXIT_KEPT",
    "EXIT_UNCHANGED",
    "EXIT_VALIDATION",
    "EXIT_INTERNAL",
    "EXIT_LOCKED",
    "EXIT_FETCH",
    "EXIT_CODES",
]

EXIT_PROMOTED = 0  #: success: the challenger beat the champion and was promoted (or refreshed it: same spec, newer data)
EXIT_KEPT = 10  #: success: the champion was kept (the challenger did not beat it)
EXIT_UNCHANGED = 11  #: nothing new: this month was already done with the same data and config
EXIT_VALIDATION = 20  #: the input failed validation: nothing trained, champion kept
EXIT_INTERNAL = 70  #: an internal error (or the job was terminated): champion kept, no month written
EXIT_LOCKED = 75  #: another run holds the lock on this state folder
EXIT_FETCH = 30  #: the fetch step failed (source down, credentials refused, answer refused): nothing trained, champion kept

EXIT_CODES = {
    EXIT_PROMOTED: "success, challenger promoted to champion (or the champion refreshed: its own spec refit on newer data)",
    EXIT_KEPT: "success, champion kept",
    EXIT_UNCHANGED: "nothing new: month already done with the same data and config",
    EXIT_VALIDATION: "input refused by validation; champion kept",
    EXIT_FETCH: "fetch failed (source, credentials or answer refused); nothing trained, champion kept",
    EXIT_INTERNAL: "internal error or terminated; champion kept",
    EXIT_LOCKED: "another run holds the lock",
    2: "bad command line, spec or config",
}

PAUSE_ENV = "RISKCAST_RETRAIN_PAUSE_BEFORE"  # "<step>:<seconds>": a test hook to kill the job mid-way
LOCK_NAME, OWNER_NAME = "retrain.lock", "retrain.lock.json"
STEPS = ("fetch", "ingest", "validate", "drift", "features", "backtest", "train", "score", "report", "promote")


class _Job(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: str = Field(description="the run config, relative to the spec's folder unless absolute")
    state_dir: str = Field("../out/monthly", description="state folder, relative to the spec's folder unless absolute")
    as_of: str = Field("previous_month", pattern=r"^(data|previous_month|\d{4}-\d{2})$",
                       description='"data" (newest event month), "previous_month" (from the clock) or "YYYY-MM"')


class _Validation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_lag_months: int = Field(2, ge=0, description="newest event month of every events input >= as_of minus this")
    max_unassigned_share: float = Field(0.05, ge=0, le=1, description="events that cannot be placed in a unit")
    min_rows_ratio: float = Field(0.5, ge=0, le=1, description="rows kept per input vs the last successful month")


class _Drift(BaseModel):
    model_config = ConfigDict(extra="forbid")
    window_months: int = Field(12, ge=1)
    mix_threshold: float = Field(0.10, ge=0, le=1)


class RetrainSpec(BaseModel):
    """A pipeline spec (``pipelines/monthly.toml``): the job, its validation limits, drift settings."""

    model_config = ConfigDict(extra="forbid")
    job: _Job
    validation: _Validation = _Validation()
    drift: _Drift = _Drift()
    fetch: FetchStep | None = Field(None, description="sources fetched before ingest (optional)")


@dataclass
class _Ctx:
    spec_path: Path
    spec: RetrainSpec
    state: Path
    cfg: Config
    echo: Callable[[str], None]
    retrain_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    summary: dict = field(default_factory=dict)
    signals: _Signals = field(default_factory=lambda: _Signals())


class ValidationFailed(Exception):
    """The input failed a check; ``checks`` lists every check with its result."""

    def __init__(self, checks: list[dict]) -> None:
        self.checks = checks
        super().__init__("; ".join(c["detail"] for c in checks if not c["ok"]))


class FetchFailed(Exception):
    """The fetch step failed: nothing was ingested or trained."""


class Terminated(BaseException):
    """SIGTERM/SIGINT reached the job (a BaseException, so no step swallows it)."""


class _Signals:
    """SIGTERM/SIGINT handling: raise :class:`Terminated` at once, except inside :meth:`deferred`
    (the commit), where the signal is remembered and raised when the section ends."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._defer = 0

    def handler(self, signum, frame) -> None:  # noqa: ARG002
        self.received = signal.Signals(signum).name
        if not self._defer:
            raise Terminated(f"signal {self.received}")

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self._defer += 1
        try:
            yield
        finally:
            self._defer -= 1
        if self.received and not self._defer:
            raise Terminated(f"signal {self.received} (after the commit finished)")


# --- spec -----------------------------------------------------------------------------------

def load_spec(path: str | Path) -> RetrainSpec:
    """Read and validate a pipeline spec; a wrong key or value names the file and the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("pipeline spec not found", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(path)) from None
    try:
        return RetrainSpec.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        raise ConfigError({"extra_forbidden": "unknown key"}.get(e["type"], e["msg"]), file=str(path),
                          key=".".join(str(p) for p in e["loc"])) from None


def _beside(spec_path: Path, value: str | Path) -> Path:
    p = Path(value)
    return p if p.is_absolute() else (spec_path.parent / p)


def _month(m) -> pd.Timestamp:
    return pd.Timestamp(m).to_period("M").to_timestamp()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- lock -----------------------------------------------------------------------------------

def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _locked(ctx: _Ctx) -> Iterator[dict | None]:
    """Hold the state folder's lock; yields the stale owner record left by a killed run, if any.

    Raises:
        filelock.Timeout: another live run holds it.
    """
    from filelock import FileLock

    lock = FileLock(ctx.state / LOCK_NAME, timeout=0)
    with lock:
        owner = ctx.state / OWNER_NAME
        stale = None
        if owner.exists():  # we hold the OS lock, so whoever wrote this is gone
            try:
                stale = json.loads(owner.read_text())
            except (OSError, json.JSONDecodeError):
                stale = {"note": "unreadable owner record"}
        write_text(owner, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": _now(),
                                      "retrain_id": ctx.retrain_id, "spec": str(ctx.spec_path)}, indent=2) + "\n")
        try:
            yield stale
        finally:
            owner.unlink(missing_ok=True)


def _holder(state: Path) -> str:
    try:
        o = json.loads((state / OWNER_NAME).read_text())
        return (f"pid {o.get('pid')} on {o.get('host')}, started {o.get('started')}"
                + (f", as of {o['as_of']}" if o.get("as_of") else ""))
    except (OSError, json.JSONDecodeError):
        return "an unknown process"


def _update_owner(ctx: _Ctx, **items) -> None:
    path = ctx.state / OWNER_NAME
    data = json.loads(path.read_text())
    data.update(items)
    write_text(path, json.dumps(data, indent=2) + "\n")


def _clear_stale(ctx: _Ctx, stale: dict) -> dict:
    """Mark a dead run's MLflow runs KILLED and delete its work folder; returns what was done."""
    import mlflow

    done = {"owner": stale, "runs_marked_killed": [], "work_removed": []}
    rid = stale.get("retrain_id")
    if rid:
        client = mlflow.MlflowClient()
        exp = client.get_experiment_by_name(ctx.cfg.tracking.experiment)
        if exp is not None:
            runs = client.search_runs([exp.experiment_id], filter_string=f"tags.`riskcast.retrain_id` = '{rid}'",
                                      max_results=1000)
            if stale.get("parent_run_id"):  # the backtest and train runs are tagged by MLflow, not by us
                runs += client.search_runs([exp.experiment_id], max_results=1000,
                                           filter_string=f"tags.`mlflow.parentRunId` = '{stale['parent_run_id']}'")
            for r in runs:
                if r.info.status in ("RUNNING", "SCHEDULED") and r.info.run_id not in done["runs_marked_killed"]:
                    client.set_tag(r.info.run_id, "riskcast.killed_reason", "the job died without finishing; found by the next run")
                    client.set_terminated(r.info.run_id, status="KILLED")
                    done["runs_marked_killed"].append(r.info.run_id)
        for p in sorted((ctx.state / "work").glob(f"*{rid}*")):
            shutil.rmtree(p, ignore_errors=True)
            done["work_removed"].append(p.name)
    return done


# --- summaries ------------------------------------------------------------------------------

def _write_summary(ctx: _Ctx, *, latest: bool = True) -> None:
    s = ctx.summary
    text = json.dumps(s, indent=2, sort_keys=True, default=str) + "\n"
    stamp = s.get("started", _now()).replace(":", "").replace("+0000", "Z")
    write_text(ctx.state / "summaries" / f"{stamp}_{s.get('as_of') or 'unknown'}_{s.get('status')}_{ctx.retrain_id}.json", text)
    if latest:
        write_text(ctx.state / "summary.json", text)


def _last_success(state: Path, before: str | None = None) -> dict | None:
    """The summary of the newest complete month (before ``before`` when given)."""
    months = sorted(p.name for p in (state / "months").glob("????-??") if (p / "summary.json").exists())
    if before is not None:
        months = [m for m in months if m < before]
    if not months:
        return None
    return json.loads((state / "months" / months[-1] / "summary.json").read_text())


# --- the steps ------------------------------------------------------------------------------

def _pause(step: str) -> None:
    want = os.environ.get(PAUSE_ENV, "")
    if want.partition(":")[0] == step:
        time.sleep(float(want.partition(":")[2] or 0))


@contextmanager
def _step(ctx: _Ctx, name: str, *, mlflow_child: bool = True) -> Iterator[dict]:
    """Time a step, record it in the summary and, inside the parent run, as a nested child run."""
    import mlflow

    if (ctx.state / OWNER_NAME).exists():
        _update_owner(ctx, step=name)  # where the job is, for whoever looks (or must kill it)
    _pause(name)
    ctx.echo(f"[{name}] ...")
    rec = {"name": name, "status": "running"}
    ctx.summary.setdefault("steps", []).append(rec)
    t0 = time.perf_counter()
    run = None
    if mlflow_child and mlflow.active_run() is not None:
        run = mlflow.start_run(run_name=name, nested=True,
                               tags={"riskcast.step": name, "riskcast.retrain_id": ctx.retrain_id})
    try:
        yield rec
    except BaseException as exc:
        rec["status"] = "failed"
        rec["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        if run is not None:
            mlflow.end_run(status="KILLED" if isinstance(exc, Terminated) else "FAILED")
        raise
    finally:
        rec["seconds"] = round(time.perf_counter() - t0, 2)
    rec["status"] = "ok"
    if run is not None:
        mlflow.log_metric("seconds", rec["seconds"])
        mlflow.end_run()


def _validate(ctx: _Ctx, data, as_of: pd.Timestamp, previous: dict | None) -> list[dict]:
    """Coverage, region assignment and row-count checks (schemas were checked while reading)."""
    v = ctx.spec.validation
    checks = [{"name": "schemas", "ok": True, "detail": "every input read and matched its schema"}]
    events = data.events
    if len(events):
        newest = pd.to_datetime(events["date"]).groupby(events["source_dataset"]).max()
        oldest_ok = as_of - pd.DateOffset(months=v.max_lag_months)
        for src, last in sorted(newest.items()):
            ok = _month(last) >= oldest_ok
            checks.append({"name": f"coverage:{src}", "ok": bool(ok),
                           "detail": f"{src}: newest event {last:%Y-%m-%d}; the as-of month {as_of:%Y-%m} allows data "
                                     f"from {oldest_ok:%Y-%m} on (max_lag_months={v.max_lag_months})"
                                     + ("" if ok else ": the data are too old for this month")})
    else:
        checks.append({"name": "coverage", "ok": False, "detail": "no events at all were read"})
    a = data.assignment or {}
    n, n_ok = int(a.get("n_events", 0)), int(a.get("n_assigned", 0))
    share = (n - n_ok) / n if n else 0.0
    checks.append({"name": "region_assignment", "ok": share <= v.max_unassigned_share,
                   "detail": f"{n - n_ok} of {n} events ({share:.1%}) could not be placed in a unit "
                             f"(limit {v.max_unassigned_share:.1%})"})
    before = (previous or {}).get("inputs_rows", {})
    for name, rep in sorted(data.reports.items()):
        kept, prev = int(rep.get("rows_kept", 0)), before.get(name)
        if prev is None:
            checks.append({"name": f"rows:{name}", "ok": True, "detail": f"{name}: {kept} rows (no earlier run to compare)"})
            continue
        ok = kept >= v.min_rows_ratio * prev
        checks.append({"name": f"rows:{name}", "ok": bool(ok),
                       "detail": f"{name}: {kept} rows, last month {prev} (minimum ratio {v.min_rows_ratio:g})"
                                 + ("" if ok else f": collapsed to {kept / prev if prev else 0:.0%} of last month")})
    return checks


def _key(as_of: pd.Timestamp, cfg: Config, hashes: dict, spec: RetrainSpec) -> str:
    import hashlib

    blob = json.dumps({"as_of": f"{as_of:%Y-%m}", "config": config_hash(cfg), "data": hashes,
                       "spec": spec.model_dump(mode="json", exclude={"job": {"state_dir"}})}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _with(cfg: Config, **sections) -> Config:
    """A copy of ``cfg`` with ``section={key: value}`` updates (validated again)."""
    data = cfg.model_dump(mode="json")
    for sec, values in sections.items():
        data.setdefault(sec, {}).update(values)
    return Config.model_validate(data)


def _commit_month(ctx: _Ctx, work: Path, as_of: str) -> Path:
    """Move the finished work folder into ``months/<as_of>`` in one rename (a redo replaces the old one)."""
    months = ctx.state / "months"
    months.mkdir(parents=True, exist_ok=True)
    final = months / as_of
    old = None
    if final.exists():
        old = ctx.state / "work" / f"replaced-{as_of}-{ctx.retrain_id}"
        os.replace(final, old)
    os.replace(work, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    link, tmp = ctx.state / "latest", ctx.state / f".latest-{ctx.retrain_id}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(Path("months") / as_of)
    os.replace(tmp, link)
    return final


def _seed_work(ctx: _Ctx, work: Path, previous: dict | None) -> None:
    """Carry the earlier months' scores into the work folder (the report's 'change since last report')."""
    if previous is None:
        return
    src = ctx.state / "months" / previous["as_of"] / "scores_history"
    if src.is_dir():
        shutil.copytree(src, work / "scores_history", dirs_exist_ok=True)


def _run_month(ctx: _Ctx, data, as_of: pd.Timestamp, key: str, previous: dict | None, ingest_seconds: float = 0.0) -> int:
    import mlflow

    from riskcast.jobs.outputs import RunOutputs, update_run_json
    from riskcast.jobs.run import stage_backtest, stage_features, stage_report, stage_score, stage_train
    from riskcast.tracking.registry import PromotionDecision, apply_promotion

    cfg, s, m = ctx.cfg, ctx.summary, f"{as_of:%Y-%m}"
    work = ctx.state / "work" / f"{m}-{ctx.retrain_id}"
    work.mkdir(parents=True)
    _seed_work(ctx, work, previous)
    _update_owner(ctx, as_of=m)
    # the ingested tables as the stages expect them in the output folder
    from riskcast.jobs.run import _TABLES, _update_run_json, _write_df
    o = RunOutputs(work)
    for name in _TABLES:
        _write_df(getattr(data, name), o.tables / f"{name}.parquet")
    ingest_summary = {"inputs": data.reports, "data_hashes": data.hashes, "region_assignment": data.assignment,
                      "warnings": data.warnings, "data_vintages": data.vintages}
    write_text(o.ingest, json.dumps(ingest_summary, indent=2, sort_keys=True, default=str) + "\n")
    _update_run_json(o, fresh=True, config_hash=config_hash(cfg), **ingest_summary)

    with mlflow.start_run(run_name=f"retrain-{m}", tags={
            "riskcast.kind": "retrain", "riskcast.as_of": m, "riskcast.retrain_id": ctx.retrain_id,
            "riskcast.key": key, "riskcast.host": socket.gethostname(), "riskcast.pid": str(os.getpid()),
            **{f"riskcast.vintage.{k}": f"{v['source']}/{v['vintage']}" for k, v in data.vintages.items()}}) as parent:
        s["parent_run_id"] = parent.info.run_id
        _update_owner(ctx, parent_run_id=parent.info.run_id)
        try:
            with _step(ctx, "ingest") as rec:
                mlflow.log_dict(ingest_summary, "ingest.json")
                mlflow.log_metric("read_seconds", ingest_seconds)
                rec["read_seconds"] = ingest_seconds
            with _step(ctx, "validate"):
                checks = _validate(ctx, data, as_of, previous)
                s["validation"] = {"ok": all(c["ok"] for c in checks), "checks": checks}
                mlflow.log_dict(s["validation"], "validation.json")
                if not s["validation"]["ok"]:
                    raise ValidationFailed(checks)
            with _step(ctx, "drift"):
                s["drift"] = _drift(ctx, data, as_of, previous, work)
                mlflow.log_dict(s["drift"], "drift.json")
            with _step(ctx, "features"):
                panel = stage_features(cfg, work, data)
            with _step(ctx, "backtest", mlflow_child=False):
                stage_backtest(cfg, work, panel)
            with _step(ctx, "train", mlflow_child=False):
                model = stage_train(cfg, work, panel, promote=False)
            promote = bool(model["would_promote"])
            serving = str(model["version"]) if promote else model["champion_before"]["version"]
            s["promotion"] = {
                "promoted": promote, "action": model["action"], "reason": model["promotion_reason"], "window": model["backtest_window"],
                "challenger": {"model": model["model"], "version": str(model["version"]),
                               **{k: model["backtest_scores"].get(k) for k in ("brier", "ece")}},
                "champion_before": {"version": model["champion_before"]["version"], "model": model["champion_before"]["model"],
                                    **{k: (model["champion_before"]["scores_on_window"] or {}).get(k) for k in ("brier", "ece")}},
                "serving_version": serving,
            }
            with _step(ctx, "score"):
                stage_score(cfg, work, panel, version=serving)
                update_run_json(o, promotion={"promoted": promote, "reason": model["promotion_reason"]},
                                champion_version=serving, registered_model_version=str(model["version"]), drift=s["drift"])
            with _step(ctx, "report"):
                stage_report(cfg, work)
                mlflow.log_artifact(str(o.report), artifact_path="report")
            # the commit: summary in the month folder, alias, then one rename
            with _step(ctx, "promote"), ctx.signals.deferred():
                s["status"], s["exit_code"] = (model["action"], EXIT_PROMOTED) if promote else ("kept", EXIT_KEPT)
                s["finished"] = _now()
                s["outputs"] = {"month_dir": str(ctx.state / "months" / m)}
                write_text(work / "summary.json", json.dumps(s, indent=2, sort_keys=True, default=str) + "\n")
                decision = PromotionDecision(promoted=promote, reason=model["promotion_reason"],
                                             champion_before=model["champion_before"]["version"],
                                             champion_after=serving)
                apply_promotion(mlflow.MlflowClient(), model["registered_model"], model["version"], decision)
                _commit_month(ctx, work, m)
            mlflow.set_tags({"riskcast.status": s["status"], "riskcast.promotion_reason": model["promotion_reason"][:5000]})
            mlflow.log_dict(s, "summary.json")
        except ValidationFailed:
            mlflow.set_tag("riskcast.status", "validation_failed")
            mlflow.end_run(status="FAILED")
            raise
        except Terminated:
            mlflow.set_tag("riskcast.status", "terminated")
            mlflow.end_run(status="KILLED")
            raise
        except BaseException:
            mlflow.set_tag("riskcast.status", "error")
            mlflow.end_run(status="FAILED")
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)  # gone after the commit's rename; removed on failure
    return s["exit_code"]


def _drift(ctx: _Ctx, data, as_of: pd.Timestamp, previous: dict | None, work: Path) -> dict:
    """This month's input profile against the last complete month's (kept as ``input_profile.json``)."""
    from riskcast.drift import compare_profiles, input_profile

    profile = input_profile(data.events, data.units, as_of, data.reports, window_months=ctx.spec.drift.window_months)
    write_text(work / "input_profile.json", json.dumps(profile, indent=2, sort_keys=True) + "\n")
    prev = None
    if previous is not None:
        p = ctx.state / "months" / previous["as_of"] / "input_profile.json"
        prev = json.loads(p.read_text()) if p.exists() else None
    drift = compare_profiles(prev, profile, mix_threshold=ctx.spec.drift.mix_threshold)
    drift["compared_with"] = previous["as_of"] if prev is not None else None
    write_text(work / "drift.json", json.dumps(drift, indent=2, sort_keys=True, default=str) + "\n")
    return drift


# --- the job --------------------------------------------------------------------------------

def _preload() -> None:
    """Import what the steps import lazily, before the signal handlers are installed."""
    import importlib

    for name in ("mlflow", "mlflow.pyfunc", "mlflow.tracking", "sklearn.linear_model", "statsmodels.api", "lightgbm",
                 "matplotlib.pyplot", "weasyprint", "pypdfium2", "scoringrules", "joblib", "riskcast.jobs.run",
                 "riskcast.reporting.report", "riskcast.reporting.pdf", "riskcast.drift"):
        try:
            importlib.import_module(name)
        except ImportError:  # an optional part missing is the step's business, not the preload's
            pass


def retrain(spec_path: str | Path, *, as_of: str | None = None, state: str | Path | None = None,
            sets: list[str] | tuple[str, ...] = (), echo: Callable[[str], None] = print) -> dict:
    """Run the monthly job once; returns the summary (its ``exit_code`` is the process's).

    Args:
        spec_path: the pipeline spec (``pipelines/monthly.toml``).
        as_of: the month to forecast from (``YYYY-MM``, ``data`` or ``previous_month``),
            overriding the spec.
        state: the state folder, overriding the spec.
        sets: ``key=value`` overrides of the run config.
        echo: where progress lines go.

    Raises:
        ConfigError: a bad spec, config or override (the CLI exits 2).
    """
    spec_path = Path(spec_path)
    spec = load_spec(spec_path)
    state_dir = Path(state) if state is not None else _beside(spec_path, spec.job.state_dir)
    state_dir = state_dir.resolve()
    cfg = load_config(_beside(spec_path, spec.job.config), list(sets))
    if not cfg.tracking.uri:  # the registry lives with the state, not in one month's folder
        cfg = _with(cfg, tracking={"uri": f"sqlite:///{(state_dir / 'mlflow.db').as_posix()}"})
    want = as_of or spec.job.as_of
    if want not in ("data", "previous_month"):
        try:
            pd.Period(want, "M")
        except ValueError:
            raise ConfigError(f"as_of must be YYYY-MM, 'data' or 'previous_month', got {want!r}", key="job.as_of") from None
    state_dir.mkdir(parents=True, exist_ok=True)
    ctx = _Ctx(spec_path=spec_path, spec=spec, state=state_dir, cfg=cfg, echo=echo)
    ctx.summary = {"status": "running", "started": _now(), "spec": str(spec_path), "state_dir": str(state_dir),
                   "retrain_id": ctx.retrain_id, "host": socket.gethostname(), "pid": os.getpid(), "as_of": None,
                   "exit_codes": {str(k): v for k, v in EXIT_CODES.items()}}
    from filelock import Timeout

    try:
        with _locked(ctx) as stale:
            return _locked_job(ctx, want, stale)
    except Timeout:
        holder = _holder(state_dir)
        ctx.summary.update(status="locked", exit_code=EXIT_LOCKED, finished=_now(),
                           reason=f"another retrain holds the lock on {state_dir}: {holder}")
        echo(ctx.summary["reason"])
        _write_summary(ctx, latest=False)  # the running job owns summary.json
        return ctx.summary


def _failed_run(ctx: _Ctx, status: str, record: dict, artifact: str = "failure.json") -> None:
    """One FAILED parent run in MLflow for a job stopped before its month began."""
    import mlflow

    s = ctx.summary
    with mlflow.start_run(run_name=f"retrain-{s.get('as_of') or 'unknown'}", tags={
            "riskcast.kind": "retrain", "riskcast.retrain_id": ctx.retrain_id, "riskcast.as_of": str(s.get("as_of")),
            "riskcast.status": status}) as run:
        s["parent_run_id"] = run.info.run_id
        mlflow.log_dict(record, artifact)
        mlflow.set_tag("riskcast.reason", s["reason"][:5000])
    mlflow.MlflowClient().set_terminated(s["parent_run_id"], status="FAILED")


def _locked_job(ctx: _Ctx, want: str, stale: dict | None) -> dict:
    from riskcast.jobs.ingest import ingest
    from riskcast.tracking.runs import setup_mlflow

    s, cfg = ctx.summary, ctx.cfg
    previous_handlers = {}
    _preload()  # a signal that lands in the middle of a first import can leave a C extension half made
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous_handlers[sig] = signal.signal(sig, ctx.signals.handler)
    try:
        setup_mlflow(cfg.tracking.uri, cfg.tracking.experiment, ctx.state, cfg.tracking.registry_uri)
        if stale is not None:
            cleared = _clear_stale(ctx, stale)
            s["stale_lock_cleared"] = cleared
            ctx.echo(f"cleared a stale lock left by pid {stale.get('pid')} on {stale.get('host')} (started "
                     f"{stale.get('started')}, as of {stale.get('as_of', '?')}): that run died without finishing; "
                     f"{len(cleared['runs_marked_killed'])} of its MLflow runs marked KILLED")
        pins: dict[str, Path] = {}
        if ctx.spec.fetch is not None:
            with _step(ctx, "fetch", mlflow_child=False):
                try:
                    pins = fetch_step(ctx.spec.fetch, cfg, _beside(ctx.spec_path, ctx.spec.fetch.data_dir).resolve(),
                                      record=s.setdefault("fetch", {}), echo=ctx.echo)
                except (FetchError, CredentialsError, InputError) as exc:
                    s["as_of"] = None if want in ("data", "previous_month") else want
                    raise FetchFailed(str(exc)) from None
        with _step(ctx, "ingest", mlflow_child=False):
            try:
                data = ingest(cfg, pins)
            except InputError as exc:
                s["as_of"] = None if want in ("data", "previous_month") else want
                s["validation"] = {"ok": False, "checks": [{"name": "schemas", "ok": False, "detail": str(exc)}]}
                raise ValidationFailed(s["validation"]["checks"]) from None
        ingest_seconds = ctx.summary["steps"].pop()["seconds"]  # logged again as the parent run's first child
        if want == "data":
            as_of = _month(pd.to_datetime(data.events["date"]).max())
        elif want == "previous_month":
            as_of = _month(pd.Timestamp.today()) - pd.DateOffset(months=1)
        else:
            as_of = _month(want)
        m = f"{as_of:%Y-%m}"
        cfg = ctx.cfg = _with(cfg, panel={"end": m})
        key = _key(as_of, cfg, data.hashes, ctx.spec)
        s.update(as_of=m, key=key, config_hash=config_hash(cfg), data_hashes=data.hashes, data_vintages=data.vintages,
                 inputs_rows={k: int(v.get("rows_kept", 0)) for k, v in data.reports.items()})
        done = ctx.state / "months" / m / "summary.json"
        if done.exists() and json.loads(done.read_text()).get("key") == key:
            s.update(status="unchanged", exit_code=EXIT_UNCHANGED, finished=_now(),
                     reason=f"{m} was already done with the same data, config and spec ({done}); nothing new")
            ctx.echo(s["reason"])
            _write_summary(ctx)
            return s
        previous = _last_success(ctx.state, before=m)
        code = _run_month(ctx, data, as_of, key, previous, ingest_seconds)
        ctx.echo(f"{s['status']}: {s['promotion']['reason']} (exit {code})")
        _write_summary(ctx)
        return s
    except FetchFailed as exc:
        s.update(status="fetch_failed", exit_code=EXIT_FETCH, finished=_now(),
                 reason=f"fetch failed, nothing ingested or trained, champion kept: {exc}")
        _failed_run(ctx, "fetch_failed", {"fetch_error": str(exc), "fetched_before_the_failure": s.get("fetch", {})})
        ctx.echo(s["reason"])
        _write_summary(ctx)
        return s
    except ValidationFailed as exc:
        s.update(status="validation_failed", exit_code=EXIT_VALIDATION, finished=_now(),
                 reason=f"validation failed, nothing trained, champion kept: {exc}")
        s.setdefault("validation", {"ok": False, "checks": exc.checks})
        if "parent_run_id" not in s:  # refused while reading: still one (failed) run to see in MLflow
            _failed_run(ctx, "validation_failed", s["validation"], artifact="validation.json")
        ctx.echo(s["reason"])
        _write_summary(ctx)
        return s
    except (ConfigError, FileNotFoundError):
        raise
    except (Exception, Terminated) as exc:
        # a signal raised inside library code may reach us wrapped in another exception
        terminated = isinstance(exc, Terminated) or ctx.signals.received is not None
        s.update(status="terminated" if terminated else "error", exit_code=EXIT_INTERNAL, finished=_now(),
                 reason=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-8000:])
        ctx.echo(f"{s['status']}: {s['reason']}; champion kept, no month written")
        _write_summary(ctx)
        return s
    finally:
        for sig, h in previous_handlers.items():
            signal.signal(sig, h)
