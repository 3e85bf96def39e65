"""The monthly job from the top: take the lock, fetch, read, decide the month, run it, say what happened."""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import traceback
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from filelock import Timeout

from riskcast.config import config_hash, load_config, load_spec
from riskcast.errors import ConfigError, InputError
from riskcast.fetch.errors import CredentialsError, FetchError
from riskcast.jobs.fetch import fetch_step
from riskcast.jobs.ingest import ingest
from riskcast.jobs.retrain.context import (
    EXIT_CODES,
    EXIT_FETCH,
    EXIT_INTERNAL,
    EXIT_LOCKED,
    EXIT_UNCHANGED,
    EXIT_VALIDATION,
    Ctx,
    FetchFailed,
    Terminated,
    ValidationFailed,
    beside,
    month_start,
    now,
)
from riskcast.jobs.retrain.lock import clear_stale, holder, locked
from riskcast.jobs.retrain.month import month_key, run_month, with_sections
from riskcast.jobs.retrain.steps import last_success, step, write_summary
from riskcast.tracking.job_runs import failed_parent_run
from riskcast.tracking.runs import setup_mlflow

__all__ = ["retrain"]

#: What the steps import on first use (MLflow's flavours, the report's renderers), loaded before
#: the signal handlers are installed: a signal that lands in the middle of a first import can
#: leave a C extension half made.
_PRELOAD = (
    "mlflow.pyfunc",
    "mlflow.tracking",
    "sklearn.linear_model",
    "statsmodels.api",
    "lightgbm",
    "matplotlib.pyplot",
    "weasyprint",
    "pypdfium2",
    "scoringrules",
    "joblib",
    "riskcast.reporting.report",
    "riskcast.reporting.pdf",
)


def _preload() -> None:
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional part missing is the step's business, not the preload's
            pass


def retrain(
    spec_path: str | Path,
    *,
    as_of: str | None = None,
    state: str | Path | None = None,
    sets: list[str] | tuple[str, ...] = (),
    echo: Callable[[str], None] = print,
) -> dict:
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
    state_dir = Path(state) if state is not None else beside(spec_path, spec.job.state_dir)
    state_dir = state_dir.resolve()
    cfg = load_config(beside(spec_path, spec.job.config), list(sets))
    if not cfg.tracking.uri:  # the registry lives with the state, not in one month's folder
        cfg = with_sections(cfg, tracking={"uri": f"sqlite:///{(state_dir / 'mlflow.db').as_posix()}"})
    want = as_of or spec.job.as_of
    if want not in ("data", "previous_month"):
        try:
            pd.Period(want, "M")
        except ValueError:
            raise ConfigError(
                f"as_of must be YYYY-MM, 'data' or 'previous_month', got {want!r}", key="job.as_of"
            ) from None
    state_dir.mkdir(parents=True, exist_ok=True)
    ctx = Ctx(spec_path=spec_path, spec=spec, state=state_dir, cfg=cfg, echo=echo)
    ctx.summary = {
        "status": "running",
        "started": now(),
        "spec": str(spec_path),
        "state_dir": str(state_dir),
        "retrain_id": ctx.retrain_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "as_of": None,
        "exit_codes": {str(k): v for k, v in EXIT_CODES.items()},
    }
    try:
        with locked(ctx) as stale:
            return _locked_job(ctx, want, stale)
    except Timeout:
        ctx.summary.update(
            status="locked",
            exit_code=EXIT_LOCKED,
            finished=now(),
            reason=f"another retrain holds the lock on {state_dir}: {holder(state_dir)}",
        )
        echo(ctx.summary["reason"])
        write_summary(ctx, latest=False)  # the running job owns summary.json
        return ctx.summary


def _failed_run(ctx: Ctx, status: str, record: dict, artifact: str = "failure.json") -> None:
    """One FAILED parent run in MLflow for a job stopped before its month began."""
    s = ctx.summary
    s["parent_run_id"] = failed_parent_run(
        f"retrain-{s.get('as_of') or 'unknown'}",
        {
            "riskcast.kind": "retrain",
            "riskcast.retrain_id": ctx.retrain_id,
            "riskcast.as_of": str(s.get("as_of")),
            "riskcast.status": status,
        },
        record,
        artifact,
        s["reason"],
    )


def _as_of(want: str, data) -> pd.Timestamp:
    if want == "data":
        return month_start(pd.to_datetime(data.events["date"]).max())
    if want == "previous_month":
        return month_start(pd.Timestamp.today()) - pd.DateOffset(months=1)
    return month_start(want)


def _read(ctx: Ctx, want: str):
    """Fetch (when the spec says so) and ingest; the ingested data and the read time."""
    cfg, s = ctx.cfg, ctx.summary
    pins: dict[str, Path] = {}
    if ctx.spec.fetch is not None:
        with step(ctx, "fetch", mlflow_child=False):
            try:
                pins = fetch_step(
                    ctx.spec.fetch,
                    cfg,
                    beside(ctx.spec_path, ctx.spec.fetch.data_dir).resolve(),
                    record=s.setdefault("fetch", {}),
                    echo=ctx.echo,
                )
            except (FetchError, CredentialsError, InputError) as exc:
                s["as_of"] = None if want in ("data", "previous_month") else want
                raise FetchFailed(str(exc)) from None
    with step(ctx, "ingest", mlflow_child=False):
        try:
            data = ingest(cfg, pins)
        except InputError as exc:
            s["as_of"] = None if want in ("data", "previous_month") else want
            s["validation"] = {"ok": False, "checks": [{"name": "schemas", "ok": False, "detail": str(exc)}]}
            raise ValidationFailed(s["validation"]["checks"]) from None
    return data, ctx.summary["steps"].pop()["seconds"]  # logged again as the parent run's first child


def _locked_job(ctx: Ctx, want: str, stale: dict | None) -> dict:
    s, cfg = ctx.summary, ctx.cfg
    previous_handlers = {}
    _preload()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous_handlers[sig] = signal.signal(sig, ctx.signals.handler)
    try:
        setup_mlflow(cfg.tracking.uri, cfg.tracking.experiment, ctx.state, cfg.tracking.registry_uri)
        if stale is not None:
            cleared = clear_stale(ctx, stale)
            s["stale_lock_cleared"] = cleared
            ctx.echo(
                f"cleared a stale lock left by pid {stale.get('pid')} on {stale.get('host')} (started "
                f"{stale.get('started')}, as of {stale.get('as_of', '?')}): that run died without finishing; "
                f"{len(cleared['runs_marked_killed'])} of its MLflow runs marked KILLED"
            )
        data, ingest_seconds = _read(ctx, want)
        as_of = _as_of(want, data)
        m = f"{as_of:%Y-%m}"
        cfg = ctx.cfg = with_sections(cfg, panel={"end": m})
        key = month_key(as_of, cfg, data.hashes, ctx.spec)
        s.update(
            as_of=m,
            key=key,
            config_hash=config_hash(cfg),
            data_hashes=data.hashes,
            data_vintages=data.vintages,
            inputs_rows={k: int(v.get("rows_kept", 0)) for k, v in data.reports.items()},
        )
        done = ctx.state / "months" / m / "summary.json"
        if done.exists() and json.loads(done.read_text()).get("key") == key:
            s.update(
                status="unchanged",
                exit_code=EXIT_UNCHANGED,
                finished=now(),
                reason=f"{m} was already done with the same data, config and spec ({done}); nothing new",
            )
            ctx.echo(s["reason"])
            write_summary(ctx)
            return s
        previous = last_success(ctx.state, before=m)
        code = run_month(ctx, data, as_of, key, previous, ingest_seconds)
        ctx.echo(f"{s['status']}: {s['promotion']['reason']} (exit {code})")
        write_summary(ctx)
        return s
    except FetchFailed as exc:
        s.update(
            status="fetch_failed",
            exit_code=EXIT_FETCH,
            finished=now(),
            reason=f"fetch failed, nothing ingested or trained, champion kept: {exc}",
        )
        _failed_run(
            ctx, "fetch_failed", {"fetch_error": str(exc), "fetched_before_the_failure": s.get("fetch", {})}
        )
        ctx.echo(s["reason"])
        write_summary(ctx)
        return s
    except ValidationFailed as exc:
        s.update(
            status="validation_failed",
            exit_code=EXIT_VALIDATION,
            finished=now(),
            reason=f"validation failed, nothing trained, champion kept: {exc}",
        )
        s.setdefault("validation", {"ok": False, "checks": exc.checks})
        if "parent_run_id" not in s:  # refused while reading: still one (failed) run to see in MLflow
            _failed_run(ctx, "validation_failed", s["validation"], artifact="validation.json")
        ctx.echo(s["reason"])
        write_summary(ctx)
        return s
    except (ConfigError, FileNotFoundError):
        raise
    except (Exception, Terminated) as exc:
        # a signal raised inside library code may reach us wrapped in another exception
        terminated = isinstance(exc, Terminated) or ctx.signals.received is not None
        s.update(
            status="terminated" if terminated else "error",
            exit_code=EXIT_INTERNAL,
            finished=now(),
            reason=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc()[-8000:],
        )
        ctx.echo(f"{s['status']}: {s['reason']}; champion kept, no month written")
        write_summary(ctx)
        return s
    finally:
        for sig, h in previous_handlers.items():
            signal.signal(sig, h)
