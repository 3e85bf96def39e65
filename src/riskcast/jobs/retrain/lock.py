"""One monthly job at a time per state folder, and the recovery of a run that was killed.

The lock is ``filelock``'s OS lock, which the kernel drops when the process dies. Beside it the
owner record (``retrain.lock.json``) says who holds it and how far it got; a record found while
we hold the lock was left by a run that died without cleaning up.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from riskcast.atomic import write_text
from riskcast.jobs.retrain.context import LOCK_NAME, OWNER_NAME, Ctx, now
from riskcast.tracking.job_runs import mark_runs_killed

__all__ = ["locked", "holder", "update_owner", "clear_stale"]


@contextmanager
def locked(ctx: Ctx) -> Iterator[dict | None]:
    """Hold the state folder's lock; yields the stale owner record left by a killed run, if any.

    Raises:
        filelock.Timeout: another live run holds it.
    """
    lock = FileLock(ctx.state / LOCK_NAME, timeout=0)
    with lock:
        owner = ctx.state / OWNER_NAME
        stale = None
        if owner.exists():  # we hold the OS lock, so whoever wrote this is gone
            try:
                stale = json.loads(owner.read_text())
            except (OSError, json.JSONDecodeError):
                stale = {"note": "unreadable owner record"}
        write_text(
            owner,
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "started": now(),
                    "retrain_id": ctx.retrain_id,
                    "spec": str(ctx.spec_path),
                },
                indent=2,
            )
            + "\n",
        )
        try:
            yield stale
        finally:
            owner.unlink(missing_ok=True)


def holder(state: Path) -> str:
    """Who holds the lock, in words (from the owner record)."""
    try:
        o = json.loads((state / OWNER_NAME).read_text())
        return f"pid {o.get('pid')} on {o.get('host')}, started {o.get('started')}" + (
            f", as of {o['as_of']}" if o.get("as_of") else ""
        )
    except (OSError, json.JSONDecodeError):
        return "an unknown process"


def update_owner(ctx: Ctx, **items) -> None:
    path = ctx.state / OWNER_NAME
    data = json.loads(path.read_text())
    data.update(items)
    write_text(path, json.dumps(data, indent=2) + "\n")


def clear_stale(ctx: Ctx, stale: dict) -> dict:
    """Mark a dead run's MLflow runs KILLED and delete its work folder; returns what was done."""
    done = {"owner": stale, "runs_marked_killed": [], "work_removed": []}
    rid = stale.get("retrain_id")
    if rid:
        done["runs_marked_killed"] = mark_runs_killed(
            ctx.cfg.tracking.experiment, rid, stale.get("parent_run_id")
        )
        for p in sorted((ctx.state / "work").glob(f"*{rid}*")):
            shutil.rmtree(p, ignore_errors=True)
            done["work_removed"].append(p.name)
    return done
