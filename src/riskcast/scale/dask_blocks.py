"""LightGBM trained on a Dask cluster straight from block files: for panels whose training
matrix does not fit the workers' memory three times over.

``lightgbm.dask`` (:func:`riskcast.scale.dask_models.fit_lgbm_dask`) needs a worker's rows in memory
about three times: the partitions it holds, their concatenation (``_train_part`` concatenates
them before building its Dataset) and LightGBM's binned Dataset with its training buffers. On a
global PRIO-GRID panel (26 M training rows x 62 float32 features, 3 GiB per worker on two) that is
more than 9.5 GiB per worker (``benchmarks/dask_bench.py``).

:func:`fit_lgbm_blocks` builds each worker's Dataset from a :class:`lightgbm.Sequence` per block
(LightGBM samples rows for the bin bounds, then pushes the rows in batches), so a worker holds
one block of raw rows at a time beside the binned Dataset. The training itself is LightGBM's
own data-parallel learner (``tree_learner="data"``) over the workers' sockets, wired the way
``lightgbm.dask`` wires it (a port per worker, the ``machines`` list, one task per worker pinned
to it); with one worker it is plain ``lightgbm.train``. Only the rank-0 worker returns the model.

Equal to what: with one worker the booster is ``lightgbm.train`` on the concatenated rows with
the same parameters (tested bit for bit). Across workers it is data-parallel training, like
``lightgbm.dask``: close in skill, not equal in numbers.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlparse

import lightgbm as lgb
import numpy as np
from distributed import wait

__all__ = ["fit_lgbm_blocks", "BlockRows"]

# Thread counts come from the workers (one LightGBM thread per worker thread).
_THREAD_PARAMS = ("n_jobs", "num_threads", "nthread", "nthreads", "num_thread")
_ROUND_PARAMS = (
    "n_estimators",
    "num_iterations",
    "num_iteration",
    "n_iter",
    "num_tree",
    "num_trees",
    "num_round",
    "num_rounds",
    "nrounds",
    "num_boost_round",
    "max_iter",
)


class _Cache:
    """The block most recently read on this worker: LightGBM reads the blocks in order (sampling,
    then pushing rows), so one held block is all that is needed."""

    key: Any = None
    X: np.ndarray | None = None

    @classmethod
    def get(cls, load: Callable, block) -> np.ndarray:
        if cls.key is None or cls.key != (id(load), block):
            cls.key, cls.X = None, None  # free the previous block before reading the next
            X, _ = load(block)
            cls.X, cls.key = np.ascontiguousarray(X, dtype=np.float32), (id(load), block)
        return cls.X

    @classmethod
    def clear(cls) -> None:
        cls.key, cls.X = None, None


class BlockRows(lgb.Sequence):
    """One block's training rows as a :class:`lightgbm.Sequence`, read only when LightGBM asks."""

    batch_size = 65_536

    def __init__(self, load: Callable, block, n_rows: int):
        self.load, self.block, self.n_rows = load, block, int(n_rows)

    def __len__(self) -> int:
        return self.n_rows

    def __getitem__(self, idx):
        rows = _Cache.get(self.load, self.block)[idx]
        # Sampled single rows go to LightGBM's bin finder, which takes doubles (exact for float32);
        # batches of rows are pushed as they are.
        return rows.astype(np.float64) if np.ndim(rows) == 1 else rows


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _labels_on_worker(blocks: list, load: Callable) -> tuple[np.ndarray, list[int]]:
    """A worker's labels and rows per block, read one block at a time (the result stays on the worker)."""
    labels, sizes = [], []
    for b in blocks:
        X, y = load(b)
        if len(X) != len(y):
            raise ValueError(f"block {b!r}: {len(X)} rows of features but {len(y)} labels")
        labels.append(np.asarray(y, dtype=np.float32))
        sizes.append(len(X))
        del X
    if not sum(sizes):
        raise ValueError(f"the blocks on this worker hold no training rows: {blocks!r}")
    return np.concatenate(labels), sizes


def _train_on_worker(
    blocks: list, load: Callable, labelled: tuple, params: dict, num_boost_round: int, rank: int
) -> str | None:
    """The Dataset from one Sequence per block, then LightGBM (data-parallel when ``params`` name
    machines). Only rank 0 returns the model."""
    label, sizes = labelled
    seqs = [BlockRows(load, b, n) for b, n in zip(blocks, sizes) if n]
    try:
        ds = lgb.Dataset(seqs, label=label, params=params, free_raw_data=True)
        booster = lgb.train(params, ds, num_boost_round=num_boost_round)
        model = booster.model_to_string() if rank == 0 else None
        if params.get("num_machines", 1) > 1:
            booster.free_network()
        return model
    finally:
        _Cache.clear()


def _split(blocks: Sequence, sizes: Sequence[int], n: int) -> list[list]:
    """Blocks to ``n`` workers, largest first to the least loaded (deterministic)."""
    order = sorted(range(len(blocks)), key=lambda i: (-sizes[i], i))
    shares: list[list[int]] = [[] for _ in range(n)]
    loads = [0] * n
    for i in order:
        w = min(range(n), key=lambda k: (loads[k], k))
        shares[w].append(i)
        loads[w] += sizes[i]
    return [[blocks[i] for i in sorted(s)] for s in shares if s]


def fit_lgbm_blocks(
    client,
    blocks: Sequence,
    load: Callable,
    *,
    params: dict,
    seed: int,
    sizes: Sequence[int] | None = None,
    workers: Sequence[str] | None = None,
    time_out: int = 120,
):
    """Train a LightGBM booster on the cluster from block files, one block in memory at a time.

    Args:
        client: a ``distributed.Client``.
        blocks: picklable block handles (file paths, say); each goes to one worker.
        load: ``load(block) -> (X, y)``, run on the workers: the block's training rows as a 2-D
            array (float32, columns in the same order in every block) and their 0/1 (or count)
            labels. Called three times per block (labels, LightGBM's sample, LightGBM's rows),
            so it must be deterministic; it must be importable on the workers (a module-level
            function).
        params: LightGBM parameters in ``lightgbm.train`` or scikit-learn spelling (aliases are
            LightGBM's); ``n_estimators`` (or an alias) is the number of rounds (default 100).
            Thread counts are dropped: one LightGBM thread per worker.
        seed: the random seed (``seed`` and ``deterministic=True`` are always set).
        sizes: a weight per block (bytes, rows) to balance the workers; default equal.
        workers: the workers to train on (default every worker of the client).
        time_out: minutes LightGBM's sockets wait for the other machines.

    Returns:
        A ``lightgbm.Booster`` (local, picklable).

    Raises:
        ValueError: no blocks, or a worker's blocks hold no rows (its error, re-raised here).
    """
    if not len(blocks):
        raise ValueError("no blocks to train on")
    p = {k: v for k, v in params.items() if k not in _THREAD_PARAMS}
    rounds = next((int(p.pop(k)) for k in _ROUND_PARAMS if k in p), 100)
    for k in _ROUND_PARAMS:
        p.pop(k, None)
    p.update(seed=int(seed), deterministic=True, num_threads=1, verbose=p.get("verbose", -1))
    p.pop("random_state", None)
    addresses = list(workers) if workers else sorted(client.scheduler_info(n_workers=-1)["workers"])
    shares = _split(list(blocks), list(sizes) if sizes is not None else [1] * len(blocks), len(addresses))
    addresses = addresses[: len(shares)]
    # Labels first, on every worker: a bad block fails here, before any worker waits on the others'
    # sockets. The labels stay where they were read.
    labelled = [
        client.submit(_labels_on_worker, share, load, workers=[w], allow_other_workers=False, pure=False)
        for w, share in zip(addresses, shares)
    ]
    wait(labelled)
    for f in labelled:
        if f.status == "error":
            f.result()  # re-raises the worker's error here
    futures = []
    if len(shares) > 1:
        ports = {
            w: client.submit(_free_port, workers=[w], allow_other_workers=False, pure=False)
            for w in addresses
        }
        ports = client.gather(ports)
        machines = ",".join(f"{urlparse(w).hostname}:{ports[w]}" for w in addresses)
        for rank, (w, share) in enumerate(zip(addresses, shares)):
            wp = dict(
                p,
                tree_learner=p.get("tree_learner", "data"),
                machines=machines,
                local_listen_port=ports[w],
                num_machines=len(addresses),
                time_out=time_out,
            )
            futures.append(
                client.submit(
                    _train_on_worker,
                    share,
                    load,
                    labelled[rank],
                    wp,
                    rounds,
                    rank,
                    workers=[w],
                    allow_other_workers=False,
                    pure=False,
                )
            )
    else:
        futures.append(
            client.submit(
                _train_on_worker,
                shares[0],
                load,
                labelled[0],
                p,
                rounds,
                0,
                workers=[addresses[0]],
                allow_other_workers=False,
                pure=False,
            )
        )
    results = client.gather(futures)
    return lgb.Booster(model_str=results[0])
