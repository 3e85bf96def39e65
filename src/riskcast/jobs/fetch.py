"""The fetch job: one source into its vintage store, with a progress bar and a closing line;
and the list of the vintages a data folder holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from riskcast.config import Config, FetchStep
from riskcast.errors import ConfigError, FetchError
from riskcast.fetch import SOURCES, FetchOutcome, FetchRequest, RetryPolicy, fetch_source, source_root
from riskcast.io.vintages import CURRENT, list_vintages

__all__ = ["run_fetch", "vintage_rows", "check_date", "closing_line", "fetch_step"]


def check_date(value: str | None, key: str) -> str | None:
    """A YYYY-MM-DD date, or a ConfigError naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ConfigError(f"expected a date YYYY-MM-DD, got {value!r}", key=key) from None


def closing_line(source: str, outcome: FetchOutcome) -> str:
    c = outcome.changes
    return (
        f"{source}: {c.new} new, {c.changed} changed, {c.deleted} deleted, {c.total} total "
        f"({'update of ' + outcome.previous if outcome.vintage.manifest.get('incremental') else 'full fetch'}); "
        f"vintage {outcome.vintage.path}"
    )


def run_fetch(
    req: FetchRequest,
    data_dir: str | Path,
    *,
    policy: RetryPolicy = RetryPolicy(),
    console: Console | None = None,
    echo: Callable[[str], None] = print,
) -> FetchOutcome:
    """Fetch one source with a progress bar (pages fetched / expected) and say what changed."""
    console = console or Console(stderr=True)
    if req.source not in SOURCES:
        raise ConfigError(
            f"unknown source {req.source!r} (known: {', '.join(sorted(SOURCES))})", key="SOURCE"
        )
    check_date(req.since, "--since")
    check_date(req.until, "--until")
    columns = (TextColumn(f"{req.source} pages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(req.source, total=None)
        outcome = fetch_source(
            req,
            data_dir,
            policy=policy,
            echo=echo,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    echo(closing_line(req.source, outcome))
    return outcome


def vintage_rows(data_dir: str | Path, source: str | None = None) -> list[dict]:
    """One row per vintage in ``data_dir`` (one source, or all), oldest first."""
    rows = []
    for src in [source] if source else sorted(SOURCES):
        root = source_root(data_dir, src)
        if not root.is_dir():
            continue
        for v, is_current in list_vintages(root):
            m = v.manifest
            rows.append(
                {
                    "source": src,
                    "vintage": v.id,
                    "current": is_current,
                    "fetched_at": m["fetched_at"],
                    "kind": "update" if m.get("incremental") else "full",
                    **{k: m["rows"][k] for k in ("new", "changed", "deleted", "total")},
                    "query": m.get("query"),
                    "dataset_version": m.get("dataset_version"),
                    "sha256": m["sha256"][:12],
                }
            )
    return rows


# --- the monthly job's fetch step -------------------------------------------------------------


def _reads(spec_path: Path | None, root: Path) -> bool:
    """Does an input path name this source's folder (``DATA_DIR/<source>`` or its ``current``)?"""
    if spec_path is None:
        return False
    p = Path(spec_path)
    if p.name == CURRENT:
        p = p.parent
    return p.resolve() == root


def fetch_step(
    step: FetchStep,
    cfg: Config,
    data_dir: Path,
    *,
    record: dict,
    echo: Callable[[str], None] = print,
    policy: RetryPolicy | None = None,
) -> dict[str, Path]:
    """Fetch every source of ``step``; returns the inputs to pin, and fills ``record`` as it goes
    (a source fetched before another fails is recorded too: its ``current`` has moved).

    An input of format ``vintage`` whose path is a fetched source's folder is pinned to the
    vintage just written, so the run reads exactly what this step fetched even if another fetch
    moves ``current`` meanwhile. A fetched source that no input reads is an error: the run would
    otherwise train on other data than it fetched (input paths are read from the working
    directory, ``data_dir`` from the spec's folder).

    Raises:
        CredentialsError, FetchError, ConfigError: as :func:`riskcast.fetch.fetch_source`.
    """
    policy = policy or RetryPolicy(timeout=step.timeout, attempts=step.retries)
    record.update(data_dir=str(data_dir), sources={})
    pins: dict[str, Path] = {}
    for source, s in sorted(step.sources.items()):
        check_date(s.since, f"fetch.sources.{source}.since")
        check_date(s.until, f"fetch.sources.{source}.until")
        root = source_root(data_dir, source).resolve()
        readers = [
            name
            for name, spec in sorted(cfg.inputs.items())
            if spec.format == "vintage" and _reads(spec.path, root)
        ]
        if not readers:
            raise FetchError(
                f"{source} is fetched into {root}, but no input of the run config reads it: give an input "
                f'format = "vintage" and path = "{root}" (input paths are read from the working directory '
                f"{Path.cwd()}), or drop fetch.sources.{source}"
            )
        req = FetchRequest(
            source=source,
            countries=tuple(s.countries or cfg.countries),
            since=s.since,
            until=s.until,
            versions=tuple(s.versions),
            base_url=s.base_url,
            min_rows_ratio=s.min_rows_ratio,
            daily_quota=s.daily_quota,
        )
        outcome = fetch_source(req, data_dir, policy=policy, echo=echo)
        echo(closing_line(source, outcome))
        for name in readers:
            pins[name] = outcome.vintage.path
        record["sources"][source] = {
            **outcome.vintage.summary(),
            "changes": outcome.changes.to_dict(),
            "previous": outcome.previous,
            "read_by_inputs": readers,
        }
    return pins
