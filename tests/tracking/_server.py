"""A real MLflow tracking server on a throwaway PostgreSQL cluster, for tests that talk HTTP.

Import the fixture into a test module (``from tests.tracking._server import mlflow_server``).
It needs PostgreSQL's ``initdb``/``pg_ctl`` (on ``PATH`` or in Debian's
``/usr/lib/postgresql/<ver>/bin``) and ``psycopg2``; without them the tests skip with the reason.
PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` user
(``runuser``) in a temporary folder it owns. Everything listens on 127.0.0.1 only, on free ports.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["mlflow_server", "TrackingServer", "find_pg_bin", "free_port", "free_ports", "SERVER_ENV"]

#: Environment of the server (and of clients started by tests): no telemetry, no hints.
SERVER_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_AGENT_HINT": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}

_STARTUP_TIMEOUT = 60.0  # a fresh database runs MLflow's migrations first (~10 s here)
_LOG_TAIL = 6000


class TrackingServer(str):
    """The server's URI (``http://127.0.0.1:<port>``), which also knows where its logs are."""

    logs: tuple[Path, ...] = ()

    def log_tail(self, chars: int = _LOG_TAIL) -> str:
        """The end of the MLflow server's and PostgreSQL's logs, to attach to a failure message."""
        return "\n".join(_tail(p, chars) for p in self.logs)


def _tail(path: Path, chars: int = _LOG_TAIL) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"--- {path}: unreadable ({exc})"
    return f"--- {path} (last {chars} characters) ---\n{text[-chars:]}"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now.

    All sockets stay bound until every port is chosen: two separate ``free_port()`` calls can be
    handed the same port (the kernel reuses a port as soon as it is closed), which once gave
    PostgreSQL and the MLflow server the same port in CI.
    """
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: ``PATH`` first, then the newest Debian install."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        # /usr/local/bin/initdb may be a symlink into /usr/lib/postgresql/<ver>/bin; pg_ctl wants
        # its sibling ``postgres`` binary, which it finds next to its own resolved path.
        return Path(pg_ctl).resolve().parent

    def version(p: str) -> tuple[int, ...]:
        ver = Path(p).parent.name
        return tuple(int(x) for x in ver.split(".") if x.isdigit())

    found = [
        p
        for p in glob.glob("/usr/lib/postgresql/*/bin")
        if (Path(p) / "initdb").exists() and (Path(p) / "pg_ctl").exists()
    ]
    return Path(max(found, key=version)) if found else None


def _as_postgres(cmd: list[str]) -> list[str]:
    """Run ``cmd`` as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _run(cmd: list[str], cwd: Path, what: str, logs: list[Path], timeout: float = 60) -> None:
    proc = subprocess.run(_as_postgres(cmd), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        details = "\n".join(_tail(p) for p in logs if p.exists())
        pytest.fail(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\nstdout:\n{proc.stdout[-_LOG_TAIL:]}\n"
            f"stderr:\n{proc.stderr[-_LOG_TAIL:]}\n{details}",
            pytrace=False,
        )


def _skip_reason() -> str | None:
    if find_pg_bin() is None:
        return "PostgreSQL not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin): apt-get install postgresql"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 not installed (the MLflow server needs it for postgresql://): pip install psycopg2-binary"
    if not (Path(sys.executable).parent / "mlflow").exists():
        return f"no mlflow command beside {sys.executable}"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser: cannot start PostgreSQL as the postgres user"
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run PostgreSQL as"
    return None


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the MLflow server exited with code {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the MLflow server was not healthy at {url}/health after {timeout:.0f} s")


def _stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group (uvicorn and its workers), SIGKILL it after ``grace`` seconds."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def mlflow_server() -> Iterator[TrackingServer]:
    """Start PostgreSQL and ``mlflow server`` on it; yields the server URI; stops both afterwards.

    Yields:
        A :class:`TrackingServer`: the URI ``http://127.0.0.1:<port>`` (a ``str``) with
        :meth:`~TrackingServer.log_tail` for failure messages.
    """
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    pg_bin = find_pg_bin()
    assert pg_bin is not None
    # Not pytest's tmp_path: its parents are private (0700) and the postgres user must reach it.
    root = Path(tempfile.mkdtemp(prefix="riskcast-mlflow-pg-"))
    data, sockets, artifacts = root / "pgdata", root / "sockets", root / "artifacts"
    pg_log, server_log = root / "postgresql.log", root / "mlflow-server.log"
    logs = [server_log, pg_log]
    sockets.mkdir()
    artifacts.mkdir()
    if os.geteuid() == 0:
        pg = pwd.getpwnam("postgres")
        for p in (root, sockets):
            os.chown(p, pg.pw_uid, pg.pw_gid)
    pg_port, http_port = free_ports(2)
    pg_started = False
    server: subprocess.Popen | None = None
    log_file = None
    try:
        _run(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            root,
            "initdb",
            logs,
        )
        # A test cluster: durability settings off (fast), TCP on loopback only, sockets in our folder.
        options = (
            f"-p {pg_port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            [
                str(pg_bin / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(pg_log),
                "-o",
                options,
                "-w",
                "-t",
                "30",
                "start",
            ],
            root,
            "pg_ctl start",
            logs,
        )
        pg_started = True

        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1", port=pg_port, user="postgres", dbname="postgres", connect_timeout=10
        )
        try:
            conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
            with conn.cursor() as cur:
                cur.execute("CREATE DATABASE mlflow")
        finally:
            conn.close()

        uri = f"http://127.0.0.1:{http_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_TRACKING_")}
        env.update(SERVER_ENV)
        # No huey job runner (online scoring, trace archival): riskcast needs none, and it would add
        # processes, a /dev/shm folder and seconds of shutdown.
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
        log_file = open(server_log, "wb")  # noqa: SIM115 - closed in finally
        server = subprocess.Popen(
            # The driver is named: SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, not psycopg2.
            [
                str(Path(sys.executable).parent / "mlflow"),
                "server",
                "--backend-store-uri",
                f"postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/mlflow",
                "--artifacts-destination",
                str(artifacts),
                "--host",
                "127.0.0.1",
                "--port",
                str(http_port),
                "--workers",
                "1",
            ],
            cwd=root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # its own process group: teardown stops uvicorn's workers too
        try:
            _wait_healthy(uri, server, _STARTUP_TIMEOUT)
            failed = None
        except RuntimeError as exc:
            failed = str(exc)
        if failed:
            pytest.fail(f"{failed}\n" + "\n".join(_tail(p) for p in logs), pytrace=False)
        result = TrackingServer(uri)
        result.logs = tuple(logs)
        yield result
    finally:
        if server is not None:
            _stop_group(server)
        if log_file is not None:
            log_file.close()
        if pg_started:
            subprocess.run(
                _as_postgres(
                    [str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop"]
                ),
                cwd=root,
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)
