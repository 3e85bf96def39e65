"""The shipped cron and systemd files for the monthly retrain (pipelines/schedule/).

They are checked the way an administrator would meet them: ``systemd-analyze verify`` on the
units (with a deliberately broken copy proving that verify catches errors), the crontab and
the timer's ``OnCalendar=`` read as "06:00 on the 1st of every month", and the very commands
the files contain run against a temporary state folder.
"""

from __future__ import annotations

import calendar
import datetime as dt
import getpass
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskcast.jobs.retrain import EXIT_KEPT, EXIT_PROMOTED, EXIT_UNCHANGED

PROJECT = Path(__file__).resolve().parents[1]
SCHEDULE = PROJECT / "pipelines" / "schedule"
SERVICE = SCHEDULE / "riskcast-retrain.service"
TIMER = SCHEDULE / "riskcast-retrain.timer"
CRONTAB = SCHEDULE / "riskcast-retrain.crontab"
#: Where the files assume the clone lives; tests swap in the real project root.
INSTALL_ROOT = "/opt/riskcast"
#: The cache folder the service points matplotlib and fontconfig at (CacheDirectory=riskcast).
SERVICE_CACHE = "/var/cache/riskcast"
FAST = [
    "--set",
    "model.set=fast",
    "--set",
    "backtest.horizons=[1]",
    "--set",
    "backtest.eval_months=6",
    "--set",
    "backtest.n_boot=20",
    "--set",
    "backtest.ablation=false",
    "--set",
    "target.intensity=[]",
]
_CRON_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\s*=")


def _unit_values(path: Path, section: str, key: str) -> list[str]:
    """Every value of ``key`` in ``[section]`` of a unit file (comments and blank lines skipped)."""
    values, current = [], None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif current == section and "=" in line:
            k, v = line.split("=", 1)
            if k.strip() == key:
                values.append(v.strip())
    return values


def _cron_job_line() -> str:
    """The single job line of the crontab (not a comment, not a ``NAME=value`` setting)."""
    jobs = [
        ln.strip()
        for ln in CRONTAB.read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#") and not _CRON_ENV.match(ln.strip())
    ]
    assert len(jobs) == 1, f"expected one job line in {CRONTAB.name}, got {jobs}"
    return jobs[0]


def _cron_env() -> dict[str, str]:
    """The ``NAME=value`` lines of the crontab, as cron puts them in the job's environment."""
    env = {}
    for ln in CRONTAB.read_text().splitlines():
        if not ln.lstrip().startswith("#") and _CRON_ENV.match(ln.strip()):
            k, v = ln.strip().split("=", 1)
            env[k.strip()] = v.strip().strip("'\"")
    return env


def _expand(field: str, lo: int, hi: int) -> set[int]:
    """The values a cron field stands for: ``*``, ``a``, ``a-b``, ``*/n``, ``a-b/n`` and lists of them."""
    out: set[int] = set()
    for part in field.split(","):
        rng, _, step = part.partition("/")
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a, b = (int(x) for x in rng.split("-"))
        else:
            a = b = int(rng)
        assert lo <= a <= b <= hi, f"cron field {field!r} out of range {lo}-{hi}"
        out.update(range(a, b + 1, int(step) if step else 1))
    return out


def _cron_times(fields: list[str], after: dt.datetime, count: int) -> Iterator[dt.datetime]:
    """The next ``count`` minutes after ``after`` that a crontab schedule fires (slow, obviously right).

    Walks day by day, then minute by minute inside a matching day. Day-of-month and day-of-week
    follow cron's rule: when both are restricted a day matches if either does.
    """
    minute, hour, dom, month, dow = fields
    mins, hours = _expand(minute, 0, 59), _expand(hour, 0, 23)
    doms, months = _expand(dom, 1, 31), _expand(month, 1, 12)
    dows = {d % 7 for d in _expand(dow, 0, 7)}
    both = dom != "*" and dow != "*"
    day = after.replace(hour=0, minute=0, second=0, microsecond=0)
    found = 0
    while found < count:
        d_ok, w_ok = day.day in doms, (day.isoweekday() % 7) in dows
        if day.month in months and ((d_ok or w_ok) if both else (d_ok and w_ok)):
            for h in sorted(hours):
                for m in sorted(mins):
                    t = day.replace(hour=h, minute=m)
                    if t > after and found < count:
                        found += 1
                        yield t
        day += dt.timedelta(days=1)


def _first_of_next_months(after: dt.datetime, count: int) -> list[dt.datetime]:
    """06:00 on the 1st of each month, the ``count`` first strictly after ``after``."""
    t = after.replace(day=1, hour=6, minute=0, second=0, microsecond=0)
    out = []
    while len(out) < count:
        if t > after:
            out.append(t)
        t += dt.timedelta(days=calendar.monthrange(t.year, t.month)[1])
    return out


def _strip_redirections(tokens: list[str]) -> list[str]:
    """Drop ``>> file``, ``>file``, ``2>&1`` and the like from a shell-split command."""
    out, skip = [], False
    for tok in tokens:
        if skip:
            skip = False
        elif re.fullmatch(r"\d*(>>?|<)", tok):
            skip = True  # the target is the next token
        elif not re.fullmatch(r"\d*(>>?|<)\S+", tok):
            out.append(tok)
    return out


def _local_command(command: str) -> list[str]:
    """A command from the files with /opt/riskcast pointing at this checkout, split without a shell."""
    tokens = _strip_redirections(shlex.split(command.replace(INSTALL_ROOT, str(PROJECT))))
    # One plain command: anything a shell would interpret would be lost by running it without one.
    assert not {"|", "||", "&&", ";", "&"} & set(tokens) and not any("`" in t or "$(" in t for t in tokens), (
        tokens
    )
    return tokens


def _exec_start() -> str:
    values = _unit_values(SERVICE, "Service", "ExecStart")
    assert len(values) == 1, values
    return values[0].lstrip(
        "-@:+!"
    )  # systemd's prefixes (ignore failure, argv0, ...) are not part of the command


def _systemd_analyze() -> str:
    exe = shutil.which("systemd-analyze")
    if exe is None:
        pytest.skip(
            "systemd-analyze is not installed (Debian package 'systemd'): "
            "the units cannot be verified nor OnCalendar= evaluated"
        )
    return exe


def _verify(exe: str, folder: Path) -> tuple[int, str]:
    """``systemd-analyze verify`` on the copies in ``folder``: exit code and the lines about our units.

    verify exits 0 on settings it can only ignore (an unknown key, an unparsable value), so the
    lines it prints about these files count as errors too; lines about other units do not.
    """
    proc = subprocess.run(
        [exe, "verify", *(str(p) for p in sorted(folder.glob("riskcast-retrain.*")))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    ours = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "riskcast-retrain" in ln]
    return proc.returncode, "\n".join(ours)


def _local_units(dest: Path, edit_service=lambda text: text) -> Path:
    """Copy the units into ``dest`` as they would be installed on this machine.

    verify checks that ExecStart's program exists, so /opt/riskcast becomes the project root;
    User/Group become the current user (the ``riskcast`` user exists only on a real install).
    """
    user = getpass.getuser()
    text = SERVICE.read_text().replace(INSTALL_ROOT, str(PROJECT))
    text = re.sub(r"(?m)^User=.*$", f"User={user}", text)
    text = re.sub(r"(?m)^Group=.*$", "", text)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / SERVICE.name).write_text(edit_service(text))
    (dest / TIMER.name).write_text(TIMER.read_text())
    return dest


# -- a) the unit files verify -----------------------------------------------------------------


def test_units_verify_clean(tmp_path: Path) -> None:
    exe = _systemd_analyze()
    if not (PROJECT / ".venv" / "bin" / "riskcast").exists():
        pytest.skip(
            "no .venv/bin/riskcast (run `make setup`): verify would reject the missing ExecStart program"
        )
    code, ours = _verify(exe, _local_units(tmp_path / "units"))
    assert code == 0 and not ours, f"systemd-analyze verify exit {code}:\n{ours}"


@pytest.mark.parametrize(
    ("edit", "expect"),
    [
        # a hard error: verify exits non-zero
        (lambda t: re.sub(r"(?m)^ExecStart=\S+", "ExecStart=/nonexistent/riskcast", t), "not executable"),
        # a soft error: verify exits 0 but names the line; the test must still catch it
        (lambda t: t.replace("NoNewPrivileges=", "NoNewPrivilege="), "Unknown key"),
        (lambda t: t.replace("TimeoutStartSec=4h", "TimeoutStartSec=4 fortnights"), "TimeoutStartSec"),
    ],
    ids=["missing-program", "misspelt-key", "bad-value"],
)
def test_units_verify_catches_a_broken_copy(tmp_path: Path, edit, expect: str) -> None:
    exe = _systemd_analyze()
    folder = _local_units(tmp_path / "broken", edit)
    assert (
        folder.joinpath(SERVICE.name).read_text()
        != _local_units(tmp_path / "good").joinpath(SERVICE.name).read_text()
    )
    code, ours = _verify(exe, folder)
    assert code != 0 or ours, (
        "verify accepted a deliberately broken unit: the clean check above proves nothing"
    )
    assert expect in ours


def test_service_settings() -> None:
    """The settings that make a oneshot job behave, read from the file (no systemd needed)."""
    get = lambda key: _unit_values(SERVICE, "Service", key)  # noqa: E731
    assert get("Type") == ["oneshot"]
    assert get("User") == ["riskcast"] and get("WorkingDirectory") == [INSTALL_ROOT]
    assert _exec_start() == f"{INSTALL_ROOT}/.venv/bin/riskcast retrain {INSTALL_ROOT}/pipelines/monthly.toml"
    success = {int(c) for v in get("SuccessExitStatus") for c in v.split()}
    assert success == {EXIT_KEPT, EXIT_UNCHANGED}  # 0 is always a success; the failures must stay failures
    env = dict(kv.split("=", 1) for v in get("Environment") for kv in shlex.split(v))
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"
    assert get("TimeoutStartSec") == ["4h"]
    assert (
        get("NoNewPrivileges") == ["yes"]
        and get("PrivateTmp") == ["yes"]
        and get("ProtectSystem") == ["full"]
    )
    # the state dir of pipelines/monthly.toml ("../out/monthly" beside the spec)
    assert get("ReadWritePaths") == [f"-{INSTALL_ROOT}/out/monthly"]
    assert _unit_values(TIMER, "Timer", "Persistent") == ["true"]
    assert _unit_values(TIMER, "Install", "WantedBy") == ["timers.target"]


# -- b) the schedules mean 06:00 on the 1st ----------------------------------------------------


def test_crontab_schedule() -> None:
    fields = _cron_job_line().split(None, 5)
    assert len(fields) == 6, "a user crontab line is 5 time fields and a command (no user field)"
    assert "%" not in fields[5], "cron turns an unescaped % in the command into a newline"
    base = dt.datetime(2025, 1, 15, 12, 0)
    assert list(_cron_times(fields[:5], base, 14)) == _first_of_next_months(base, 14)
    base = dt.datetime(2025, 3, 1, 6, 0)  # right on a firing: the next is a month later
    assert next(_cron_times(fields[:5], base, 1)) == dt.datetime(2025, 4, 1, 6, 0)


def test_cron_oracle_sanity() -> None:
    """The hand-written cron reader against schedules whose answers are known."""
    base = dt.datetime(2025, 1, 1, 0, 0)  # a Wednesday
    assert list(_cron_times(["*/15", "*", "*", "*", "*"], base, 3)) == [
        dt.datetime(2025, 1, 1, 0, 15),
        dt.datetime(2025, 1, 1, 0, 30),
        dt.datetime(2025, 1, 1, 0, 45),
    ]
    assert next(_cron_times(["0", "6", "*", "*", "1"], base, 1)) == dt.datetime(2025, 1, 6, 6, 0)  # a Monday
    # both day fields restricted: either matches (the 1st, or any Monday)
    assert next(_cron_times(["0", "6", "1", "*", "1"], dt.datetime(2025, 1, 2), 1)) == dt.datetime(
        2025, 1, 6, 6, 0
    )
    assert next(_cron_times(["0", "6", "31", "*", "*"], dt.datetime(2025, 2, 1), 1)) == dt.datetime(
        2025, 3, 31, 6, 0
    )


def _calendar(exe: str, spec: str, *extra: str) -> list[dt.datetime]:
    proc = subprocess.run(
        [exe, "calendar", *extra, spec],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TZ": "UTC", "LC_ALL": "C"},
    )
    assert proc.returncode == 0, proc.stderr
    stamps = re.findall(r"(?:Next elapse|Iter\. #\d+):\s+\w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", proc.stdout)
    return [dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S") for s in stamps]


def test_timer_calendar() -> None:
    exe = _systemd_analyze()
    (spec,) = _unit_values(TIMER, "Timer", "OnCalendar")
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    got = _calendar(exe, spec, "--iterations=13")
    assert got == _first_of_next_months(now, 13), f"{spec!r}: {got}"
    assert (
        got[0] == _first_of_next_months(now, 1)[0]
    )  # the 1st of next month (or today if before 06:00 on the 1st)
    # a fixed base, where the tool supports it (systemd >= 252): mid-month and right after a firing
    help_text = subprocess.run([exe, "calendar", "--help"], capture_output=True, text=True, timeout=60).stdout
    if "--base-time" in help_text:
        assert _calendar(exe, spec, "--base-time=2025-12-15 12:00:00 UTC") == [dt.datetime(2026, 1, 1, 6, 0)]
        assert _calendar(exe, spec, "--base-time=2025-02-01 06:00:00 UTC") == [dt.datetime(2025, 3, 1, 6, 0)]


def test_cron_and_systemd_run_the_same_command() -> None:
    assert _local_command(_cron_job_line().split(None, 5)[5]) == _local_command(_exec_start())
    assert _cron_env().get("MLFLOW_DISABLE_TELEMETRY") == "true"


# -- c) the commands in the files work ---------------------------------------------------------


def _retrain_available() -> None:
    exe = PROJECT / ".venv" / "bin" / "riskcast"
    if not exe.exists():
        pytest.skip(f"{exe} is missing (run `make setup`)")
    proc = subprocess.run([str(exe), "retrain", "--help"], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.skip(
            f"`riskcast retrain --help` failed (exit {proc.returncode}): the retrain command is not there yet"
        )


def _service_env(cache: Path) -> dict[str, str]:
    """This environment plus the service's Environment= lines (its cache folder moved to ``cache``)."""
    env = {**os.environ, "COLUMNS": "300"}
    for value in _unit_values(SERVICE, "Service", "Environment"):
        for kv in shlex.split(value):
            k, v = kv.split("=", 1)
            env[k] = v.replace(SERVICE_CACHE, str(cache))
    return env


def test_scheduled_commands_run(tmp_path: Path) -> None:
    _retrain_available()
    state = tmp_path / "state"
    # as systemd runs it: in WorkingDirectory, with the unit's environment
    service_cmd = _local_command(_exec_start()) + ["--state", str(state), *FAST]
    (workdir,) = _unit_values(SERVICE, "Service", "WorkingDirectory")
    first = subprocess.run(
        service_cmd,
        cwd=workdir.replace(INSTALL_ROOT, str(PROJECT)),
        env=_service_env(tmp_path / "cache"),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert first.returncode == EXIT_PROMOTED, f"exit {first.returncode}\n{first.stdout}\n{first.stderr}"
    summary = json.loads((state / "summary.json").read_text())
    assert summary["status"] == "promoted" and summary["exit_code"] == EXIT_PROMOTED
    assert (state / "months" / summary["as_of"] / "report.html").is_file()

    # as cron runs it: from the user's home (here an empty folder), with the crontab's settings
    home = tmp_path / "home"
    home.mkdir()
    cron_cmd = _local_command(_cron_job_line().split(None, 5)[5]) + ["--state", str(state), *FAST]
    second = subprocess.run(
        cron_cmd,
        cwd=home,
        env={**os.environ, **_cron_env(), "HOME": str(home), "COLUMNS": "300"},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert second.returncode == EXIT_UNCHANGED, f"exit {second.returncode}\n{second.stdout}\n{second.stderr}"
    again = json.loads((state / "summary.json").read_text())
    assert again["status"] == "unchanged" and again["as_of"] == summary["as_of"]
