"""Where the work runs: this process (``compute.backend = "local"``) or a Dask cluster (``"dask"``).

With Dask, feature building is partitioned by **spatial blocks of units**. Units are ordered along
a Z-order curve of their centroids (PRIO-GRID cells from their ids) and cut into blocks of
``compute.block_units``; each block is computed on a worker from a context holding its own units
plus a **halo**: every unit within the feature set's spatial reach, in steps on the neighbour graph
(a second-order spatial lag of a first-order lag reaches three steps). Within that many steps the
shortest paths of the full graph stay inside the block, so the core units' spatial features are
the full panel's. Months stay whole inside a block. Country-wide totals cannot be cut that way: a
first pass sums each block's core units per country and month, the driver adds the blocks up, and
the second pass reads those totals. Nothing else crosses blocks.

Counts, lags and decays are computed row by row and come out bit for bit the same; spatial sums
and means are sparse products over a sub-matrix, equal to the local path within 1e-9 (the
equivalence test in ``tests/test_compute.py`` checks both).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from distributed import Client, LocalCluster, wait

from riskcast.atomic import atomic_path
from riskcast.features.base import Feature, FeatureContext, FeatureError, compute_features
from riskcast.features.spatial import CountryTotal, NearestEventDistance, SpatialLag
from riskcast.regions.priogrid import priogrid_centroid

__all__ = [
    "dask_client",
    "spatial_reach",
    "spatial_blocks",
    "halo",
    "sub_context",
    "compute_features_partitioned",
    "PartitionError",
]

#: Rows per row group of a block file: a reader of a few months (scoring, the report) decodes one
#: row group at a time, about 35 MB of a 70-column panel, not the block's whole 0.5 GB.
BLOCK_ROW_GROUP = 65_536


class PartitionError(FeatureError):
    """A feature whose reach cannot be bounded by graph steps (it cannot be partitioned)."""


@contextmanager
def dask_client(spec) -> Iterator[object]:
    """A ``distributed.Client`` for a :class:`riskcast.config.ComputeSpec`.

    With ``spec.scheduler`` it connects to that cluster (and leaves it running); otherwise it
    starts an in-process ``LocalCluster`` of worker processes with the configured memory limit
    and closes it on exit.
    """
    if spec.scheduler:
        client = Client(spec.scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    with (
        LocalCluster(
            n_workers=spec.n_workers,
            threads_per_worker=spec.threads_per_worker,
            memory_limit=spec.memory_limit,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


# --- reach ------------------------------------------------------------------------------------


def _children(f: Feature) -> list[Feature]:
    return [v for v in f.params().values() if isinstance(v, Feature)]


def spatial_reach(f: Feature) -> int:
    """How many steps on the neighbour graph a feature's value at a unit reads (0: the unit only).

    A spatial lag of order k adds k steps to its inner feature's reach (inverse-distance lags read
    every unit within k steps: the same bound). A country total is computed apart (its reach is its
    inner feature's). A feature measured in kilometres has no bound in steps.

    Raises:
        PartitionError: a feature with no bound in steps (e.g. NearestEventDistance).
    """
    if isinstance(f, NearestEventDistance):
        raise PartitionError(
            f"{f.name} reads events within {f.cap_km:g} km, not within a number of neighbour steps: "
            "build it with compute.backend = 'local'",
            param="compute.backend",
        )
    own = f.order if isinstance(f, SpatialLag) else 0
    return own + max((spatial_reach(c) for c in _children(f)), default=0)


def _country_totals(features: Sequence[Feature]) -> list[Feature]:
    """Every CountryTotal in the features' trees (each once, inner ones first)."""
    seen: dict[str, Feature] = {}

    def walk(f: Feature) -> None:
        for c in _children(f):
            walk(c)
        if isinstance(f, CountryTotal):
            seen.setdefault(f.name, f)

    for f in features:
        walk(f)
    return list(seen.values())


# --- blocks and halos -------------------------------------------------------------------------


def _unit_centroids(units: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    lat = pd.to_numeric(
        units.get("centroid_lat", pd.Series(np.nan, index=units.index)), errors="coerce"
    ).to_numpy(float)
    lon = pd.to_numeric(
        units.get("centroid_lon", pd.Series(np.nan, index=units.index)), errors="coerce"
    ).to_numpy(float)
    ids = units["unit_id"].astype(str)
    pg = ids.str.fullmatch(r"PG\d+").to_numpy() & (np.isnan(lat) | np.isnan(lon))
    if pg.any():
        lat[pg], lon[pg] = priogrid_centroid(ids[pg].str[2:].astype(np.int64).to_numpy())
    lat, lon = np.nan_to_num(lat, nan=0.0), np.nan_to_num(lon, nan=0.0)
    return lat, lon


def _zorder(lat: np.ndarray, lon: np.ndarray, bits: int = 16) -> np.ndarray:
    """Morton code of quantised (lat, lon): nearby points get nearby codes (mostly)."""
    scale = (1 << bits) - 1
    y = np.round((np.clip(lat, -90, 90) + 90) / 180 * scale).astype(np.uint64)
    x = np.round((np.clip(lon, -180, 180) + 180) / 360 * scale).astype(np.uint64)
    code = np.zeros(len(lat), dtype=np.uint64)
    for b in range(bits):
        code |= ((x >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b)
        code |= ((y >> np.uint64(b)) & np.uint64(1)) << np.uint64(2 * b + 1)
    return code


def spatial_blocks(units: pd.DataFrame, block_units: int) -> list[np.ndarray]:
    """Unit positions (rows of ``units``) cut into blocks of at most ``block_units`` along a Z-order curve."""
    if block_units < 1:
        raise ValueError(f"block_units must be at least 1, got {block_units}")
    lat, lon = _unit_centroids(units)
    order = np.lexsort((np.arange(len(units)), _zorder(lat, lon)))  # ties broken by position: deterministic
    return [np.sort(order[i : i + block_units]) for i in range(0, len(order), block_units)]


def halo(core: np.ndarray, neighbours: sp.csr_matrix, steps: int) -> np.ndarray:
    """The core units and every unit within ``steps`` steps of one of them, sorted."""
    seen = np.zeros(neighbours.shape[0], dtype=bool)
    seen[core] = True
    frontier = seen.copy()
    adj = neighbours.tocsr()
    for _ in range(steps):
        reached = (adj.T @ frontier.astype(np.float64)) > 0
        reached |= (adj @ frontier.astype(np.float64)) > 0
        frontier = reached & ~seen
        if not frontier.any():
            break
        seen |= frontier
    return np.flatnonzero(seen)


def _take_rows(table: pd.DataFrame | None, idx: np.ndarray, n_units: int) -> pd.DataFrame | None:
    """Rows of a placed table (with ``unit_ix``) whose unit is in ``idx``, re-indexed to positions in ``idx``."""
    if table is None:
        return None
    remap = np.full(n_units, -1, dtype=np.int64)
    remap[idx] = np.arange(len(idx))
    u = table["unit_ix"].to_numpy(dtype=np.int64)
    keep = remap[u] >= 0
    out = table.loc[keep].copy()
    out["unit_ix"] = remap[u[keep]]
    out.attrs = dict(table.attrs)
    return out.reset_index(drop=True)


def sub_context(ctx: FeatureContext, idx: np.ndarray) -> FeatureContext:
    """The context restricted to the units at positions ``idx`` (all months; tables re-indexed)."""
    idx = np.asarray(idx, dtype=np.int64)
    n = len(ctx.units)
    arrays = {
        k: (v[idx] if getattr(v, "ndim", 0) >= 1 and v.shape[0] == n else v) for k, v in ctx.arrays.items()
    }
    return FeatureContext(
        units=ctx.units.iloc[idx].reset_index(drop=True),
        months=ctx.months,
        neighbours=ctx.neighbours.tocsr()[idx][:, idx].tocsr(),
        arrays=arrays,
        events=_take_rows(ctx.events, idx, n),
        presence=_take_rows(ctx.presence, idx, n),
        shocks=_take_rows(ctx.shocks, idx, n),
        target=ctx.target,
        actor_groups=dict(ctx.actor_groups),
        rainy_season=dict(ctx.rainy_season),
        cache={},
    )


# --- the two passes ---------------------------------------------------------------------------


def _country_sums(
    features: Sequence[Feature], ctx: FeatureContext, core: np.ndarray
) -> dict[str, pd.DataFrame]:
    """Pass 1, on a worker: per CountryTotal, its inner feature summed over the core units per country."""
    out = {}
    country = ctx.units["country"].astype(str).to_numpy()
    for f in features:
        inner = ctx.get(f.of)[core]
        df = pd.DataFrame(inner, columns=range(inner.shape[1]))
        out[f.name] = df.groupby(country[core], sort=True).sum()
    return out


def _pass1(block_ctx: FeatureContext, core: np.ndarray, totals: Sequence[Feature]) -> dict[str, pd.DataFrame]:
    return _country_sums(totals, block_ctx, core)


def _pass2(
    block_ctx: FeatureContext,
    core: np.ndarray,
    features: Sequence[Feature],
    totals: dict[str, pd.DataFrame],
    dtype,
    out_file: str | None = None,
    around: Callable | None = None,
):
    """Pass 2, on a worker: every feature of the block; the core units' rows (unit-major, then month).

    With ``out_file`` the rows (with ``unit_id`` and ``month``) are written there as parquet
    (atomically) and the row count is returned instead: the driver never holds the panel.
    ``around(block_ctx, core)`` gives the columns written before and after the features instead
    of ``unit_id`` and ``month`` alone (a run's panel: keys, counts, targets).
    """
    country = block_ctx.units["country"].astype(str)
    for name, by_country in totals.items():
        block_ctx.cache[name] = by_country.reindex(country).to_numpy(dtype=float)
    full = compute_features(list(features), block_ctx, dtype=dtype)
    n_m = len(block_ctx.months)
    rows = (core[:, None] * n_m + np.arange(n_m)[None, :]).ravel()
    part = full.iloc[rows].reset_index(drop=True)
    if out_file is None:
        return part
    if around is None:
        before = {
            "unit_id": np.repeat(block_ctx.units["unit_id"].astype(str).to_numpy()[core], n_m),
            "month": np.tile(block_ctx.months.to_numpy(), len(core)),
        }
        after = {}
    else:
        before, after = around(block_ctx, core)
    columns = {**before, **{c: part[c].to_numpy() for c in part.columns}, **after}
    with atomic_path(out_file) as tmp:
        pd.DataFrame(columns, copy=False).to_parquet(tmp, index=False, row_group_size=BLOCK_ROW_GROUP)
    return len(part)


def compute_features_partitioned(
    features: Sequence[Feature],
    ctx: FeatureContext,
    client,
    block_units: int,
    dtype=np.float64,
    out_dir=None,
    around: Callable | None = None,
):
    """:func:`riskcast.features.base.compute_features` on a Dask cluster, block by block.

    Args:
        features: the feature set's features.
        ctx: the whole panel's context (built on the driver: tables placed, arrays filled).
        client: a ``distributed.Client``.
        block_units: core units per block.
        dtype: the feature columns' dtype.
        out_dir: when given, each worker writes its block to ``out_dir/block-<b>.parquet``
            (``unit_id``, ``month``, the features) and only row counts come back: for panels the
            driver could not hold.
        around: with ``out_dir``, ``around(block_ctx, core) -> (columns before, columns after)``
            the features in each file (see ``_pass2``); it runs on the workers (picklable).

    Returns:
        The same frame as ``compute_features(features, ctx, dtype)``: panel order (unit-major,
        then month), one column per feature. With ``out_dir``: the list of block files.

    Raises:
        PartitionError: a feature without a bound in neighbour steps.
    """
    features = list(features)
    steps = max((spatial_reach(f) for f in features), default=0)
    totals = _country_totals(features)
    blocks = spatial_blocks(ctx.units, block_units)
    plans = []
    for core in blocks:
        idx = halo(core, ctx.neighbours, steps)
        plans.append((idx, np.searchsorted(idx, core)))
    in_flight = max(2, 2 * len(client.scheduler_info().get("workers", {})))

    def run(fn, args_of_block):
        """``fn`` on every block, at most ``in_flight`` blocks' contexts on the cluster at a time."""
        out, pending = [None] * len(plans), {}
        for b, (idx, local_core) in enumerate(plans):
            if len(pending) >= in_flight:
                done, _ = wait(list(pending), return_when="FIRST_COMPLETED")
                for fut in done:
                    out[pending.pop(fut)] = fut.result()
            block_ctx = client.scatter(sub_context(ctx, idx), hash=False)  # sent once: no need to tokenise it
            pending[client.submit(fn, block_ctx, local_core, *args_of_block(b), pure=False)] = b
        for fut, b in pending.items():
            out[b] = fut.result()
        return out

    by_country: dict[str, pd.DataFrame] = {}
    if totals:
        parts = run(_pass1, lambda b: (totals,))
        for f in totals:
            frames = [p[f.name] for p in parts]
            summed = frames[0]
            for fr in frames[1:]:  # blocks in a fixed order: the same float sums every run
                summed = summed.add(fr, fill_value=0.0)
            by_country[f.name] = summed.sort_index()
    if out_dir is not None:
        files = [str(Path(out_dir) / f"block-{b:05d}.parquet") for b in range(len(plans))]
        run(_pass2, lambda b: (features, by_country, dtype, files[b], around))
        return files
    results = run(_pass2, lambda b: (features, by_country, dtype))
    # back to panel order: block b holds units blocks[b] (sorted), each with all months
    n_m = len(ctx.months)
    order = np.concatenate(blocks)
    stacked = pd.concat(results, ignore_index=True)
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    rows = (position[:, None] * n_m + np.arange(n_m)[None, :]).ravel()
    return stacked.iloc[rows].reset_index(drop=True)
