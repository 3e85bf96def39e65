"""Commands that run the whole chain at once: ``demo``, ``run`` and the scheduled ``retrain``.

Each job is imported inside the command that runs it: ``import riskcast.jobs.run`` takes ~2.9 s
(pandas, scikit-learn, MLflow, LightGBM) while ``riskcast --help`` takes ~0.2 s, and shell
completion runs the program on every TAB.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer

from riskcast.cli.root import ConfigArg, OutOpt, SetOpt, app, config_from, guard, out
from riskcast.cli_out import check_out_dir, default_out, timing_line, ui
from riskcast.errors import ConfigError, InputError

__all__ = ["demo", "run", "retrain"]

DEMO_OUT = default_out(None)


def _run(config: Path | None, out_dir: Path | None, sets: list[str] | None) -> None:
    def go():
        where = check_out_dir(out_dir or default_out(config))
        cfg = config_from(config, sets)
        _start_workers(cfg)
        from riskcast.jobs.run import run_all
        from riskcast.records import RunRecord

        ui.sync_mlflow()  # after the jobs' imports: importing some of MLflow turns its logging back on
        result = run_all(cfg, where, echo=ui.info)
        ui.account("run", RunRecord.model_validate(result))
        ui.detail(timing_line(result["timings_seconds"]))
        ui.info(f"scores for {result['as_of']}; took {result['timings_seconds']['total']} s")
        out.print(f"report: {Path(result['outputs']['report']).resolve()}", highlight=False, soft_wrap=True)

    guard(go)


def _start_workers(cfg) -> None:
    """Start the backtest's worker processes in a thread: they load the models' libraries while
    this process imports the jobs and ingests (``riskcast.evaluation.backtest.start_workers``)."""
    if cfg.compute.backend != "local" or cfg.backtest.n_jobs == 1:
        return

    def start() -> None:
        try:
            # the thread's own import, beside this process's import of the jobs: the layers only
            # import downwards, so the two cannot wait on each other
            from riskcast.evaluation.backtest import start_workers

            start_workers(cfg.backtest.n_jobs)
        except Exception:  # noqa: BLE001 - only a head start: the backtest starts its workers itself
            pass

    threading.Thread(target=start, name="riskcast-start-workers", daemon=True).start()


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="output folder")] = DEMO_OUT,
    set_: SetOpt = None,
) -> None:
    """Run the main job on the embedded SYNTHETIC Sahel data (no config needed)."""
    _run(None, out_dir, set_)


@app.command()
def run(config: ConfigArg, out_dir: OutOpt = None, set_: SetOpt = None) -> None:
    """Run the whole chain: ingest, features, backtest, train + register, score, report."""
    _run(config, out_dir, set_)


@app.command()
def retrain(
    spec: Annotated[Path, typer.Argument(help="pipeline spec, e.g. pipelines/monthly.toml")],
    as_of: Annotated[
        Optional[str],
        typer.Option("--as-of", help="YYYY-MM, 'data' or 'previous_month' (default: the spec's)"),
    ] = None,
    state: Annotated[
        Optional[Path], typer.Option("--state", help="state folder (default: the spec's job.state_dir)")
    ] = None,
    set_: SetOpt = None,
) -> None:
    """The scheduled monthly job: ingest, validate, retrain, promote or keep the champion, score, report.

    Exit codes: 0 promoted; 10 champion kept; 11 nothing new (month already done with the same
    data); 20 input refused by validation; 30 the spec's fetch step failed; 75 another run holds
    the lock; 70 internal error or terminated; 2 bad spec, config or option. A summary is written to STATE/summary.json.
    """
    from riskcast.jobs.retrain import EXIT_INTERNAL
    from riskcast.jobs.retrain import retrain as run_retrain

    def go():
        ui.sync_mlflow()
        try:
            return run_retrain(spec, as_of=as_of, state=state, sets=list(set_ or []), echo=ui.info)
        except (InputError, ConfigError, FileNotFoundError):
            raise
        except Exception as exc:  # noqa: BLE001 - outside the job's own handling (e.g. the lock folder)
            ui.error(f"{type(exc).__name__}: {exc}", label="internal error")
            raise typer.Exit(EXIT_INTERNAL) from None

    summary = guard(go)
    where = Path(summary.get("state_dir", ".")) / "summary.json"
    out.print(
        f"retrain {summary.get('as_of') or ''}: {summary['status']} (exit {summary['exit_code']}); summary: {where}",
        highlight=False,
        soft_wrap=True,
    )
    if summary["status"] == "terminated":
        # interrupted work (worker pools, half-done imports) must not turn the exit into a crash
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(summary["exit_code"])
    raise typer.Exit(summary["exit_code"])
