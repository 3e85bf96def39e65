"""LightGBM trained from block files on a Dask cluster (riskcast.scale.dask_blocks.fit_lgbm_blocks).

On one worker the booster is ``lightgbm.train`` on the concatenated rows, bit for bit (the
Dataset from one ``lightgbm.Sequence`` per block samples and bins exactly as from the matrix);
on two workers it is LightGBM's data-parallel learner: close in skill. Bad blocks fail clearly.
"""

from __future__ import annotations

import sys

import cloudpickle
import lightgbm as lgb
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from riskcast.scale.dask_blocks import fit_lgbm_blocks

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import the tests

PARAMS = dict(
    objective="binary",
    n_estimators=40,
    learning_rate=0.1,
    num_leaves=7,
    min_child_samples=20,
    subsample=0.7,
    subsample_freq=1,
    colsample_bytree=0.6,
    force_row_wise=True,
    verbose=-1,
)
SEED = 3


def _load(path):
    with np.load(path) as z:
        return z["X"], z["y"]


def _blocks(tmp_path, n_blocks=5, rows=3000, seed=0):
    """Blocks of float32 rows whose label follows two of six columns; sizes differ by block."""
    rng = np.random.default_rng(seed)
    paths = []
    for b in range(n_blocks):
        n = rows + 500 * b
        X = rng.poisson(0.5, (n, 6)).astype(np.float32)
        X[:, 4] = rng.normal(size=n)
        logit = -1.5 + 0.9 * X[:, 0] + 0.6 * X[:, 1] + 0.3 * X[:, 4]
        y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
        p = tmp_path / f"block-{b}.npz"
        np.savez(p, X=X, y=y)
        paths.append(str(p))
    return paths


def _local(paths):
    X = np.concatenate([_load(p)[0] for p in paths])
    y = np.concatenate([_load(p)[1] for p in paths]).astype(np.float32)
    params = {k: v for k, v in PARAMS.items() if k != "n_estimators"}
    params.update(seed=SEED, deterministic=True, num_threads=1)
    return (
        lgb.train(params, lgb.Dataset(X, label=y, params=params), num_boost_round=PARAMS["n_estimators"]),
        X,
        y,
    )


def test_one_worker_is_lightgbm_train_on_the_concatenation_bit_for_bit(client, tmp_path):
    paths = _blocks(tmp_path)
    one = sorted(client.scheduler_info(n_workers=-1)["workers"])[:1]
    booster = fit_lgbm_blocks(client, paths, _load, params=PARAMS, seed=SEED, workers=one)
    local, X, _ = _local(paths)
    assert booster.num_trees() == local.num_trees() == 40
    np.testing.assert_array_equal(booster.predict(X), local.predict(X))
    # the trees themselves, not just their outputs (the parameter echo at the end differs)
    assert (
        booster.model_to_string().split("end of trees")[0] == local.model_to_string().split("end of trees")[0]
    )


def test_two_workers_train_data_parallel_close_to_the_local_fit(client, tmp_path):
    paths = _blocks(tmp_path, n_blocks=6, seed=1)
    sizes = [len(_load(p)[1]) for p in paths]
    booster = fit_lgbm_blocks(client, paths, _load, params=PARAMS, seed=SEED, sizes=sizes)
    local, X, y = _local(paths)
    auc, auc_local = roc_auc_score(y, booster.predict(X)), roc_auc_score(y, local.predict(X))
    assert auc > 0.7 and abs(auc - auc_local) < 0.02
    # a different model from the one-worker fit: the rows really were split between two machines
    assert not np.array_equal(booster.predict(X), local.predict(X))


def _bad_load(path):
    X, y = _load(path)
    return X, y[:-1]


def test_blocks_whose_labels_do_not_match_their_rows_fail_naming_the_block(client, tmp_path):
    paths = _blocks(tmp_path, n_blocks=2)
    one = sorted(client.scheduler_info(n_workers=-1)["workers"])[:1]
    with pytest.raises(ValueError, match=r"block-0\.npz.*3000 rows of features but 2999 labels"):
        fit_lgbm_blocks(client, paths, _bad_load, params=PARAMS, seed=SEED, workers=one)
    with pytest.raises(ValueError, match="no blocks"):
        fit_lgbm_blocks(client, [], _load, params=PARAMS, seed=SEED)


def _one_bad_load(path):
    X, y = _load(path)
    return (X, y[:-1]) if path.endswith("block-3.npz") else (X, y)


def test_a_bad_block_on_one_worker_fails_before_any_worker_trains(client, tmp_path):
    """Labels are read on every worker first: the healthy worker is never left waiting on its socket."""
    paths = _blocks(tmp_path, n_blocks=4)
    with pytest.raises(ValueError, match=r"block-3\.npz.*4500 rows of features but 4499 labels"):
        fit_lgbm_blocks(client, paths, _one_bad_load, params=PARAMS, seed=SEED, time_out=1)
