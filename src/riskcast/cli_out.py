"""What the command line says and where it may write: verbosity, the --out check, summary lines.

The CLI (``riskcast.cli``) only dispatches; this module holds the plain-words side of it, so that
every command checks its output folder the same way and reports a stage the same way.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import rich
from rich.console import Console
from rich.markup import escape

from riskcast.errors import ConfigError

if TYPE_CHECKING:  # annotations only: pydantic's import (~75 ms) stays off `riskcast --help`
    from riskcast.records import PanelInfo, RunRecord

__all__ = ["Ui", "ui", "check_out_dir", "default_out", "input_lines", "stage_lines", "timing_line", "plain"]

QUIET, NORMAL, VERBOSE = 0, 1, 2


class Ui:
    """How much the CLI says on stderr: quiet (warnings and errors only), normal, or verbose.

    Results (the report's path, listings) go to stdout whatever the level, so a script can read
    them; everything else goes to stderr.
    """

    def __init__(self) -> None:
        self.level = NORMAL
        self.err = Console(stderr=True)

    def set_level(self, level: int) -> None:
        self.level = level
        # Stages draw their progress bars on rich's global console: send it to stderr (stdout
        # carries results) and silence it when quiet, without the stages knowing about verbosity.
        rich.reconfigure(stderr=True, quiet=level == QUIET)

    def sync_mlflow(self) -> None:
        """Quiet also silences MLflow's own lines ("Successfully registered model ...", its warnings)."""
        # imported here: MLflow takes seconds to import, and only commands that use it call this
        from mlflow.utils import logging_utils

        (logging_utils.disable_logging if self.level == QUIET else logging_utils.enable_logging)()

    def bars(self) -> Console:
        """The console progress bars draw on (silent when quiet)."""
        return Console(stderr=True, quiet=self.level == QUIET)

    def info(self, msg: str) -> None:
        if self.level >= NORMAL:
            self.err.print(msg, style="dim", markup=False, highlight=False, soft_wrap=True)

    def detail(self, msg: str) -> None:
        if self.level >= VERBOSE:
            self.err.print(msg, style="dim", markup=False, highlight=False, soft_wrap=True)

    def account(self, stage: str, run: RunRecord) -> None:
        """What a stage recorded in run.json (rows read/kept/dropped, panel, model), and its warnings."""
        for line in stage_lines(stage, run, verbose=self.level >= VERBOSE):
            self.info(line)
        if stage in ("ingest", "run"):
            for w in run.warnings:
                self.warn(w)

    def warn(self, msg: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(msg)}", highlight=False, soft_wrap=True)

    def error(self, msg: str, label: str = "error") -> None:
        self.err.print(f"[bold red]{label}:[/] {escape(msg)}", highlight=False, soft_wrap=True)


#: The one verbosity setting of this process, set by the ``riskcast`` callback.
ui = Ui()


def default_out(config: Path | None, name: str = "demo") -> Path:
    """``out/<config file name without .toml>``: one folder per config, so runs never share one."""
    return Path("out") / (config.stem if config is not None else name)


def check_out_dir(out: Path, *, writable: bool = True) -> Path:
    """Refuse an --out that cannot be an output folder, before any work starts.

    Nothing is created here: when the folder does not exist yet, the nearest existing folder on
    its path must accept a new file (the job makes the folder itself). Writability is tried with
    a real file rather than ``os.access``, which is wrong for root, ACLs and read-only mounts.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder: name a folder for the outputs")
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"--out {out} cannot be created: {probe} is a file, not a folder")
    if not writable:
        return out
    try:
        fd, tmp = tempfile.mkstemp(prefix=".riskcast-write-check-", dir=probe)
    except OSError as exc:
        why = (
            "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or type(exc).__name__)
        )
        where = "" if probe == out else f" (cannot create a file in {probe})"
        raise ConfigError(f"--out {out} is not writable{where}: {why}") from None
    os.close(fd)
    os.unlink(tmp)
    return out


# reStructuredText in docstrings (``code``, :func:`name`, `text`) reads as noise in a terminal
_RST_ROLE = re.compile(r":[a-z]+(?::[a-z]+)?:`~?([^`]+)`")
_RST_LITERAL = re.compile(r"``([^`]+)``|`([^`]+)`")


def plain(text: str) -> str:
    """A docstring line without reStructuredText markup, for listings shown to users."""
    text = _RST_ROLE.sub(lambda m: m.group(1), str(text))
    return _RST_LITERAL.sub(lambda m: m.group(1) or m.group(2), text)


def _n(x) -> str:
    return f"{int(x):,}"


def input_lines(inputs: dict, verbose: bool = False) -> list[str]:
    """One line per input, ``acled: 1,349 rows read, 1,349 kept, 0 dropped``, with the reasons
    rows were dropped; verbose adds the file, format, vintage and notes."""
    lines = []
    for name, info in sorted(inputs.items()):
        line = f"{name}: {_n(info['rows_read'])} rows read, {_n(info['rows_kept'])} kept, {_n(info['rows_dropped'])} dropped"
        if info.get("dropped"):
            line += (
                " (" + "; ".join(f"{reason}: {_n(n)}" for reason, n in sorted(info["dropped"].items())) + ")"
            )
        lines.append(line)
        if verbose:
            lines.append(
                f"  {info.get('table', '?')} from {info.get('file', '?')} (format {info.get('format', '?')})"
            )
            if info.get("vintage"):
                v = info["vintage"]
                lines.append(
                    f"  vintage {v['vintage']} of {v['source']} (fetched {v['fetched_at']}, sha256 {v['sha256'][:12]})"
                )
            lines.extend(f"  note: {note}" for note in info.get("notes", []))
    return lines


def _panel_lines(panel: PanelInfo | None, verbose: bool) -> list[str]:
    if panel is None:
        return []
    lines = [
        f"panel: {_n(panel.units)} units x {_n(panel.months)} months ({panel.first_month} to "
        f"{panel.last_month}), {len(panel.features)} features"
    ]
    # zero counts are noise in a normal run; verbose lists every reason the panel checks
    for reason, n in panel.events_not_in_panel.items():
        if n or verbose:
            lines.append(f"events {reason}: {_n(n)}")
    for kind, reasons in panel.rows_not_placed.items():
        for reason, n in reasons.items():
            if n or verbose:
                lines.append(f"{kind} rows not placed on the panel ({reason}): {_n(n)}")
    return lines


def stage_lines(stage: str, run: RunRecord, verbose: bool = False) -> list[str]:
    """What one stage recorded in run.json, in plain words (``run`` covers every stage)."""
    lines: list[str] = []
    if stage in ("ingest", "run"):
        lines += input_lines(run.inputs, verbose)
        ra = run.region_assignment
        if verbose and ra:
            lines.append(
                f"events placed in units: {_n(ra.get('n_assigned', 0))} of {_n(ra.get('n_events', 0))} "
                f"({_n(ra.get('n_unassigned', 0))} unassigned)"
            )
    if stage in ("features", "run"):
        lines += _panel_lines(run.panel, verbose)
    if stage in ("backtest", "run") and run.backtest:
        b = run.backtest
        lines.append(f"backtest: {_n(b.folds)} folds, {len(b.models)} models and baselines")
        if verbose:
            lines.append(f"  models: {', '.join(b.models)}")
            lines.extend(
                f"  horizon {h}: origins {span[0]} to {span[1]}"
                for h, span in sorted(b.origins.items(), key=lambda kv: int(kv[0]))
            )
    if stage in ("train", "run") and run.registered_model:
        promo = run.promotion
        lines.append(
            f"registered model {run.registered_model} version {run.registered_model_version}"
            + (f"; {'promoted' if promo.promoted else 'champion kept'}: {promo.reason}" if promo else "")
        )
    return lines


def timing_line(timings: dict) -> str:
    """``timings: ingest 0.4 s, features 0.2 s, ..., total 157.8 s``."""
    return "timings: " + ", ".join(f"{k} {v} s" for k, v in timings.items())
