"""riskcast against a real MLflow tracking server on PostgreSQL (HTTP, proxied artifacts).

The server (``mlflow_server``, in ``_server.py``) is shared by the module; each test uses its
own experiment and registered model so the tests do not see each other's champions.
Skips with the reason when PostgreSQL or psycopg2 is not installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tests.tracking._server import SERVER_ENV, TrackingServer, mlflow_server  # noqa: F401 - the fixture

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
TERMINAL = {"FINISHED", "FAILED", "KILLED"}


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MLFLOW_TRACKING_") and k != "RISKCAST_RETRAIN_PAUSE_BEFORE"
    }
    return {**env, **SERVER_ENV, "COLUMNS": "300", **extra}


def _tracking(server: str, name: str) -> list[str]:
    return [
        "--set",
        f'tracking.uri="{server}"',
        "--set",
        f'tracking.experiment="{name}"',
        "--set",
        f'tracking.registered_model="{name}"',
    ]


def _riskcast(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "riskcast.cli", *args],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env=_env(**env),
        timeout=timeout,
    )


def _explain(code: int, out: str, err: str, server: TrackingServer) -> str:
    """A failed command's exit code, output and the server's log tail, for an assertion message."""
    return f"exit {code}\nstdout:\n{out[-4000:]}\nstderr:\n{err[-4000:]}\n{server.log_tail()}"


def _client(server: str):
    from mlflow import MlflowClient

    from riskcast.tracking.offline import disable_network

    disable_network()
    return MlflowClient(tracking_uri=server, registry_uri=server)


def _all_runs(client, experiment: str) -> list:
    from mlflow.entities import ViewType

    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"experiment {experiment!r} is not on the server"
    return client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=5000)


def _champion(client, name: str) -> str:
    """The version holding ``champion``; asserts exactly one version holds it and that it exists."""
    aliases = client.get_registered_model(name).aliases  # {alias: version}
    assert "champion" in aliases, f"{name} has no champion alias (aliases: {aliases})"
    # search results carry no aliases over REST: ask for every version itself
    versions = [
        client.get_model_version(name, v.version) for v in client.search_model_versions(f"name = '{name}'")
    ]
    holders = [str(v.version) for v in versions if "champion" in (v.aliases or [])]
    assert holders == [str(aliases["champion"])], (
        f"versions of {name} holding champion: {holders}, alias says {aliases}"
    )
    version = client.get_model_version_by_alias(name, "champion")
    assert version.status == "READY" and str(version.version) == holders[0]
    return holders[0]


# --- riskcast run ---------------------------------------------------------------------------


def test_run_logs_and_registers_on_the_server(mlflow_server, tmp_path):
    name = "riskcast-server-run"
    proc = _riskcast(
        "run", "pipelines/demo.toml", "--out", str(tmp_path / "run"), *FAST, *_tracking(mlflow_server, name)
    )
    assert proc.returncode == 0, _explain(proc.returncode, proc.stdout, proc.stderr, mlflow_server)
    client = _client(mlflow_server)
    _champion(client, name)
    runs = _all_runs(client, name)
    assert runs, "riskcast run logged no run on the server"
    assert {r.info.status for r in runs} == {"FINISHED"}, [(r.info.run_name, r.info.status) for r in runs]
    # artifacts went through the server's proxy, not to a local path
    assert all(r.info.artifact_uri.startswith("mlflow-artifacts:") for r in runs), {
        r.info.artifact_uri for r in runs
    }
    assert not (tmp_path / "run" / "mlflow.db").exists()


# --- riskcast retrain -----------------------------------------------------------------------


def _has_retrain() -> bool:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "riskcast.cli", "retrain", "--help"],
            capture_output=True,
            cwd=PROJECT,
            env=_env(),
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return False
    return proc.returncode == 0


class _Jobs:
    """Background ``riskcast retrain`` processes, each in its own process group."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.procs = tmp, []

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        n = len(self.procs)
        out, err = open(self.tmp / f"job{n}.out", "w+"), open(self.tmp / f"job{n}.err", "w+")  # noqa: SIM115
        p = subprocess.Popen(
            [sys.executable, "-m", "riskcast.cli", "retrain", *args],
            cwd=PROJECT,
            env=_env(**env),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        p.files = (out, err)  # type: ignore[attr-defined]
        self.procs.append(p)
        return p

    @staticmethod
    def result(p: subprocess.Popen, timeout: float = 240) -> tuple[int, str, str]:
        code = p.wait(timeout=timeout)
        texts = []
        for f in p.files:  # type: ignore[attr-defined]
            f.flush()
            f.seek(0)
            texts.append(f.read())
        return code, texts[0], texts[1]

    def kill_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=30)
            for f in p.files:  # type: ignore[attr-defined]
                f.close()


@contextmanager
def _jobs(tmp: Path) -> Iterator[_Jobs]:
    jobs = _Jobs(tmp)
    try:
        yield jobs
    finally:
        jobs.kill_all()


def _wait_for(what: str, check, timeout: float, proc: subprocess.Popen | None = None):
    """Poll ``check()`` until it returns something truthy; fails after ``timeout`` s or if ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the job exited ({proc.returncode}) before {what}")
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def _owner(state: Path) -> dict:
    try:
        return json.loads((state / "retrain.lock.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _run_status(client, run_id: str) -> str | None:
    try:
        return client.get_run(run_id).info.status
    except Exception:  # noqa: BLE001 - not there yet
        return None


def test_retrain_on_the_server_lock_kill_and_recover(mlflow_server, tmp_path):
    if not _has_retrain():
        pytest.skip("`riskcast retrain --help` fails: the retrain command is not there yet")
    name = "riskcast-server-retrain"
    state = tmp_path / "state"
    common = ["pipelines/monthly.toml", "--state", str(state), *FAST, *_tracking(mlflow_server, name)]
    client = _client(mlflow_server)

    with _jobs(tmp_path) as jobs:
        # 1. two runs for 2024-06 at once; whichever takes the lock pauses before the backtest,
        #    so the other finds it held (75) - or, if it is very late, the month done (11).
        a = jobs.start(*common, "--as-of", "2024-06", RISKCAST_RETRAIN_PAUSE_BEFORE="backtest:20")
        b = jobs.start(*common, "--as-of", "2024-06", RISKCAST_RETRAIN_PAUSE_BEFORE="backtest:20")
        # and deterministically: a third started while the holder is known to be paused mid-run
        holder = _wait_for(
            "a 2024-06 run holding the lock with its parent run",
            lambda: (o := _owner(state)).get("parent_run_id") and o,
            120,
        )
        c = jobs.start(*common, "--as-of", "2024-06")
        code_c, out_c, err_c = jobs.result(c)
        assert code_c == 75, _explain(code_c, out_c, err_c, mlflow_server)
        assert f"pid {holder['pid']}" in err_c + out_c, (
            f"the lock message does not name the holder {holder}:\n{err_c}\n{out_c}"
        )
        assert holder["pid"] in (a.pid, b.pid)
        results = {p.pid: jobs.result(p) for p in (a, b)}
        codes = sorted(r[0] for r in results.values())
        assert codes in ([0, 75], [0, 11]), "\n".join(_explain(*r, mlflow_server) for r in results.values())
        assert results[holder["pid"]][0] == 0
        loser_code, loser_out, loser_err = next(r for pid, r in results.items() if pid != holder["pid"])
        if loser_code == 75:
            assert f"pid {holder['pid']}" in loser_err + loser_out, loser_err
        first_champion = _champion(client, name)

        # 2. a run for 2024-07 killed (SIGKILL, the whole group) while paused before training
        k = jobs.start(*common, "--as-of", "2024-07", RISKCAST_RETRAIN_PAUSE_BEFORE="train:60")
        killed = _wait_for(
            "the 2024-07 run to reach the train step",
            lambda: (
                (o := _owner(state)).get("as_of") == "2024-07"
                and o.get("parent_run_id")
                and _backtest_done(state, o)
                and o
            ),
            150,
            proc=k,
        )
        assert killed["pid"] == k.pid
        assert _run_status(client, killed["parent_run_id"]) == "RUNNING"
        time.sleep(1.0)  # inside the 60 s pause
        os.killpg(k.pid, signal.SIGKILL)
        assert k.wait(timeout=30) == -signal.SIGKILL
        _remove_shm_leftovers(k.pid)
        assert _champion(client, name) == first_champion  # the kill moved nothing
        assert not (state / "months" / "2024-07").exists()

        # 3. the next run clears the stale lock, marks the dead runs KILLED and does the month
        code, out, err = jobs.result(jobs.start(*common, "--as-of", "2024-07"))
        assert code in (0, 10), _explain(code, out, err, mlflow_server)
        assert "stale lock" in err and f"pid {k.pid}" in err, err

    summary = json.loads((state / "summary.json").read_text())
    assert summary["as_of"] == "2024-07" and summary["exit_code"] == code
    assert summary["stale_lock_cleared"]["owner"]["pid"] == k.pid
    _champion(client, name)
    runs = _all_runs(client, name)
    left = [(r.info.run_name, r.info.status) for r in runs if r.info.status not in TERMINAL]
    assert not left, f"runs left unfinished on the server: {left}"
    assert client.get_run(killed["parent_run_id"]).info.status == "KILLED"
    dead = [r for r in runs if r.data.tags.get("riskcast.retrain_id") == killed["retrain_id"]]
    assert dead and {r.info.status for r in dead} <= {"KILLED", "FINISHED"}, [
        (r.info.run_name, r.info.status) for r in dead
    ]
    months = state / "months"
    assert sorted(p.name for p in months.iterdir()) == ["2024-06", "2024-07"]
    for m in ("2024-06", "2024-07"):
        for f in ("scores.csv", "report.html", "summary.json"):
            assert (months / m / f).is_file(), f"{m}/{f} missing"
        assert json.loads((months / m / "summary.json").read_text())["as_of"] == m
    assert not list((state / "work").glob(f"*{killed['retrain_id']}*")), (
        "the killed run's work folder is still there"
    )
    assert not (state / "retrain.lock.json").exists()
    assert not (state / "mlflow.db").exists(), (
        "with tracking.uri set, nothing may go to the state's SQLite store"
    )


def _remove_shm_leftovers(pid: int) -> None:
    """Delete the joblib/loky semaphores and memmap folders a SIGKILLed process leaves in /dev/shm."""
    for p in [
        *Path("/dev/shm").glob(f"sem.loky-{pid}-*"),
        *Path("/dev/shm").glob(f"joblib_memmapping_folder_{pid}_*"),
    ]:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def _backtest_done(state: Path, owner: dict) -> bool:
    """The run's work folder records the backtest's MLflow run (its last act): the job is in its train pause."""
    try:
        run = json.loads(
            (state / "work" / f"{owner['as_of']}-{owner['retrain_id']}" / "run.json").read_text()
        )
    except (OSError, json.JSONDecodeError):
        return False
    return bool(run.get("backtest_run_id"))
