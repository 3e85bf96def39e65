"""One month of the monthly job, once the input is read: validate, drift, the stages, then the commit.

Everything is built in ``work/`` inside one MLflow parent run whose nested child runs are the
steps; the ``champion`` alias moves and the work folder becomes ``months/<YYYY-MM>`` only at the
end, inside a section that a signal cannot cut short.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket

import pandas as pd

from riskcast.atomic import write_text
from riskcast.config import Config, RetrainSpec, config_hash
from riskcast.jobs.handover import record_ingest
from riskcast.jobs.ingest import Ingested
from riskcast.jobs.retrain.checks import drift, validate
from riskcast.jobs.retrain.commit import commit_month, seed_work
from riskcast.jobs.retrain.context import EXIT_KEPT, EXIT_PROMOTED, Ctx, Terminated, ValidationFailed, now
from riskcast.jobs.retrain.lock import update_owner
from riskcast.jobs.retrain.steps import step
from riskcast.jobs.run import stage_backtest, stage_features, stage_report, stage_score, stage_train
from riskcast.jobs.score import scoring_summary
from riskcast.outputs import RunOutputs, update_run_json
from riskcast.records import ModelRecord
from riskcast.tracking.job_runs import (
    apply_decision,
    end_parent,
    log_artifact,
    log_json,
    log_step_seconds,
    parent_run,
    set_tags,
)
from riskcast.tracking.registry import PromotionDecision

__all__ = ["run_month", "month_key", "with_sections"]


def month_key(as_of: pd.Timestamp, cfg: Config, hashes: dict, spec: RetrainSpec) -> str:
    """What makes a month's run the same run: the month, the config, the data and the spec (not the state folder)."""
    blob = json.dumps(
        {
            "as_of": f"{as_of:%Y-%m}",
            "config": config_hash(cfg),
            "data": hashes,
            "spec": spec.model_dump(mode="json", exclude={"job": {"state_dir"}}),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def with_sections(cfg: Config, **sections) -> Config:
    """A copy of ``cfg`` with ``section={key: value}`` updates (validated again)."""
    data = cfg.model_dump(mode="json")
    for sec, values in sections.items():
        data.setdefault(sec, {}).update(values)
    return Config.model_validate(data)


def _promotion_record(model: ModelRecord, promote: bool, serving: str) -> dict:
    before = model.champion_before
    return {
        "promoted": promote,
        "action": model.action,
        "reason": model.promotion_reason,
        "window": model.backtest_window,
        "challenger": {
            "model": model.model,
            "version": str(model.version),
            **{k: model.backtest_scores.get(k) for k in ("brier", "ece")},
        },
        "champion_before": {
            "version": before.version,
            "model": before.model,
            **{k: (before.scores_on_window or {}).get(k) for k in ("brier", "ece")},
        },
        "serving_version": serving,
    }


def run_month(
    ctx: Ctx,
    data: Ingested,
    as_of: pd.Timestamp,
    key: str,
    previous: dict | None,
    ingest_seconds: float = 0.0,
) -> int:
    """Every step of one month, committed at the end; returns the exit code."""
    cfg, s, m = ctx.cfg, ctx.summary, f"{as_of:%Y-%m}"
    work = ctx.state / "work" / f"{m}-{ctx.retrain_id}"
    work.mkdir(parents=True)
    seed_work(ctx, work, previous)
    update_owner(ctx, as_of=m)
    o = RunOutputs(work)
    ingested = record_ingest(o, cfg, data)

    tags = {
        "riskcast.kind": "retrain",
        "riskcast.as_of": m,
        "riskcast.retrain_id": ctx.retrain_id,
        "riskcast.key": key,
        "riskcast.host": socket.gethostname(),
        "riskcast.pid": str(os.getpid()),
        **{f"riskcast.vintage.{k}": f"{v['source']}/{v['vintage']}" for k, v in data.vintages.items()},
    }
    with parent_run(f"retrain-{m}", tags) as parent_id:
        s["parent_run_id"] = parent_id
        update_owner(ctx, parent_run_id=parent_id)
        try:
            with step(ctx, "ingest") as rec:
                log_json(ingested.model_dump(mode="json", exclude={"built_from"}), "ingest.json")
                log_step_seconds("read_seconds", ingest_seconds)
                rec["read_seconds"] = ingest_seconds
            with step(ctx, "validate"):
                checks = validate(ctx, data, as_of, previous)
                s["validation"] = {"ok": all(c["ok"] for c in checks), "checks": checks}
                log_json(s["validation"], "validation.json")
                if not s["validation"]["ok"]:
                    raise ValidationFailed(checks)
            with step(ctx, "drift"):
                s["drift"] = drift(ctx, data, as_of, previous, work)
                log_json(s["drift"], "drift.json")
            with step(ctx, "features"):
                panel = stage_features(cfg, work, data)
            with step(ctx, "backtest", mlflow_child=False):
                stage_backtest(cfg, work, panel)
            with step(ctx, "train", mlflow_child=False):
                model = stage_train(cfg, work, panel, promote=False)
            promote = bool(model.would_promote)
            serving = str(model.version) if promote else model.champion_before.version
            s["promotion"] = _promotion_record(model, promote, serving)
            with step(ctx, "score"):
                stage_score(cfg, work, panel, version=serving)
                update_run_json(
                    o,
                    **scoring_summary(work),
                    promotion={"promoted": promote, "reason": model.promotion_reason},
                    champion_version=serving,
                    registered_model_version=str(model.version),
                    drift=s["drift"],
                )
            with step(ctx, "report"):
                stage_report(cfg, work)
                log_artifact(str(o.report), "report")
            # the commit: summary in the month folder, alias, then one rename
            with step(ctx, "promote"), ctx.signals.deferred():
                s["status"], s["exit_code"] = (
                    (model.action, EXIT_PROMOTED) if promote else ("kept", EXIT_KEPT)
                )
                s["finished"] = now()
                s["outputs"] = {"month_dir": str(ctx.state / "months" / m)}
                write_text(work / "summary.json", json.dumps(s, indent=2, sort_keys=True, default=str) + "\n")
                decision = PromotionDecision(
                    promoted=promote,
                    reason=model.promotion_reason,
                    champion_before=model.champion_before.version,
                    champion_after=serving,
                )
                apply_decision(model.registered_model, model.version, decision)
                commit_month(ctx, work, m)
            set_tags(
                {
                    "riskcast.status": s["status"],
                    "riskcast.promotion_reason": model.promotion_reason[:5000],
                }
            )
            log_json(s, "summary.json")
        except ValidationFailed:
            end_parent("FAILED", "validation_failed")
            raise
        except Terminated:
            end_parent("KILLED", "terminated")
            raise
        except BaseException:
            end_parent("FAILED", "error")
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)  # gone after the commit's rename; removed on failure
    return s["exit_code"]
