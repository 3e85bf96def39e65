"""The riskcast command line: parses arguments, calls a job, returns an exit code.

Exit codes: 0 success; 2 bad input or config (the message names the file, row and column or
the key); 1 any other error.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from riskcast.errors import EXIT_BAD_INPUT, EXIT_FETCH_FAILED, ConfigError, FetchError, InputError

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Forecast monthly armed-attack risk per region, and explain it.")
err = Console(stderr=True)
out = Console()

ConfigArg = Annotated[Path, typer.Argument(help="TOML config file", exists=False)]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="output folder")]
SetOpt = Annotated[Optional[list[str]], typer.Option("--set", help="override a config value: dotted.key=value (repeatable)")]


def _guard(fn):
    """Run a job; map known errors to exit codes with one clear message."""
    try:
        return fn()
    except (InputError, ConfigError, FileNotFoundError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except FetchError as exc:
        err.print(f"error: {exc}", style="bold red", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(EXIT_FETCH_FAILED) from None
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - last resort: say what failed, exit 1
        from riskcast.evaluation.splits import SplitError

        if isinstance(exc, SplitError):
            err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        err.print_exception(show_locals=False, max_frames=5)
        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None


def _config(config: Path | None, sets: list[str] | None):
    from riskcast.config import default_config, load_config

    return default_config(sets or []) if config is None else load_config(config, sets or [])


def _run(config: Path | None, out_dir: Path, sets: list[str] | None) -> None:
    from riskcast.jobs.run import run_all

    def go():
        cfg = _config(config, sets)
        result = run_all(cfg, out_dir, echo=lambda m: err.print(m, style="dim", markup=False, highlight=False))
        for name, info in sorted(result.get("inputs", {}).items()):
            dropped = ", ".join(f"{k}: {v}" for k, v in sorted(info["dropped"].items())) or "none"
            err.print(f"input {name}: read {info['rows_read']}, kept {info['rows_kept']}, dropped {info['rows_dropped']} ({dropped})", highlight=False)
        for w in result.get("warnings", []):
            err.print(f"[yellow]warning:[/] {w}", highlight=False)
        for reason, n in result.get("panel", {}).get("events_not_in_panel", {}).items():
            err.print(f"events {reason}: {n}", highlight=False)
        for kind, reasons in result.get("panel", {}).get("rows_not_placed", {}).items():
            for reason, n in reasons.items():
                err.print(f"{kind} rows not placed on the panel ({reason}): {n}", highlight=False)
        err.print(f"registered model {result['registered_model']} version {result['registered_model_version']}; "
                  f"scores for {result['as_of']}; took {result['timings_seconds']['total']} s", highlight=False)
        out.print(f"report: {Path(result['outputs']['report']).resolve()}", highlight=False, soft_wrap=True)

    _guard(go)


@app.command()
def demo(out_dir: OutOpt = Path("out/demo"), set_: SetOpt = None) -> None:
    """Run the main job on the embedded SYNTHETIC Sahel data (no config needed)."""
    _run(None, out_dir, set_)


@app.command()
def run(config: ConfigArg, out_dir: OutOpt = Path("out/run"), set_: SetOpt = None) -> None:
    """Run the whole chain: ingest, features, backtest, train + register, score, report."""
    _run(config, out_dir, set_)


@app.command()
def retrain(
    spec: Annotated[Path, typer.Argument(help="pipeline spec, e.g. pipelines/monthly.toml")],
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="YYYY-MM, 'data' or 'previous_month' (default: the spec's)")] = None,
    state: Annotated[Optional[Path], typer.Option("--state", help="state folder (default: the spec's job.state_dir)")] = None,
    set_: SetOpt = None,
) -> None:
    """The scheduled monthly job: ingest, validate, retrain, promote or keep the champion, score, report.

    Exit codes: 0 promoted; 10 champion kept; 11 nothing new (month already done with the same
    data); 20 input refused by validation; 30 the spec's [fetch] step failed; 75 another run holds
    the lock; 70 internal error or terminated; 2 bad spec, config or option. A summary is written to STATE/summary.json.
    """
    from riskcast.jobs.retrain import EXIT_INTERNAL, retrain as run_retrain

    def go():
        try:
            return run_retrain(spec, as_of=as_of, state=state, sets=list(set_ or []),
                               echo=lambda m: err.print(m, style="dim", markup=False, highlight=False, soft_wrap=True))
        except (InputError, ConfigError, FileNotFoundError):
            raise
        except Exception as exc:  # noqa: BLE001 - outside the job's own handling (e.g. the lock folder)
            err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc}")
            raise typer.Exit(EXIT_INTERNAL) from None

    summary = _guard(go)
    where = Path(summary.get("state_dir", ".")) / "summary.json"
    out.print(f"retrain {summary.get('as_of') or ''}: {summary['status']} (exit {summary['exit_code']}); summary: {where}",
              highlight=False, soft_wrap=True)
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
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="data folder: vintages go to DATA_DIR/<source>/<UTC time>/")] = Path("data"),
    country: Annotated[Optional[list[str]], typer.Option("--country", help="a country to fetch (repeatable; default Mali)")] = None,
    since: Annotated[Optional[str], typer.Option(help="first event date, YYYY-MM-DD")] = None,
    until: Annotated[Optional[str], typer.Option(help="last event date, YYYY-MM-DD")] = None,
    version: Annotated[Optional[list[str]], typer.Option("--version", help="UCDP GED release: 25.1 (yearly) or 25.0.3 (monthly candidate); repeatable")] = None,
    base_url: Annotated[Optional[str], typer.Option("--base-url", help="replace the source's scheme and host (its paths are kept); http only on loopback")] = None,
    force: Annotated[bool, typer.Option("--force", help="accept a table smaller than --min-rows-ratio of the current vintage")] = False,
    min_rows_ratio: Annotated[float, typer.Option(help="refuse a table below this share of the current vintage's rows (same query)")] = 0.9,
    daily_quota: Annotated[int, typer.Option(help="UCDP requests allowed a day, errors included")] = 5000,
    retries: Annotated[int, typer.Option(help="tries per request (connection errors, 429, 5xx)")] = 6,
    timeout: Annotated[float, typer.Option(help="seconds per request")] = 60.0,
    list_: Annotated[bool, typer.Option("--list", help="list the vintages in --out instead of fetching")] = False,
) -> None:
    """Fetch a source into a new vintage (ACLED_EMAIL + ACLED_PASSWORD[_FILE]; UCDP_ACCESS_TOKEN).

    Exit codes: 0 fetched; 2 bad option or refused credentials; 3 the source failed or its answer
    was refused (too few rows, over the quota): nothing written, `current` unchanged.
    """
    from riskcast.fetch import FetchRequest, RetryPolicy
    from riskcast.jobs.fetch import run_fetch, vintage_rows

    def go():
        if list_:
            rows = vintage_rows(out_dir, source)
            if not rows:
                out.print(f"no vintages in {out_dir}", highlight=False)
            for r in rows:
                out.print(f"{r['source']:6} {r['vintage']:20} {'current' if r['current'] else '       '} {r['kind']:6} "
                          f"new {r['new']}, changed {r['changed']}, deleted {r['deleted']}, total {r['total']}  "
                          f"{r['query']}{'  version ' + r['dataset_version'] if r['dataset_version'] else ''}  sha256 {r['sha256']}",
                          highlight=False, soft_wrap=True)
            return
        if source is None:
            raise ConfigError("name the source to fetch: acled, ucdp or coups (or --list)", key="SOURCE")
        req = FetchRequest(source=source, countries=tuple(country or ("Mali",)), since=since, until=until,
                           versions=tuple(version or ()), base_url=base_url, min_rows_ratio=min_rows_ratio,
                           daily_quota=daily_quota, force=force)
        run_fetch(req, out_dir, policy=RetryPolicy(timeout=timeout, attempts=retries), console=err,
                  echo=lambda m: err.print(m, markup=False, highlight=False, soft_wrap=True))

    _guard(go)


def _stage(name: str, config: Path, out_dir: Path, sets: list[str] | None) -> None:
    from riskcast.jobs import run as jobs

    def go():
        cfg = _config(config, sets)
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        result = getattr(jobs, f"stage_{name}")(cfg, out_dir)
        err.print(f"[{name}] done in {out_dir}", style="dim", markup=False, highlight=False)
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
    def command(config: ConfigArg, out_dir: OutOpt = Path("out/run"), set_: SetOpt = None) -> None:
        _stage(name, config, out_dir, set_)

    command.__doc__ = help_text
    return command


# One sub-command per stage; each reads the previous stage's outputs from --out.
for _name, _help in STAGES.items():
    app.command(_name)(_stage_command(_name, _help))


@app.command()
def score(
    config: ConfigArg,
    out_dir: OutOpt = Path("out/run"),
    set_: SetOpt = None,
    version: Annotated[Optional[str], typer.Option(help="score with this registered version instead of @champion")] = None,
    run_id: Annotated[Optional[str], typer.Option("--run", help="score with the bundle logged by this run of the configured tracking store")] = None,
    output: Annotated[Optional[Path], typer.Option(help="also write the scores here (.csv, .parquet or .json)")] = None,
) -> None:
    """Score the latest month with models:/<name>@champion from the configured registry (scores.csv)."""
    from riskcast.jobs.train import stage_score
    from riskcast.scoring import write_scores

    def go():
        from riskcast.scoring import SCORE_FORMATS

        cfg = _config(config, set_)
        if output is not None and output.suffix.lower() not in SCORE_FORMATS:
            raise ConfigError(f"--output {output}: the suffix must be one of {', '.join(SCORE_FORMATS)}", key="--output")
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        from rich.progress import Progress

        with Progress(transient=True, console=err) as bar:
            task = bar.add_task("scoring units", total=None)
            scores = stage_score(cfg, out_dir, version=version, run_id=run_id, progress=lambda n: bar.update(task, completed=n))
        if output is not None:
            write_scores(scores, output)
        err.print(f"[score] {len(scores)} rows, model {scores['model'].iloc[0]} v{scores['model_version'].iloc[0]}", style="dim", markup=False, highlight=False)

    _guard(go)


@app.command()
def plot(
    unit: Annotated[str, typer.Option(help="unit id, e.g. ML07")],
    out_dir: OutOpt = Path("out/run"),
    months: Annotated[int, typer.Option(help="months of history to draw")] = 36,
    file: Annotated[Optional[Path], typer.Option(help="PNG to write (default DIR/figures/unit_<id>.png)")] = None,
) -> None:
    """Draw one unit's observed attacks and its latest forecast (from a run's output folder)."""
    import pandas as pd

    from riskcast.jobs.outputs import RunOutputs, panel_of
    from riskcast.reporting.plots import unit_plot

    def go():
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
            out.print(f"{row['model']}({row['params']})\n    {row['description']}", highlight=False, soft_wrap=True)

    _guard(go)


@app.command()
def formats() -> None:
    """List the input formats riskcast reads, with the table each one feeds."""
    from riskcast.io.registry import READERS

    for name, (kind, fn) in sorted(READERS.items()):
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        out.print(f"{name:18} {kind:9} {doc}", highlight=False, soft_wrap=True)
    out.print(f"{'synthetic':18} {'events':9} riskcast's embedded SYNTHETIC Sahel events (seeded)", highlight=False)
    out.print(f"{'curated':18} {'shocks':9} riskcast's curated shock / presence tables", highlight=False)


@app.command("feature-list")
def feature_list(feature_set: Annotated[Optional[str], typer.Argument(help="a feature set (name in features/ or TOML path) to expand")] = None) -> None:
    """List the available features with their parameters and descriptions, or the columns of a set."""

    def go():
        from rich.table import Table

        from riskcast.features.spec import describe_registry, load_feature_set

        if feature_set is None:
            table = Table("feature", "family", "parameters", "description")
            for row in describe_registry():
                table.add_row(row["feature"], row["family"], row["params"], row["description"])
        else:
            s = load_feature_set(feature_set)
            table = Table("column", "definition", title=f"{s.name}: {len(s)} features ({s.path}, sha256 {s.sha256[:12]})")
            for f in s.features:
                table.add_row(f.name, f.describe())
        out.print(table)

    _guard(go)


@app.command("config-schema")
def config_schema() -> None:
    """Print the JSON schema of the config file."""
    from riskcast.config import Config

    out.print_json(json.dumps(Config.model_json_schema()))


@app.command()
def synth(path: Annotated[Path, typer.Argument(help="CSV file to write")], seed: int = 20240601, start: str = "2012-01", end: str = "2024-12", level: str = "admin1") -> None:
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
