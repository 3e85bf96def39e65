"""The riskcast command line: parses arguments, calls a job, returns an exit code.

Exit codes: 0 success; 2 bad input or config (the message names the file, row and column or
the key); 1 any other error. What the CLI prints, and the --out check, live in ``riskcast.cli_out``.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from riskcast import __version__
from riskcast.cli_out import NORMAL, QUIET, VERBOSE, check_out_dir, default_out, plain, timing_line, ui
from riskcast.errors import EXIT_BAD_INPUT, EXIT_FETCH_FAILED, ConfigError, FetchError, InputError

__all__ = ["app", "main"]

# add_completion gives --install-completion / --show-completion (bash, zsh, fish, powershell)
app = typer.Typer(no_args_is_help=True, help="Forecast monthly armed-attack risk per region, and explain it.")
out = Console()

ConfigArg = Annotated[Path, typer.Argument(help="TOML config file", exists=False)]
OutOpt = Annotated[
    Optional[Path],
    typer.Option(
        "--out",
        "-o",
        show_default=False,
        help="output folder (default: out/ and the config's file name without .toml)",
    ),
]
SetOpt = Annotated[
    Optional[list[str]], typer.Option("--set", help="override a config value: dotted.key=value (repeatable)")
]
DEMO_OUT = default_out(None)


def _print_version(value: bool) -> None:
    if value:
        try:
            v = package_version("riskcast")
        except PackageNotFoundError:  # a source checkout on PYTHONPATH, not installed
            v = __version__
        out.print(f"riskcast {v}", highlight=False)
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="print riskcast's version and exit"
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="no progress bars or info lines: only warnings, errors and results"
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="also per-input details (file, format, drop reasons) and timings"
        ),
    ] = False,
) -> None:
    """Forecast monthly armed-attack risk per region, and explain it."""
    if quiet and verbose:
        raise typer.BadParameter(
            "use one of --quiet and --verbose, not both", param_hint="--quiet / --verbose"
        )
    ui.set_level(QUIET if quiet else VERBOSE if verbose else NORMAL)


def _guard(fn):
    """Run a job; map known errors to exit codes with one clear message."""
    try:
        return fn()
    except (InputError, ConfigError, FileNotFoundError) as exc:
        ui.error(str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except FetchError as exc:
        ui.error(str(exc))
        raise typer.Exit(EXIT_FETCH_FAILED) from None
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - last resort: say what failed, exit 1
        from riskcast.evaluation.splits import SplitError

        if isinstance(exc, SplitError):
            ui.error(str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        ui.err.print_exception(show_locals=False, max_frames=5)
        ui.error(f"{type(exc).__name__}: {exc}", label="internal error")
        raise typer.Exit(1) from None


def _config(config: Path | None, sets: list[str] | None):
    from riskcast.config import default_config, load_config

    return default_config(sets or []) if config is None else load_config(config, sets or [])


def _run(config: Path | None, out_dir: Path | None, sets: list[str] | None) -> None:
    from riskcast.jobs.run import run_all

    def go():
        where = check_out_dir(out_dir or default_out(config))
        ui.sync_mlflow()
        cfg = _config(config, sets)
        result = run_all(cfg, where, echo=ui.info)
        ui.account("run", result)
        ui.detail(timing_line(result["timings_seconds"]))
        ui.info(f"scores for {result['as_of']}; took {result['timings_seconds']['total']} s")
        out.print(f"report: {Path(result['outputs']['report']).resolve()}", highlight=False, soft_wrap=True)

    _guard(go)


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

    summary = _guard(go)
    where = Path(summary.get("state_dir", ".")) / "summary.json"
    out.print(
        f"retrain {summary.get('as_of') or ''}: {summary['status']} (exit {summary['exit_code']}); summary: {where}",
        highlight=False,
        soft_wrap=True,
    )
    if summary["status"] == "terminated":
        # interrupted work (worker pools, half-done imports) must not turn the exit into a crash
        import os

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(summary["exit_code"])
    raise typer.Exit(summary["exit_code"])


@app.command()
def fetch(
    source: Annotated[Optional[str], typer.Argument(help="acled, ucdp or coups")] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="data folder: vintages go to DATA_DIR/<source>/<UTC time>/")
    ] = Path("data"),
    country: Annotated[
        Optional[list[str]], typer.Option("--country", help="a country to fetch (repeatable; default Mali)")
    ] = None,
    since: Annotated[Optional[str], typer.Option(help="first event date, YYYY-MM-DD")] = None,
    until: Annotated[Optional[str], typer.Option(help="last event date, YYYY-MM-DD")] = None,
    version: Annotated[
        Optional[list[str]],
        typer.Option(
            "--version", help="UCDP GED release: 25.1 (yearly) or 25.0.3 (monthly candidate); repeatable"
        ),
    ] = None,
    base_url: Annotated[
        Optional[str],
        typer.Option(
            "--base-url",
            help="replace the source's scheme and host (its paths are kept); http only on loopback",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="accept a table smaller than --min-rows-ratio of the current vintage"),
    ] = False,
    min_rows_ratio: Annotated[
        float, typer.Option(help="refuse a table below this share of the current vintage's rows (same query)")
    ] = 0.9,
    daily_quota: Annotated[int, typer.Option(help="UCDP requests allowed a day, errors included")] = 5000,
    retries: Annotated[int, typer.Option(help="tries per request (connection errors, 429, 5xx)")] = 6,
    timeout: Annotated[float, typer.Option(help="seconds per request")] = 60.0,
    list_: Annotated[
        bool, typer.Option("--list", help="list the vintages in --out instead of fetching")
    ] = False,
) -> None:
    """Fetch a source into a new vintage (ACLED_EMAIL + ACLED_PASSWORD[_FILE]; UCDP_ACCESS_TOKEN).

    Exit codes: 0 fetched; 2 bad option or refused credentials; 3 the source failed or its answer
    was refused (too few rows, over the quota): nothing written, DATA_DIR/<source>/current unchanged.
    """
    from riskcast.fetch import FetchRequest, RetryPolicy
    from riskcast.jobs.fetch import run_fetch, vintage_rows

    def go():
        check_out_dir(out_dir, writable=not list_)  # listing only reads the data folder
        if list_:
            rows = vintage_rows(out_dir, source)
            if not rows:
                out.print(f"no vintages in {out_dir}", highlight=False)
            for r in rows:
                out.print(
                    f"{r['source']:6} {r['vintage']:20} {'current' if r['current'] else '       '} {r['kind']:6} "
                    f"new {r['new']}, changed {r['changed']}, deleted {r['deleted']}, total {r['total']}  "
                    f"{r['query']}{'  version ' + r['dataset_version'] if r['dataset_version'] else ''}  sha256 {r['sha256']}",
                    highlight=False,
                    soft_wrap=True,
                )
            return
        if source is None:
            raise ConfigError("name the source to fetch: acled, ucdp or coups (or --list)", key="SOURCE")
        req = FetchRequest(
            source=source,
            countries=tuple(country or ("Mali",)),
            since=since,
            until=until,
            versions=tuple(version or ()),
            base_url=base_url,
            min_rows_ratio=min_rows_ratio,
            daily_quota=daily_quota,
            force=force,
        )
        run_fetch(
            req,
            out_dir,
            policy=RetryPolicy(timeout=timeout, attempts=retries),
            console=ui.bars(),
            echo=ui.info,
        )

    _guard(go)


def _stage(name: str, config: Path, out_dir: Path | None, sets: list[str] | None) -> None:
    from riskcast.jobs import run as jobs

    def go():
        where = check_out_dir(out_dir or default_out(config))
        ui.sync_mlflow()
        cfg = _config(config, sets)
        where.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        result = getattr(jobs, f"stage_{name}")(cfg, where)
        o = jobs.RunOutputs(where)
        ui.account(name, json.loads(o.run.read_text()) if o.run.exists() else {})
        ui.info(f"[{name}] done in {where}")
        ui.detail(f"[{name}] took {time.perf_counter() - t0:.2f} s")
        if name == "report":
            out.print(f"report: {Path(result).resolve()}", highlight=False, soft_wrap=True)

    _guard(go)


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


# One sub-command per stage; each reads the previous stage's outputs from --out.
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
    from riskcast.scoring import write_scores

    def go():
        from riskcast.scoring import SCORE_FORMATS

        where = check_out_dir(out_dir or default_out(config))
        ui.sync_mlflow()
        cfg = _config(config, set_)
        if output is not None and output.suffix.lower() not in SCORE_FORMATS:
            raise ConfigError(
                f"--output {output}: the suffix must be one of {', '.join(SCORE_FORMATS)}", key="--output"
            )
        where.mkdir(parents=True, exist_ok=True)
        from rich.progress import Progress

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

    _guard(go)


@app.command()
def plot(
    unit: Annotated[str, typer.Option(help="unit id, e.g. ML07")],
    # no default: a run's folder is named after its config, which plot does not take
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="the run's output folder (as given to riskcast run)")
    ],
    months: Annotated[int, typer.Option(help="months of history to draw")] = 36,
    file: Annotated[
        Optional[Path], typer.Option(help="PNG to write (default DIR/figures/unit_<id>.png)")
    ] = None,
) -> None:
    """Draw one unit's observed attacks and its latest forecast (from a run's output folder)."""
    import pandas as pd

    from riskcast.outputs import RunOutputs, panel_of
    from riskcast.reporting.plots import unit_plot

    def go():
        check_out_dir(out_dir, writable=file is None)  # the figure goes into it unless --file says elsewhere
        o = RunOutputs(out_dir)
        panel = panel_of(out_dir, None)
        scores = pd.read_csv(o.require(o.scores, "score"))
        try:
            path = unit_plot(panel, scores, unit, file or o.figures / f"unit_{unit}.png", months=months)
        except ValueError as exc:
            raise ConfigError(str(exc), key="--unit") from None
        out.print(f"plot: {Path(path).resolve()}", highlight=False, soft_wrap=True)

    _guard(go)


@app.command("model-list")
def model_list() -> None:
    """List the model classes a models/*.toml set can declare, with their parameters."""
    from riskcast.models.spec import describe_models

    def go():
        for row in describe_models():
            out.print(
                f"{row['model']}({row['params']})\n    {plain(row['description'])}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    _guard(go)


@app.command()
def formats() -> None:
    """List the input formats riskcast reads, with the table each one feeds."""
    from riskcast.io.registry import READERS

    for name, (kind, fn) in sorted(READERS.items()):
        doc = plain(fn.__doc__.strip().splitlines()[0]) if fn.__doc__ else ""
        out.print(f"{name:18} {kind:9} {doc}", markup=False, highlight=False, soft_wrap=True)
    out.print(
        f"{'synthetic':18} {'events':9} riskcast's embedded SYNTHETIC Sahel events (seeded)", highlight=False
    )
    out.print(f"{'curated':18} {'shocks':9} riskcast's curated shock / presence tables", highlight=False)


@app.command("feature-list")
def feature_list(
    feature_set: Annotated[
        Optional[str], typer.Argument(help="a feature set (name in features/ or TOML path) to expand")
    ] = None,
) -> None:
    """List the available features with their parameters and descriptions, or the columns of a set."""

    def go():
        from rich.table import Table

        from riskcast.features.spec import describe_registry, load_feature_set

        if feature_set is None:
            table = Table("feature", "family", "parameters", "description")
            for row in describe_registry():
                table.add_row(
                    *(escape(plain(row[k])) for k in ("feature", "family", "params", "description"))
                )
        else:
            s = load_feature_set(feature_set)
            table = Table(
                "column",
                "definition",
                title=f"{s.name}: {len(s)} features ({s.path}, sha256 {s.sha256[:12]})",
            )
            for f in s.features:
                table.add_row(escape(f.name), escape(plain(f.describe())))
        out.print(table)

    _guard(go)


@app.command("config-schema")
def config_schema() -> None:
    """Print the JSON schema of the config file."""
    from riskcast.config import Config

    out.print_json(json.dumps(Config.model_json_schema()))


@app.command()
def synth(
    path: Annotated[Path, typer.Argument(help="CSV file to write")],
    seed: Annotated[int, typer.Option(help="seed of the generator")] = 20240601,
    start: Annotated[str, typer.Option(help="first month, YYYY-MM")] = "2012-01",
    end: Annotated[str, typer.Option(help="last month, YYYY-MM")] = "2024-12",
    level: Annotated[str, typer.Option(help="admin1 or admin2")] = "admin1",
) -> None:
    """Write the embedded SYNTHETIC events to a CSV in riskcast's canonical events format."""

    def go():
        from riskcast import synth as s

        df = s.default_events(seed=seed, start=start, end=end, level=level)
        s.write_events(df, path)
        out.print(f"wrote {len(df)} SYNTHETIC events to {path}", highlight=False)

    _guard(go)


def main() -> None:  # console-script entry point
    app(prog_name="riskcast")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
