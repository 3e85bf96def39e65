"""The LightGBM hurdle fitted and applied on a Dask cluster straight from a run's block files.

:meth:`LGBMHurdle.fit <riskcast.models.gbm.LGBMHurdle.fit>`'s steps, with the two ensembles
trained by :func:`~riskcast.scale.dask_blocks.fit_lgbm_blocks` on one worker (it reads the
blocks one at a time) and the rest from the labels the driver
already holds (a few floats per row: the one-class constant, the mean count of the rows with an
attack). Only the rows with an attack send back two floats each (count, fitted excess) for the
negative binomial's size. The result is a plain ``LGBMHurdle`` whose ensembles are
:class:`~riskcast.models.boosters.BoosterClassifier` / ``BoosterRegressor``: it predicts,
explains and pickles as a hurdle fitted in process does.

Equal to what: the same steps and parameters as an in-process fit, on the same rows; the
ensembles are trained by one worker on float32 rows read block by block, so they equal an
in-process fit on those rows in that order (tested bit for bit), not one on the rows of an
in-memory panel (another order, float64): close in skill, not equal in numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from distributed import wait
from sklearn.base import clone

from riskcast.evaluation.backtest import predict_frame
from riskcast.models._dist import SIZE_MAX, fit_input, fit_nb_size
from riskcast.models.boosters import BoosterClassifier, BoosterRegressor
from riskcast.models.gbm import LGBMHurdle
from riskcast.scale.dask_blocks import fit_lgbm_blocks

__all__ = ["TrainRows", "fit_hurdle_on_blocks", "predict_on_blocks"]


@dataclass(frozen=True)
class TrainRows:
    """``load(block) -> (X, y)`` for one fit: the block's rows of a training window.

    Rows with ``first < month <= last`` (``first`` None: from the start) whose ``target`` is
    known; with ``positive`` only those with at least one attack, labelled with their excess
    count (count - 1), as the hurdle's count head is fitted. Rows keep the file's order.
    """

    columns: tuple[str, ...]
    target: str
    count: str
    last: pd.Timestamp
    first: pd.Timestamp | None = None
    positive: bool = False

    def frame(self, block: str) -> pd.DataFrame:
        where = [("month", "<=", self.last)]
        if self.first is not None:
            where.append(("month", ">", self.first))
        cols = list(dict.fromkeys([self.target, self.count, *self.columns]))
        df = pq.read_table(block, columns=cols, filters=where).to_pandas()
        keep = df[self.target].notna().to_numpy()
        if self.positive:
            count = df[self.count].to_numpy(dtype=float)
            keep &= np.isfinite(count) & (count >= 1)
        return df[keep]

    def __call__(self, block: str) -> tuple[np.ndarray, np.ndarray]:
        df = self.frame(block)
        X = df[list(self.columns)].to_numpy(dtype=np.float32)
        y = (
            df[self.count].to_numpy(dtype=float) - 1
            if self.positive
            else df[self.target].to_numpy(dtype=float)
        )
        return X, y


def _excess_on_block(block: str, load: TrainRows, est: LGBMHurdle) -> tuple[np.ndarray, np.ndarray]:
    """The observed and fitted excess counts of a block's rows with an attack (on a worker)."""
    df = load.frame(block)
    excess = df[load.count].to_numpy(dtype=float) - 1
    return excess, est._excess(est._x(df[list(load.columns)]))


def fit_hurdle_on_blocks(
    client,
    model: LGBMHurdle,
    files: Sequence[str],
    labels: pd.DataFrame,
    feature_cols: Sequence[str],
    *,
    target: str,
    count: str,
    last: pd.Timestamp,
    first: pd.Timestamp | None = None,
    worker: str | None = None,
) -> LGBMHurdle:
    """``model`` fitted on the rows ``first < month <= last`` of the block files, on the cluster.

    Args:
        client: a ``distributed.Client``.
        model: the unfitted hurdle (its parameters; cloned).
        files: the block files, in block order.
        labels: the window's rows with a known target, as the driver holds them: ``_block`` (the
            row's position in ``files``), ``y`` (0/1) and ``count``, in panel order.
        feature_cols: the panel's feature columns (the model reads ``model.columns`` of them).
        target, count: the target and count columns of the horizon.
        last, first: the training window.
        worker: the worker that trains both ensembles (default: the client's first).
    """
    est = clone(model)
    if est.count_objective not in ("poisson", "tweedie"):
        raise ValueError(f"count_objective must be 'poisson' or 'tweedie', not {est.count_objective!r}")
    columns = tuple(est.columns) if est.columns else tuple(feature_cols)
    # n_features_in_, feature_names_in_, feature_names_ and classes_ by the class's own validation
    fit_input(est, pd.DataFrame(np.zeros((2, len(feature_cols))), columns=list(feature_cols)), np.array([0.0, 1.0]),
              est.columns, allow_nan=True)  # fmt: skip
    y = labels["y"].to_numpy(dtype=float)
    if not np.all(np.isin(np.unique(y), (0.0, 1.0))):
        raise ValueError(f"y must be 0/1 (any attack at t+h); got labels {np.unique(y)[:5]}")
    params = {k: v for k, v in est._params().items() if k != "random_state"}
    # One worker per fit, reading every block in turn: LightGBM's data-parallel learner lost its
    # sockets ("Connection reset by peer") on a 336-cell grid, and one worker holds only the
    # binned rows (1 byte per value: 0.3 GB for an Africa grid's 4.5 M rows x 62 features) and
    # one block of raw rows. The fit is then the in-process fit on the same rows, to the bit.
    # Separate fits run on separate workers at once (block_backtest).
    workers = [worker or sorted(client.scheduler_info(n_workers=-1)["workers"])[0]]
    blocks = labels.groupby("_block", sort=True).size()
    load = TrainRows(columns, target, count, last, first)
    if len(np.unique(y)) < 2:
        est.const_, est.clf_ = (y.sum() + 1) / (len(y) + 2), None
    else:
        est.const_ = None
        booster = fit_lgbm_blocks(
            client,
            [files[b] for b in blocks.index],
            load,
            params={"objective": "binary", **params},
            seed=est.random_state,
            sizes=blocks.to_list(),
            workers=workers,
        )
        est.clf_ = BoosterClassifier(booster)
    est.reg_, est.pos_mean_, est.nb_size_ = None, np.nan, SIZE_MAX
    c = labels["count"].to_numpy(dtype=float)
    pos = np.isfinite(c) & (c >= 1)
    est.pos_mean_ = float(c[pos].mean()) if pos.any() else 1.0
    if not pos.any():
        return est
    positive = labels[pos].groupby("_block", sort=True).size()
    pos_files = [files[b] for b in positive.index]
    load_pos = TrainRows(columns, target, count, last, first, positive=True)
    if pos.sum() >= est.min_positive_rows and (c[pos] - 1).max() > 0:
        booster = fit_lgbm_blocks(
            client,
            pos_files,
            load_pos,
            params={"objective": est.count_objective, **params},
            seed=est.random_state,
            sizes=positive.to_list(),
            workers=workers,
        )
        est.reg_ = BoosterRegressor(booster)
    # The fitted excess of the rows with an attack, block after block (the same rows, in order).
    parts = client.gather(
        client.map(_excess_on_block, pos_files, load=load_pos, est=est, workers=workers, pure=False)
    )
    excess = np.concatenate([p[0] for p in parts])
    mu = np.concatenate([p[1] for p in parts])
    est.nb_size_ = fit_nb_size(excess, mu)
    return est


def _predict_block(block: str, months: list, fitted: dict, feature_cols: list[str]) -> pd.DataFrame:
    """Every fitted model's forecasts for a block's rows of ``months`` (on a worker)."""
    df = pq.read_table(
        block, columns=["unit_id", "month", *feature_cols], filters=[("month", "in", list(months))]
    ).to_pandas()
    X = df[feature_cols]
    out = []
    for name, est in fitted.items():
        frame = pd.DataFrame(predict_frame(est, X))
        frame.insert(0, "model", name)
        frame.insert(0, "month", df["month"].to_numpy())
        frame.insert(0, "unit_id", df["unit_id"].to_numpy())
        out.append(frame)
    return pd.concat(out, ignore_index=True)


def predict_on_blocks(
    client, files: Sequence[str], months: Sequence[pd.Timestamp], fitted: dict, feature_cols: Sequence[str]
) -> pd.DataFrame:
    """The forecasts (``p``, ``expected_count``, ``q10``-``q90``) of each model of ``fitted`` for
    every unit at ``months``, computed where the blocks are read; ``unit_id``, ``month``, ``model``."""
    futures = client.map(
        _predict_block,
        list(files),
        months=list(months),
        fitted=fitted,
        feature_cols=list(feature_cols),
        pure=False,
    )
    wait(futures)
    return pd.concat(client.gather(futures), ignore_index=True)
