"""One fetch of one source, start to finish: lock, ask, apply, guard, commit a vintage.

The steps are the same for every source; a source client (ACLED, UCDP, coups) only knows how to
ask its API and turn the answer into canonical rows. Nothing is written until the whole answer
is in and checked, and then only through :func:`riskcast.io.vintages.commit_vintage`: a fetch
that fails, is refused or is killed leaves ``current`` where it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd
from filelock import FileLock, Timeout

from riskcast.errors import ConfigError, InputError
from riskcast.fetch import acled, coups, ucdp
from riskcast.fetch.credentials import acled_credentials, ucdp_token
from riskcast.fetch.errors import FetchError, ShrinkRefused
from riskcast.fetch.http import Redactor, RetryPolicy, require_secure_url
from riskcast.fetch.quota import QuotaLedger
from riskcast.fetch.update import Changes, apply_changes, check_shrink
from riskcast.io.vintages import Vintage, commit_vintage, current_vintage, remove_partials

__all__ = ["FetchRequest", "FetchOutcome", "SOURCES", "fetch_source", "source_root"]

#: source -> (table it writes, key columns of a row, default base URL)
SOURCES: dict[str, tuple[str, list[str], str]] = {
    "acled": ("events", ["event_id"], acled.DEFAULT_BASE_URL),
    "ucdp": ("events", ["event_id"], ucdp.DEFAULT_BASE_URL),
    "coups": ("shocks", ["country", "date", "kind"], coups.DEFAULT_BASE_URL),
}
LOCK_NAME = ".fetch.lock"
QUOTA_NAME = "quota.json"

Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class FetchRequest:
    """What to fetch: the source, its filters, where from, and the guards."""

    source: str
    countries: tuple[str, ...] = ("Mali",)
    since: str | None = None  #: first event date (YYYY-MM-DD)
    until: str | None = None  #: last event date (YYYY-MM-DD)
    versions: tuple[str, ...] = ()  #: UCDP GED releases (``25.1``, ``25.0.3``)
    base_url: str | None = None  #: replaces scheme and host; the source's paths are kept
    min_rows_ratio: float = 0.9  #: refuse a table smaller than this share of the current one (same query)
    daily_quota: int = 5000  #: UCDP requests a day, errors included
    force: bool = False  #: accept a table below ``min_rows_ratio``

    def __post_init__(self) -> None:
        if not 0 <= self.min_rows_ratio <= 1:
            raise ConfigError(
                f"expected a share between 0 and 1, got {self.min_rows_ratio}", key="--min-rows-ratio"
            )
        if self.daily_quota < 1:
            raise ConfigError(
                f"expected at least 1 request a day, got {self.daily_quota}", key="--daily-quota"
            )

    def query(self) -> dict:
        """The filters, as recorded in the manifest (what makes two vintages comparable)."""
        q: dict = {"countries": list(self.countries)}
        if self.source != "coups":
            q.update(since=self.since, until=self.until)
        return q


@dataclass
class FetchOutcome:
    vintage: Vintage
    changes: Changes
    previous: str | None
    notes: list[str] = field(default_factory=list)


def source_root(data_dir: str | Path, source: str) -> Path:
    return Path(data_dir) / source


def _riskcast_version() -> str:
    try:
        return version("riskcast")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def _client(
    req: FetchRequest,
    root: Path,
    env: Mapping[str, str] | None,
    policy: RetryPolicy,
    redact: Redactor,
    echo: Callable[[str], None],
):
    base = require_secure_url(req.base_url or SOURCES[req.source][2])
    if req.source == "acled":
        email, password = acled_credentials(env)
        return acled.AcledClient(base, email, password, policy=policy, redact=redact, echo=echo)
    if req.source == "ucdp":
        ledger = QuotaLedger(root / QUOTA_NAME, req.daily_quota, "UCDP")
        return ucdp.UcdpClient(base, ucdp_token(env), ledger=ledger, policy=policy, redact=redact, echo=echo)
    return coups.CoupsClient(base, policy=policy, redact=redact, echo=echo)


def fetch_source(
    req: FetchRequest,
    data_dir: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    policy: RetryPolicy = RetryPolicy(),
    progress: Progress | None = None,
    echo: Callable[[str], None] = lambda m: None,
) -> FetchOutcome:
    """Fetch ``req.source`` into ``DATA_DIR/<source>/<UTC timestamp>/`` and move ``current`` to it.

    Raises:
        ConfigError: unknown source, bad URL (plain http off loopback).
        CredentialsError: missing or refused credentials (nothing written).
        FetchError: the source failed, answered something that does not parse, would exceed its
            quota, or gave far fewer rows than the current vintage (nothing written).
    """
    if req.source not in SOURCES:
        raise FetchError(f"unknown source {req.source!r} (known: {', '.join(sorted(SOURCES))})")
    table_name, key, _ = SOURCES[req.source]
    root = source_root(data_dir, req.source)
    root.mkdir(parents=True, exist_ok=True)
    redact = Redactor()
    started = datetime.now(timezone.utc).replace(microsecond=0)
    try:
        lock = FileLock(root / LOCK_NAME, timeout=0)
        lock.acquire()
    except Timeout:
        raise FetchError(
            f"another fetch of {req.source} into {root} is running (lock {root / LOCK_NAME}); "
            "try again when it has finished"
        ) from None
    try:
        return _fetch_locked(req, root, table_name, key, started, redact, env, policy, progress, echo)
    except (ConfigError, FetchError):  # CredentialsError is a ConfigError: exit 2; FetchError: exit 3
        raise
    except (InputError, OSError, ValueError, TypeError, KeyError) as exc:
        # an answer of an unexpected shape, or a damaged vintage store: say so, never a traceback
        raise FetchError(redact(f"{req.source}: {type(exc).__name__}: {exc}")) from None
    finally:
        lock.release()


def _fetch_locked(
    req: FetchRequest,
    root: Path,
    table_name: str,
    key: list[str],
    started: datetime,
    redact: Redactor,
    env: Mapping[str, str] | None,
    policy: RetryPolicy,
    progress: Progress | None,
    echo: Callable[[str], None],
) -> FetchOutcome:
    """The fetch proper, under the source's lock."""
    stale = remove_partials(root)
    if stale:
        echo(
            f"removed {len(stale)} unfinished vintage folder(s) left by a fetch that died: {', '.join(stale)}"
        )
    client = _client(req, root, env, policy, redact, echo)
    previous = current_vintage(root)
    query = req.query()
    ask = {**query, "versions": list(req.versions)} if req.source == "ucdp" else query
    try:
        fetched = client.fetch(ask, previous, progress=progress)
    except (
        InputError
    ) as exc:  # the source's rows do not read as its format: a bad answer, not bad input of ours
        raise FetchError(
            redact(f"{req.source}: the answer does not read as {req.source} data: {exc}")
        ) from None
    comparable = previous is not None and previous.manifest.get("query") == query
    prev_table = pd.read_parquet(previous.table_path) if comparable else None
    if (
        fetched.incremental and prev_table is None
    ):  # pragma: no cover - clients only update comparable vintages
        raise FetchError(f"{req.source}: an update needs the current vintage of the same query")
    table, changes = apply_changes(prev_table, fetched, key=key)
    check_shrink(
        req.source,
        changes.total,
        previous.manifest["rows"]["total"] if comparable else None,
        req.min_rows_ratio,
        force=req.force,
    )
    if changes.total == 0 and not req.force:  # a misspelt country answers with nothing, like an outage
        raise ShrinkRefused(
            f"{req.source}: the answer holds no rows at all for {query}: check the country names "
            "(as the source spells them) and the dates; --force keeps an empty vintage"
        )
    manifest = {
        "source": req.source,
        "endpoint": fetched.endpoint,
        "query": query,
        "dataset_version": fetched.dataset_version,
        "incremental": fetched.incremental,
        "previous_vintage": previous.id if previous is not None else None,
        "rows": changes.to_dict(),
        "fetched_at": started.isoformat(),
        "finished_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "requests": fetched.requests,
        "pages": fetched.pages,
        "checkpoint": fetched.checkpoint,
        "forced": bool(req.force),
        "min_rows_ratio": req.min_rows_ratio,
        "notes": [redact(n) for n in fetched.notes],
        "riskcast_version": _riskcast_version(),
        "pid": os.getpid(),
    }
    vintage = commit_vintage(root, table, manifest, table_name=table_name, started=started)
    return FetchOutcome(
        vintage=vintage,
        changes=changes,
        previous=previous.id if previous is not None else None,
        notes=manifest["notes"],
    )
