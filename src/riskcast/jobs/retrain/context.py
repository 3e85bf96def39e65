"""What every step of the monthly job shares: exit codes, the job's context, its exceptions and signals."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from riskcast.config import Config, RetrainSpec

__all__ = [
    "EXIT_PROMOTED",
    "EXIT_KEPT",
    "EXIT_UNCHANGED",
    "EXIT_VALIDATION",
    "EXIT_INTERNAL",
    "EXIT_LOCKED",
    "EXIT_FETCH",
    "EXIT_CODES",
    "PAUSE_ENV",
    "LOCK_NAME",
    "OWNER_NAME",
    "STEPS",
    "Ctx",
    "Signals",
    "ValidationFailed",
    "FetchFailed",
    "Terminated",
    "now",
    "month_start",
    "beside",
]

EXIT_PROMOTED = (
    0  #: success: the challenger beat the champion and was promoted (or refreshed it: same spec, newer data)
)
EXIT_KEPT = 10  #: success: the champion was kept (the challenger did not beat it)
EXIT_UNCHANGED = 11  #: nothing new: this month was already done with the same data and config
EXIT_VALIDATION = 20  #: the input failed validation: nothing trained, champion kept
EXIT_INTERNAL = 70  #: an internal error (or the job was terminated): champion kept, no month written
EXIT_LOCKED = 75  #: another run holds the lock on this state folder
EXIT_FETCH = 30  #: the fetch step failed (source down, credentials refused, answer refused): nothing trained, champion kept

EXIT_CODES = {
    EXIT_PROMOTED: "success, challenger promoted to champion (or the champion refreshed: its own spec refit on newer data)",
    EXIT_KEPT: "success, champion kept",
    EXIT_UNCHANGED: "nothing new: month already done with the same data and config",
    EXIT_VALIDATION: "input refused by validation; champion kept",
    EXIT_FETCH: "fetch failed (source, credentials or answer refused); nothing trained, champion kept",
    EXIT_INTERNAL: "internal error or terminated; champion kept",
    EXIT_LOCKED: "another run holds the lock",
    2: "bad command line, spec or config",
}

PAUSE_ENV = "RISKCAST_RETRAIN_PAUSE_BEFORE"  # "<step>:<seconds>": a test hook to kill the job mid-way
LOCK_NAME, OWNER_NAME = "retrain.lock", "retrain.lock.json"
STEPS = (
    "fetch",
    "ingest",
    "validate",
    "drift",
    "features",
    "backtest",
    "train",
    "score",
    "report",
    "promote",
)


@dataclass
class Ctx:
    spec_path: Path
    spec: RetrainSpec
    state: Path
    cfg: Config
    echo: Callable[[str], None]
    retrain_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    summary: dict = field(default_factory=dict)
    signals: Signals = field(default_factory=lambda: Signals())


class ValidationFailed(Exception):
    """The input failed a check; ``checks`` lists every check with its result."""

    def __init__(self, checks: list[dict]) -> None:
        self.checks = checks
        super().__init__("; ".join(c["detail"] for c in checks if not c["ok"]))


class FetchFailed(Exception):
    """The fetch step failed: nothing was ingested or trained."""


class Terminated(BaseException):
    """SIGTERM/SIGINT reached the job (a BaseException, so no step swallows it)."""


class Signals:
    """SIGTERM/SIGINT handling: raise :class:`Terminated` at once, except inside :meth:`deferred`
    (the commit), where the signal is remembered and raised when the section ends."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._defer = 0

    def handler(self, signum, frame) -> None:  # noqa: ARG002
        self.received = signal.Signals(signum).name
        if not self._defer:
            raise Terminated(f"signal {self.received}")

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self._defer += 1
        try:
            yield
        finally:
            self._defer -= 1
        if self.received and not self._defer:
            raise Terminated(f"signal {self.received} (after the commit finished)")


def beside(spec_path: Path, value: str | Path) -> Path:
    """``value`` relative to the spec's folder unless absolute."""
    p = Path(value)
    return p if p.is_absolute() else (spec_path.parent / p)


def month_start(m) -> pd.Timestamp:
    return pd.Timestamp(m).to_period("M").to_timestamp()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
