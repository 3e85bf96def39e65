"""One stage at a time: ``ingest``, ``features``, ``backtest``, ``train``, ``report`` and ``score``.

Each stage reads the previous stage's outputs from --out, so a chain can be rerun from any point.
The jobs are imported inside the commands: ``import riskcast.jobs.run`` takes ~2.9 s (pandas,
scikit-learn, MLflow, LightGBM) while ``riskcast --help`` takes ~0.2 s, and shell completion runs
the program on every TAB.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import Progress

from riskcast.cli.root import ConfigArg, OutOpt, SetOpt, app, config_from, guard, out
from riskcast.cli_out import check_out_dir, default_out, ui
from riskcast.errors import ConfigError

__all__ = ["STAGES", "score"]


def _stage(name: str, config: Path, out_dir: Path | None, sets: list[str] | None) -> None:
    from riskcast.jobs import run as jobs
    from riskcast.outputs import RunOutputs, read_run

    def go():
        where = check_out_dir(out_dir or default_out(config))
        ui.sync_mlflow()
        cfg = config_from(config, sets)
        where.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        result = getattr(jobs, f"stage_{name}")(cfg, where)
        o = RunOutputs(where)
        ui.account(name, read_run(o))
        ui.info(f"[{name}] done in {where}")
        ui.detail(f"[{name}] took {time.perf_counter() - t0:.2f} s")
        if name == "report":
            out.print(f"report: {Path(result).resolve()}", highlight=False, soft_wrap=True)

    guard(go)


STAGES = {
    "ingest": "Read the inputs into canonical tables and assign events to units.",
    "features": "Build the region-month panel with features and targets (features.parquet).",
    "backtest": "Rolling-origin backtest of the models and baselines (predictions.csv, metrics.csv).",
    "train": "Fit the final model, log the MLflow run and register the model.",
    "report": "Render report.html from the run's outputs.",
}


def _stage_command(name: str, help_text: str):
    def command(config: ConfigArg, out_dir: OutOpt = None, set_: SetOpt = None) -> None:
        _stage(name, config, out_dir, set_)

    command.__doc__ = help_text
    return command


# One sub-command per stage, in the order they run.
for _name, _help in STAGES.items():
    app.command(_name)(_stage_command(_name, _help))


@app.command()
def score(
    config: ConfigArg,
    out_dir: OutOpt = None,
    set_: SetOpt = None,
    version: Annotated[
        Optional[str], typer.Option(help="score with this registered version instead of @champion")
    ] = None,
    run_id: Annotated[
        Optional[str],
        typer.Option(
            "--run", help="score with the bundle logged by this run of the configured tracking store"
        ),
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option(help="also write the scores here (.csv, .parquet or .json)")
    ] = None,
) -> None:
    """Score the latest month with models:/<name>@champion from the configured registry (scores.csv)."""
    from riskcast.jobs.score import stage_score
    from riskcast.scoring import SCORE_FORMATS, write_scores

    def go():
        where = check_out_dir(out_dir or default_out(config))
        ui.sync_mlflow()
        cfg = config_from(config, set_)
        if output is not None and output.suffix.lower() not in SCORE_FORMATS:
            raise ConfigError(
                f"--output {output}: the suffix must be one of {', '.join(SCORE_FORMATS)}", key="--output"
            )
        where.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        with Progress(transient=True, console=ui.bars()) as bar:
            task = bar.add_task("scoring units", total=None)
            scores = stage_score(
                cfg, where, version=version, run_id=run_id, progress=lambda n: bar.update(task, completed=n)
            )
        if output is not None:
            write_scores(scores, output)
        ui.info(
            f"[score] {len(scores):,} rows scored ({scores['unit_id'].nunique():,} units), "
            f"model {scores['model'].iloc[0]} v{scores['model_version'].iloc[0]}"
        )
        ui.detail(f"[score] took {time.perf_counter() - t0:.2f} s")

    guard(go)
