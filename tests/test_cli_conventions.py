"""CLI conventions: the --out check, --version, python -m riskcast, completion, --quiet/--verbose,
per-input row counts, --out defaults named after the config, help texts in plain words."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version as package_version
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from riskcast import cli_out
from riskcast.cli import app
from riskcast.cli_out import default_out, plain, stage_lines
from riskcast.records import RunRecord
from tests.conftest import PROJECT

FIXTURE = PROJECT / "tests" / "fixtures" / "acled_hdx_sample.csv"
DEMO = str(PROJECT / "pipelines" / "demo.toml")
WIDE = {"COLUMNS": "300", "TERMINAL_WIDTH": "300"}


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), prog_name="riskcast", env=WIDE)


def one_line(text: str) -> str:
    return " ".join(text.split())


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*"))


def small_config(folder: Path, name: str = "small") -> Path:
    """The ACLED HDX sample (5 events, Mali) through ingest and features in a second or two."""
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"{name}.toml"
    p.write_text(f"""
name = "conventions"
countries = ["Mali"]
[inputs.acled]
kind = "events"
format = "acled_hdx"
path = "{FIXTURE.as_posix()}"
[panel]
start = "2018-01"
""")
    return p


# --- 1. --out is checked before any work -------------------------------------------------------------

#: every command that takes --out, with the arguments it needs besides --out
OUT_COMMANDS = {
    "demo": [],
    "run": [DEMO],
    "ingest": [DEMO],
    "features": [DEMO],
    "backtest": [DEMO],
    "train": [DEMO],
    "score": [DEMO],
    "report": [DEMO],
    "plot": ["--unit", "ML07"],
    "fetch": ["acled"],
}


@pytest.mark.parametrize("command", sorted(OUT_COMMANDS))
def test_out_naming_an_existing_file_is_refused(tmp_path, command):
    target = tmp_path / "results.txt"
    target.write_text("keep me\n")
    r = invoke(command, *OUT_COMMANDS[command], "--out", str(target))
    assert r.exit_code == 2, r.output
    assert f"error: --out {target} is a file, not a folder" in one_line(r.stderr)
    assert "Traceback" not in r.output
    assert target.read_text() == "keep me\n" and files_under(tmp_path) == [target]


@pytest.mark.parametrize("command", ["run", "demo", "ingest", "score", "fetch"])
def test_out_under_a_file_is_refused(tmp_path, command):
    blocker = tmp_path / "results.txt"
    blocker.write_text("keep me\n")
    target = blocker / "sub" / "dir"
    r = invoke(command, *OUT_COMMANDS[command], "--out", str(target))
    assert r.exit_code == 2, r.output
    assert f"error: --out {target} cannot be created: {blocker} is a file, not a folder" in one_line(r.stderr)
    assert files_under(tmp_path) == [blocker]


def test_fetch_list_checks_out_without_needing_to_write(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("")
    r = invoke("fetch", "--list", "--out", str(blocker / "x"))
    assert r.exit_code == 2 and f"{blocker} is a file, not a folder" in one_line(r.stderr)
    r = invoke("fetch", "--list", "--out", str(tmp_path / "nothing-yet"))
    assert r.exit_code == 0 and "no vintages in" in r.stdout and not (tmp_path / "nothing-yet").exists()


def test_fetch_version_option_is_still_the_ucdp_release(tmp_path):
    """The global --version does not shadow fetch's own --version (a UCDP release)."""
    blocker = tmp_path / "f"
    blocker.write_text("")
    r = invoke("fetch", "ucdp", "--version", "25.1", "--out", str(blocker))
    assert r.exit_code == 2 and "is a file, not a folder" in r.stderr and "riskcast 0." not in r.stdout


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root writes into a 0o555 folder anyway; the next test covers the refusal as root",
)
def test_out_in_a_read_only_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        for target in (ro, ro / "new"):
            r = invoke("run", DEMO, "--out", str(target))
            assert r.exit_code == 2, r.output
            assert (
                f"error: --out {target} is not writable" in one_line(r.stderr)
                and "permission denied" in r.stderr
            )
            assert files_under(ro) == []
    finally:
        ro.chmod(0o755)


def test_out_where_no_file_can_be_created_is_refused(tmp_path, monkeypatch):
    """The check creates a real file (os.access is wrong for root, ACLs, read-only mounts): when
    that is refused, so is --out, before the config is even read."""

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(kwargs.get("dir")))

    monkeypatch.setattr(cli_out.tempfile, "mkstemp", refuse)
    target = tmp_path / "out"
    r = invoke("ingest", str(small_config(tmp_path / "cfg")), "--out", str(target))
    assert r.exit_code == 2, r.output
    assert (
        f"error: --out {target} is not writable (cannot create a file in {tmp_path}): permission denied"
        in one_line(r.stderr)
    )
    assert not target.exists()


def test_the_write_check_leaves_nothing_behind(tmp_path):
    out = tmp_path / "out"
    r = invoke("ingest", str(small_config(tmp_path / "cfg")), "--out", str(out))
    assert r.exit_code == 0, r.output
    assert not [p for p in files_under(tmp_path) if ".riskcast-write-check-" in p.name]


# --- 2-4. --version, python -m riskcast, shell completion ---------------------------------------------


def test_version():
    r = invoke("--version")
    assert r.exit_code == 0 and r.stdout == f"riskcast {package_version('riskcast')}\n"


def _python_m(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "riskcast", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={**os.environ, **WIDE, **env},
        timeout=300,
    )


def test_python_m_riskcast():
    r = _python_m("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"riskcast {package_version('riskcast')}", r.stderr
    r = _python_m("formats")
    assert r.returncode == 0 and "acled_hdx" in r.stdout
    r = _python_m("--help")
    assert r.returncode == 0 and "Usage: riskcast " in r.stdout


def test_completion_is_offered():
    r = invoke("--help")
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout
    # typer's switch for scripts without a shell: the shell is then named instead of detected
    r = _python_m("--show-completion", "bash", _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert r.returncode == 0, r.stderr
    assert (
        "_RISKCAST_COMPLETE=complete_bash" in r.stdout
        and "complete -o default -F _riskcast_completion riskcast" in r.stdout
    )
    # what the installed bash function asks the program: it answers with the matching words
    r = _python_m(_RISKCAST_COMPLETE="complete_bash", COMP_WORDS="riskcast ret", COMP_CWORD="1")
    assert r.returncode == 0 and r.stdout.split() == ["retrain"], (r.stdout, r.stderr)
    r = _python_m(_RISKCAST_COMPLETE="complete_bash", COMP_WORDS="riskcast run --ou", COMP_CWORD="2")
    assert r.stdout.split() == ["--out"]


def test_the_command_line_loads_without_the_heavy_libraries():
    """--help and every TAB of shell completion load riskcast.cli: it must not pull in the science
    stack (seconds to import); each command imports its job when it runs."""
    heavy = ["pandas", "numpy", "sklearn", "scipy", "mlflow", "lightgbm", "pydantic", "matplotlib", "dask"]
    code = (
        f"import sys, riskcast.cli; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r})))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "[]", (r.stdout, r.stderr)


def test_commands_are_listed_in_the_order_of_the_work():
    assert list(typer.main.get_command(app).commands) == [
        *("demo", "run", "retrain", "fetch"),
        *("ingest", "features", "backtest", "train", "report", "score"),
        *("plot", "model-list", "formats", "feature-list", "config-schema", "synth"),
    ]


# --- 5-6. --quiet / --verbose, rows read/kept/dropped per input ---------------------------------------


def _input_line(out: Path, name: str = "acled") -> str:
    info = json.loads((out / "ingest.json").read_text())["inputs"][name]
    line = f"{name}: {info['rows_read']:,} rows read, {info['rows_kept']:,} kept, {info['rows_dropped']:,} dropped"
    if info["dropped"]:
        line += " (" + "; ".join(f"{k}: {v:,}" for k, v in sorted(info["dropped"].items())) + ")"
    return line


def test_ingest_prints_one_line_per_input(tmp_path):
    out = tmp_path / "out"
    r = invoke("ingest", str(small_config(tmp_path)), "--out", str(out))
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert _input_line(out) in lines and f"[ingest] done in {out}" in lines
    assert "rows read" in _input_line(out) and r.stdout == ""


def test_features_prints_the_panel_it_built(tmp_path):
    cfg, out = small_config(tmp_path), tmp_path / "out"
    assert invoke("ingest", str(cfg), "--out", str(out)).exit_code == 0
    r = invoke("features", str(cfg), "--out", str(out))
    assert r.exit_code == 0, r.output
    panel = json.loads((out / "run.json").read_text())["panel"]
    assert (
        f"panel: {panel['units']} units x {panel['months']} months ({panel['first_month']} to {panel['last_month']}), "
        f"{len(panel['features'])} features"
    ) in r.stderr.splitlines()


def test_quiet_says_nothing_but_still_works(tmp_path):
    out = tmp_path / "out"
    r = invoke("--quiet", "ingest", str(small_config(tmp_path)), "--out", str(out))
    assert r.exit_code == 0 and r.stderr == "" and r.stdout == ""
    assert (out / "ingest.json").is_file()


def test_quiet_still_prints_errors(tmp_path):
    r = invoke("-q", "run", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "out"))
    assert r.exit_code == 2 and "error:" in r.stderr and "missing.toml" in r.stderr


def test_verbose_adds_files_and_timings(tmp_path):
    out = tmp_path / "out"
    r = invoke("--verbose", "ingest", str(small_config(tmp_path)), "--out", str(out))
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert _input_line(out) in lines
    assert f"  events from {FIXTURE} (format acled_hdx)" in lines
    assert any(re.fullmatch(r"\[ingest\] took \d+\.\d\d s", ln) for ln in lines), lines


def test_quiet_and_verbose_together_is_a_usage_error():
    r = invoke("--quiet", "--verbose", "formats")
    assert r.exit_code == 2 and "use one of --quiet and --verbose, not both" in one_line(r.stderr)


def test_stage_lines_of_a_whole_run():
    run = {
        "inputs": {
            "acled": {
                "rows_read": 1349,
                "rows_kept": 1300,
                "rows_dropped": 49,
                "table": "events",
                "dropped": {"country not in the run": 40, "duplicate event id": 9},
                "file": "a.csv",
                "format": "acled_hdx",
            },
            "shocks": {"rows_read": 85, "rows_kept": 85, "rows_dropped": 0, "dropped": {}},
        },
        "panel": {
            "units": 10,
            "months": 156,
            "first_month": "2012-01",
            "last_month": "2024-12",
            "features": ["a", "b"],
            "events_not_in_panel": {"before the panel start": 3, "after the panel end": 0},
        },
        "backtest": {
            "folds": 144,
            "models": ["climatology", "logistic"],
            "origins": {"1": ["2014-01", "2024-11"]},
            "baselines": ["climatology"],
        },
        "registered_model": "riskcast-demo",
        "registered_model_version": "2",
        "promotion": {"promoted": False, "reason": "brier not better"},
    }
    run = RunRecord.model_validate(run)
    assert stage_lines("run", run) == [
        "acled: 1,349 rows read, 1,300 kept, 49 dropped (country not in the run: 40; duplicate event id: 9)",
        "shocks: 85 rows read, 85 kept, 0 dropped",
        "panel: 10 units x 156 months (2012-01 to 2024-12), 2 features",
        "events before the panel start: 3",
        "backtest: 144 folds, 2 models and baselines",
        "registered model riskcast-demo version 2; champion kept: brier not better",
    ]
    verbose = stage_lines("run", run, verbose=True)
    assert "  events from a.csv (format acled_hdx)" in verbose and "events after the panel end: 0" in verbose
    assert stage_lines("ingest", run) == stage_lines("run", run)[:2]


# --- 7. --out defaults to out/<config file name> ------------------------------------------------------


def test_out_defaults_to_a_folder_named_after_the_config(tmp_path, monkeypatch):
    cfg = small_config(tmp_path / "configs", name="mali_small")
    monkeypatch.chdir(tmp_path)
    r = invoke("ingest", str(cfg))
    assert r.exit_code == 0, r.output
    assert (tmp_path / "out" / "mali_small" / "ingest.json").is_file()
    assert default_out(Path("examples/acled_mali.toml")) == Path("out/acled_mali") and default_out(
        None
    ) == Path("out/demo")
    for command in ("run", "ingest", "features", "backtest", "train", "score", "report"):
        help_text = one_line(invoke(command, "--help").stdout)
        assert "output folder (default: out/ and the config's file name without .toml)" in help_text, command
    assert "[default: out/demo]" in one_line(invoke("demo", "--help").stdout)
    r = invoke("plot", "--unit", "ML07")  # a run's folder cannot be guessed without its config
    assert r.exit_code == 2 and "Missing option '--out'" in r.stderr


# --- 8. help texts in plain words ---------------------------------------------------------------------

#: reStructuredText (``x``, :func:`x`, `x`) and rich markup tags that would swallow text ([fetch])
MARKUP = re.compile(r"`|:[a-z]+:`|\[/?[a-z#@][^\]]*\]")


def _commands():
    root = typer.main.get_command(app)
    return [(None, root), *sorted(root.commands.items())]


@pytest.mark.parametrize("name,command", _commands(), ids=lambda x: x if isinstance(x, str) else "")
def test_help_texts_are_plain_words(name, command):
    texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
    for text in texts:
        assert not MARKUP.search(text), (name, text)
    rendered = invoke(*([name] if name else []), "--help")
    assert rendered.exit_code == 0, rendered.output
    assert "`" not in rendered.stdout
    # every word of the description reaches the screen (nothing taken as markup)
    assert one_line(command.help or "") in one_line(rendered.stdout), name


def test_listings_drop_restructuredtext():
    assert (
        plain("one row per ``event_id_cnty``, see :func:`write_canonical` and `current`")
        == "one row per event_id_cnty, see write_canonical and current"
    )
    for args in (["formats"], ["model-list"], ["feature-list"]):
        r = invoke(*args)
        assert r.exit_code == 0 and "`" not in r.stdout, args


def test_quiet_silences_mlflow_lines_and_normal_restores_them(capsys):
    from mlflow.utils.logging_utils import eprint

    try:
        cli_out.ui.set_level(cli_out.QUIET)
        cli_out.ui.sync_mlflow()
        eprint("Successfully registered model 'x'.")
        assert capsys.readouterr().err == ""
    finally:
        cli_out.ui.set_level(cli_out.NORMAL)
        cli_out.ui.sync_mlflow()
    eprint("Created version '1' of model 'x'.")
    assert "Created version" in capsys.readouterr().err
