"""The root of the command line: the typer app, its global options, and what every command shares.

Shared: the option types (config argument, --out, --set), the console results go to, ``guard``
(a job's errors become one clear message and an exit code) and ``config_from`` (the config a
command runs with). The commands themselves live in the sibling modules, one module per kind of
work; ``riskcast.cli`` imports them so that they register on ``app``.

Exit codes: 0 success; 2 bad input or config (the message names the file, row and column or
the key); 1 any other error. What the CLI prints, and the --out check, live in ``riskcast.cli_out``.

``riskcast.config`` (~0.6 s) and ``riskcast.evaluation.splits`` (~0.3 s, pandas) are imported
inside the functions that need them: ``riskcast --help`` loads this module and takes ~0.2 s, and
shell completion runs the program on every TAB.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from riskcast import __version__
from riskcast.cli_out import NORMAL, QUIET, VERBOSE, ui
from riskcast.errors import EXIT_BAD_INPUT, EXIT_FETCH_FAILED, ConfigError, FetchError, InputError

__all__ = ["app", "main", "out", "guard", "config_from", "ConfigArg", "OutOpt", "SetOpt"]

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


def guard(fn):
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


def config_from(config: Path | None, sets: list[str] | None):
    """The config file with its --set overrides, or the embedded demo config when there is no file."""
    from riskcast.config import default_config, load_config

    return default_config(sets or []) if config is None else load_config(config, sets or [])


def main() -> None:  # console-script entry point
    app(prog_name="riskcast")
