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

The package: ``spec`` (the pipeline file), ``context`` (exit codes, the shared context, signals),
``lock`` (one run at a time, stale-owner recovery), ``checks`` (validation and drift), ``steps``
(a timed step and the summaries), ``commit`` (the final rename), ``month`` (one month's steps) and
``job`` (the sequence from the top). MLflow bookkeeping is in ``riskcast.tracking.job_runs``.
"""

from __future__ import annotations

from riskcast.config import RetrainSpec, load_spec
from riskcast.jobs.retrain.context import (
    EXIT_CODES,
    EXIT_FETCH,
    EXIT_INTERNAL,
    EXIT_KEPT,
    EXIT_LOCKED,
    EXIT_PROMOTED,
    EXIT_UNCHANGED,
    EXIT_VALIDATION,
    OWNER_NAME,
)
from riskcast.jobs.retrain.job import retrain

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
    "OWNER_NAME",
]
