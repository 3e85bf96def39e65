"""Fetched data on disk: one immutable folder per fetch (a *vintage*) and a ``current`` pointer.

``DATA_DIR/<source>/<UTC timestamp>/`` holds the canonical table (``events.parquet`` or
``shocks.parquet``) and ``manifest.json`` (source, endpoint, query, dataset version, rows new /
changed / deleted / total, the table's sha256, when it was fetched, riskcast's version).
``DATA_DIR/<source>/current`` is a symbolic link to the newest good vintage; it moves in one
``rename``, so a reader sees the old vintage or the new one, never a half-written one.

This module is the on-disk format only: writing a vintage (:func:`commit_vintage`), finding one
(:func:`resolve_vintage`, :func:`list_vintages`) and reading its table back as an input
(:func:`read_vintage`, the ``vintage`` format of ``inputs.*``). Fetching lives in
:mod:`riskcast.fetch`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from riskcast.errors import InputError
from riskcast.io.base import ReadResult
from riskcast.io.canonical import read_canonical

__all__ = [
    "Vintage",
    "MANIFEST",
    "CURRENT",
    "STAMP_FORMAT",
    "commit_vintage",
    "resolve_vintage",
    "current_vintage",
    "list_vintages",
    "read_vintage",
    "remove_partials",
    "table_sha256",
]

MANIFEST = "manifest.json"
CURRENT = "current"
#: vintage folder names: the UTC time the fetch started, e.g. ``20250201T060000Z``
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_PARTIAL = ".partial-"


@dataclass(frozen=True)
class Vintage:
    """One fetched vintage: its folder and its manifest."""

    path: Path
    manifest: dict

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def source(self) -> str:
        return str(self.manifest["source"])

    @property
    def table_path(self) -> Path:
        return self.path / self.manifest["table_file"]

    def summary(self) -> dict:
        """What a run records of the vintage it used (enough to find it again and check it)."""
        m = self.manifest
        return {
            "source": m["source"],
            "vintage": self.id,
            "path": str(self.path),
            "table": m["table"],
            "sha256": m["sha256"],
            "fetched_at": m["fetched_at"],
            "rows": m["rows"]["total"],
            "dataset_version": m.get("dataset_version"),
        }


def table_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def remove_partials(root: Path) -> list[str]:
    """Delete the folders of fetches that died before their commit; returns their names.

    Call only while holding the source's fetch lock: a live fetch's partial folder looks the same.
    """
    gone = []
    for p in sorted(Path(root).glob(f"{_PARTIAL}*")):
        shutil.rmtree(p, ignore_errors=True)
        gone.append(p.name)
    return gone


def commit_vintage(
    root: str | Path, table: pd.DataFrame, manifest: dict, *, table_name: str, started: datetime
) -> Vintage:
    """Write ``table`` and its manifest as a new vintage of ``root`` and point ``current`` at it.

    The vintage is built in a hidden partial folder, synced, renamed to its final name, and only
    then does ``current`` move (a new symbolic link renamed over the old one). A process killed
    at any point leaves ``current`` on the previous vintage.

    Args:
        root: ``DATA_DIR/<source>``.
        table: the canonical table (written as ``<table_name>.parquet``, rows in the given order).
        manifest: what the fetch knows (source, endpoint, query, rows, ...); ``sha256``,
            ``table``, ``table_file`` and ``vintage`` are filled in here.
        table_name: ``events`` or ``shocks``.
        started: when the fetch started (UTC): the vintage's name.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f"{_PARTIAL}{uuid.uuid4().hex[:12]}"
    partial.mkdir()
    try:
        table_file = f"{table_name}.parquet"
        table.reset_index(drop=True).to_parquet(partial / table_file, index=False)
        with open(partial / table_file, "rb+") as f:
            os.fsync(f.fileno())
        stamp = started.astimezone(timezone.utc).strftime(STAMP_FORMAT)
        name, n = stamp, 1
        while (root / name).exists():  # two fetches in one second: keep both, in order
            n += 1
            name = f"{stamp}-{n}"
        full = {
            **manifest,
            "vintage": name,
            "table": table_name,
            "table_file": table_file,
            "sha256": table_sha256(partial / table_file),
        }
        _write_synced(
            partial / MANIFEST, (json.dumps(full, indent=2, sort_keys=True, default=str) + "\n").encode()
        )
        _fsync_dir(partial)
        final = root / name
        os.rename(partial, final)
        link = root / f".{CURRENT}-{uuid.uuid4().hex[:8]}"
        link.symlink_to(name)
        os.replace(link, root / CURRENT)
        _fsync_dir(root)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return Vintage(final, full)


def _load(path: Path) -> Vintage:
    mf = path / MANIFEST
    try:
        manifest = json.loads(mf.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("not a vintage folder: it has no manifest.json", file=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"manifest.json does not parse: {exc}", file=str(mf)) from None
    for key in ("source", "table", "table_file", "sha256", "fetched_at", "rows"):
        if key not in manifest:
            raise InputError(f"manifest.json lacks {key!r}", file=str(mf))
    return Vintage(path, manifest)


def current_vintage(root: str | Path) -> Vintage | None:
    """The vintage ``root/current`` points at, or None when nothing was fetched yet."""
    link = Path(root) / CURRENT
    if not link.is_symlink() and not link.exists():
        return None
    target = link.resolve()
    if not target.is_dir():
        raise InputError(f"'current' points at {target}, which is missing", file=str(link))
    return _load(target)


def resolve_vintage(path: str | Path) -> Vintage:
    """A vintage from a path: a vintage folder itself, or a source folder (its ``current``).

    Resolving happens once per run, so a fetch that moves ``current`` mid-run changes nothing.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("no such folder (fetch it first: riskcast fetch SOURCE --out DATA_DIR)", file=str(p))
    if (p / MANIFEST).exists():
        return _load(p.resolve())
    v = current_vintage(p)
    if v is None:
        raise InputError(
            "no vintage here: neither a manifest.json nor a 'current' link "
            "(fetch it first: riskcast fetch SOURCE --out DATA_DIR)",
            file=str(p),
        )
    return v


def list_vintages(root: str | Path) -> list[tuple[Vintage, bool]]:
    """Every complete vintage of ``root``, oldest first, with whether it is ``current``."""
    root = Path(root)
    cur = current_vintage(root)
    out = []
    for p in sorted(
        q
        for q in root.iterdir()
        if q.is_dir() and not q.is_symlink() and not q.name.startswith(".") and (q / MANIFEST).exists()
    ):
        v = _load(p)
        out.append((v, cur is not None and p.resolve() == cur.path))
    return out


def read_vintage(path: str | Path, *, table: str, sheet: str | None = None, **options: object) -> ReadResult:
    """Read the table of a fetched vintage (a vintage folder, or a source folder's ``current``).

    The table's sha256 is checked against its manifest, so a vintage edited after its fetch is
    refused rather than silently used; the result's report carries the vintage (``vintage``).

    Raises:
        InputError: no vintage at the path, a table of another kind than ``table``, a changed
            table, or whatever the canonical reader finds wrong in it.
    """
    v = resolve_vintage(path)
    if v.manifest["table"] != table:
        raise InputError(
            f"vintage {v.id} of {v.source} holds the {v.manifest['table']} table, not {table}",
            file=str(v.path),
        )
    digest = table_sha256(v.table_path)
    if digest != v.manifest["sha256"]:
        raise InputError(
            f"the table changed after it was fetched (sha256 {digest[:12]} but the manifest says "
            f"{v.manifest['sha256'][:12]}): fetch again rather than edit a vintage",
            file=str(v.table_path),
        )
    result = read_canonical(v.table_path, table=table)
    result.report.format = "vintage"
    result.report.vintage = v.summary()
    result.report.notes.append(f"vintage {v.id} of {v.source}, fetched {v.manifest['fetched_at']}")
    return result
