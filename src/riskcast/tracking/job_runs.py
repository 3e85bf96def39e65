"""The monthly job's MLflow bookkeeping: its parent run, one nested child run per step, a failed
run for a job stopped before its month began, and the cleanup of runs a killed job left open.

The job (``riskcast.jobs.retrain``) sequences the steps; every MLflow call it needs lives here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import mlflow
from mlflow.exceptions import MlflowException

from riskcast.tracking.describe import record_promotion
from riskcast.tracking.provenance import provenance_tags
from riskcast.tracking.registry import PromotionDecision, apply_promotion

__all__ = [
    "start_child",
    "end_child",
    "failed_parent_run",
    "mark_runs_killed",
    "parent_run",
    "end_parent",
    "log_json",
    "log_step_seconds",
    "set_tags",
    "log_artifact",
    "apply_decision",
    "RETRAIN_ID_TAG",
    "STATUS_TAG",
]

RETRAIN_ID_TAG = "riskcast.retrain_id"
STATUS_TAG = "riskcast.status"

_log = logging.getLogger(__name__)


@contextmanager
def parent_run(name: str, tags: Mapping[str, str]) -> Iterator[str]:
    """The month's parent run; yields its run id."""
    with mlflow.start_run(run_name=name, tags={**provenance_tags(), **tags}) as run:
        yield run.info.run_id


def end_parent(status: str, tag: str) -> None:
    """Mark the active parent run with ``riskcast.status = tag`` and end it with MLflow ``status``."""
    mlflow.set_tag(STATUS_TAG, tag)
    mlflow.end_run(status=status)


def start_child(step: str, retrain_id: str, enabled: bool = True) -> bool:
    """Start a nested child run for one step when a parent run is active (and ``enabled``); whether one was started."""
    started = enabled and mlflow.active_run() is not None
    if started:
        mlflow.start_run(
            run_name=step,
            nested=True,
            tags={**provenance_tags(), "riskcast.step": step, RETRAIN_ID_TAG: retrain_id},
        )
    return started


def end_child(started: bool, *, status: str = "FINISHED", seconds: float | None = None) -> None:
    """End the step's child run (when one was started), logging its duration on success."""
    if not started:
        return
    if status == "FINISHED" and seconds is not None:
        mlflow.log_metric("seconds", seconds)
    mlflow.end_run(status=status)


def log_json(record: dict, artifact: str) -> None:
    mlflow.log_dict(record, artifact)


def log_step_seconds(name: str, seconds: float) -> None:
    mlflow.log_metric(name, seconds)


def failed_parent_run(name: str, tags: Mapping[str, str], record: dict, artifact: str, reason: str) -> str:
    """One FAILED parent run for a job stopped before its month began; returns its id."""
    with mlflow.start_run(run_name=name, tags={**provenance_tags(), **tags}) as run:
        run_id = run.info.run_id
        mlflow.log_dict(record, artifact)
        mlflow.set_tag("riskcast.reason", reason[:5000])
    mlflow.MlflowClient().set_terminated(run_id, status="FAILED")
    return run_id


def mark_runs_killed(experiment: str, retrain_id: str, parent_run_id: str | None) -> list[str]:
    """End every run a killed job left RUNNING (tagged with its retrain id, or children of its parent) as KILLED."""
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return []
    runs = client.search_runs(
        [exp.experiment_id], filter_string=f"tags.`{RETRAIN_ID_TAG}` = '{retrain_id}'", max_results=1000
    )
    if parent_run_id:  # the backtest and train runs are tagged by MLflow, not by us
        runs += client.search_runs(
            [exp.experiment_id],
            max_results=1000,
            filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'",
        )
        # and the children (one per model) of a backtest run the job died in
        open_backtests = [
            r for r in runs if r.data.tags.get("riskcast.kind") == "backtest" and r.info.status == "RUNNING"
        ]
        for r in open_backtests:
            runs += client.search_runs(
                [exp.experiment_id],
                max_results=1000,
                filter_string=f"tags.`mlflow.parentRunId` = '{r.info.run_id}'",
            )
    killed: list[str] = []
    for r in runs:
        if r.info.status in ("RUNNING", "SCHEDULED") and r.info.run_id not in killed:
            client.set_tag(
                r.info.run_id,
                "riskcast.killed_reason",
                "the job died without finishing; found by the next run",
            )
            client.set_terminated(r.info.run_id, status="KILLED")
            killed.append(r.info.run_id)
    return killed


def set_tags(tags: Mapping[str, str]) -> None:
    mlflow.set_tags(dict(tags))


def log_artifact(path: str, artifact_path: str) -> None:
    mlflow.log_artifact(path, artifact_path=artifact_path)


def apply_decision(registered_model: str, version: str | int, decision: PromotionDecision) -> None:
    """Move (or keep) the ``champion`` alias as ``decision`` says, on the active tracking server's
    registry, and say so in the version's and the registered model's descriptions."""
    client = mlflow.MlflowClient()
    apply_promotion(client, registered_model, version, decision)
    action = "refreshed" if decision.reason.startswith("refreshed") else "promoted"
    try:
        record_promotion(client, registered_model, str(version), decision, action=action)
    except MlflowException as exc:
        # the alias and the decision tags are the registry's state, and they are written; a
        # description is their account for readers, and must not fail the month's commit after them
        _log.warning("could not update the descriptions of %s v%s: %s", registered_model, version, exc)
