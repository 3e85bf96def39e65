"""A step of the monthly job: timed, recorded in the summary, and a nested MLflow child run; the summaries."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from riskcast.atomic import write_text
from riskcast.jobs.retrain.context import OWNER_NAME, PAUSE_ENV, Ctx, Terminated, now
from riskcast.jobs.retrain.lock import update_owner
from riskcast.tracking.job_runs import end_child, start_child

__all__ = ["step", "write_summary", "last_success"]


def _pause(name: str) -> None:
    want = os.environ.get(PAUSE_ENV, "")
    if want.partition(":")[0] == name:
        time.sleep(float(want.partition(":")[2] or 0))


@contextmanager
def step(ctx: Ctx, name: str, *, mlflow_child: bool = True) -> Iterator[dict]:
    """Time a step, record it in the summary and, inside the parent run, as a nested child run."""
    if (ctx.state / OWNER_NAME).exists():
        update_owner(ctx, step=name)  # where the job is, for whoever looks (or must kill it)
    _pause(name)
    ctx.echo(f"[{name}] ...")
    rec = {"name": name, "status": "running"}
    ctx.summary.setdefault("steps", []).append(rec)
    t0 = time.perf_counter()
    child = start_child(name, ctx.retrain_id, enabled=mlflow_child)
    try:
        yield rec
    except BaseException as exc:
        rec["status"] = "failed"
        rec["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        end_child(child, status="KILLED" if isinstance(exc, Terminated) else "FAILED")
        raise
    finally:
        rec["seconds"] = round(time.perf_counter() - t0, 2)
    rec["status"] = "ok"
    end_child(child, seconds=rec["seconds"])


def write_summary(ctx: Ctx, *, latest: bool = True) -> None:
    """The attempt's summary in ``summaries/`` (every attempt) and, unless ``latest=False``, ``summary.json``."""
    s = ctx.summary
    text = json.dumps(s, indent=2, sort_keys=True, default=str) + "\n"
    stamp = s.get("started", now()).replace(":", "").replace("+0000", "Z")
    write_text(
        ctx.state
        / "summaries"
        / f"{stamp}_{s.get('as_of') or 'unknown'}_{s.get('status')}_{ctx.retrain_id}.json",
        text,
    )
    if latest:
        write_text(ctx.state / "summary.json", text)


def last_success(state: Path, before: str | None = None) -> dict | None:
    """The summary of the newest complete month (before ``before`` when given)."""
    months = sorted(p.name for p in (state / "months").glob("????-??") if (p / "summary.json").exists())
    if before is not None:
        months = [m for m in months if m < before]
    if not months:
        return None
    return json.loads((state / "months" / months[-1] / "summary.json").read_text())
