"""The commit of a finished month: one rename of the work folder into ``months/<YYYY-MM>``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from riskcast.jobs.retrain.context import Ctx

__all__ = ["commit_month", "seed_work"]


def commit_month(ctx: Ctx, work: Path, as_of: str) -> Path:
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


def seed_work(ctx: Ctx, work: Path, previous: dict | None) -> None:
    """Carry the earlier months' scores into the work folder (the report's 'change since last report')."""
    if previous is None:
        return
    src = ctx.state / "months" / previous["as_of"] / "scores_history"
    if src.is_dir():
        shutil.copytree(src, work / "scores_history", dirs_exist_ok=True)
