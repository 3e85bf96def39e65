"""Reuse the score table of a month already scored with the same model and data.

Scoring a large grid with a registry model takes time; re-running ``riskcast score`` on an
unchanged month should not. A score table is cached under ``<out>/score_cache/`` as one
parquet file per :class:`ScoreKey`, with the key itself embedded in the parquet metadata:
the file name is only a hash of the key, so a file is used only when the key it carries
equals the one asked for (a renamed, stale or corrupt file is recomputed and overwritten).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from riskcast.atomic import atomic_path

__all__ = [
    "ScoreKey",
    "cached_score",
    "score_key",
    "frame_hash",
    "cache_file",
    "CACHE_DIRNAME",
    "KEY_METADATA",
]

CACHE_DIRNAME = "score_cache"
#: The parquet schema-metadata entry holding the key (JSON) of the table in the file.
KEY_METADATA = b"riskcast.score_key"


@dataclass(frozen=True)
class ScoreKey:
    """Everything a score table depends on; any part differing means recompute.

    Attributes:
        model_name: registered model name.
        model_version: registry version (or ``run:<id>``), as a string.
        data_hash: hash of the run's inputs (``riskcast.tracking.train_runs.data_hash``).
        as_of: origin month, ``YYYY-MM``.
        features_hash: hash of the scored rows' ids and feature values (:func:`frame_hash`),
            so an edited panel for the same month is not served old scores.
        settings: hash of the scoring options that change the table (tiers, top_k).
    """

    model_name: str
    model_version: str
    data_hash: str
    as_of: str
    features_hash: str
    settings: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def frame_hash(rows: pd.DataFrame, columns: Iterable[str] | None = None) -> str:
    """SHA-256 of ``columns`` of ``rows`` (names, dtypes, values in row order); all columns when None."""
    cols = list(rows.columns if columns is None else columns)
    sub = rows[cols].reset_index(drop=True)
    h = hashlib.sha256(json.dumps([[c, str(sub[c].dtype)] for c in cols]).encode())
    # index=False: the values decide, not how the caller happened to index the frame.
    h.update(pd.util.hash_pandas_object(sub, index=False).to_numpy().tobytes())
    return h.hexdigest()


def score_key(
    *,
    model_name: str,
    model_version: str | int,
    data_hash: str,
    as_of,
    rows: pd.DataFrame,
    feature_cols: Sequence[str],
    tiers: Sequence[tuple[str, float]] = (),
    top_k: int = 3,
) -> ScoreKey:
    """The key for scoring ``rows`` (one month of the panel) with the given model and options.

    ``feature_cols`` are the bundle's feature columns; the id columns (unit_id, unit_name,
    country) are hashed with them since they are copied into the table.
    """
    ids = [c for c in ("unit_id", "unit_name", "country") if c in rows.columns]
    settings = json.dumps(
        {"tiers": [[str(n), float(c)] for n, c in tiers], "top_k": int(top_k)}, sort_keys=True
    )
    return ScoreKey(
        model_name=str(model_name),
        model_version=str(model_version),
        data_hash=str(data_hash),
        as_of=f"{pd.Timestamp(as_of):%Y-%m}",
        features_hash=frame_hash(rows, [*ids, *feature_cols]),
        settings=hashlib.sha256(settings.encode()).hexdigest()[:16],
    )


def cache_file(cache_dir: str | Path, key: ScoreKey) -> Path:
    """Where ``key``'s table lives: month first in the name so the folder reads by month."""
    return Path(cache_dir) / f"scores_{key.as_of}_{key.digest()[:20]}.parquet"


def _read(path: Path, key: ScoreKey) -> pd.DataFrame | None:
    """The cached table, or None when missing, unreadable or stamped with another key."""
    if not path.is_file():
        return None
    try:
        table = pq.read_table(path)
    except Exception:  # truncated or foreign file: a cache miss, never an error
        return None
    stored = (table.schema.metadata or {}).get(KEY_METADATA)
    if stored is None or stored.decode() != key.to_json():
        return None
    return table.to_pandas()


def _write(path: Path, key: ScoreKey, df: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    # Keep pandas' own metadata (dtypes) and add the key beside it.
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), KEY_METADATA: key.to_json().encode()}
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def cached_score(
    cache_dir: str | Path, key: ScoreKey, compute: Callable[[], pd.DataFrame]
) -> tuple[pd.DataFrame, bool]:
    """The score table for ``key``: from the cache when a valid entry exists, else ``compute()``.

    Args:
        cache_dir: the cache folder, normally ``<out>/score_cache``.
        key: see :func:`score_key`.
        compute: produces the table on a miss (e.g. a closure over ``score_month``).

    Returns:
        ``(table, hit)``. On a miss the computed table is stored atomically (replacing any
        stale or corrupt file) and returned as computed. A hit returns the stored table,
        which writes to the same bytes as the computed one did.
    """
    path = cache_file(cache_dir, key)
    found = _read(path, key)
    if found is not None:
        return found, True
    df = compute()
    _write(path, key, df)
    return df, False
