"""Training, backtesting and scoring on a Dask cluster (``compute.backend = "dask"``).

Each piece returns what the local path returns, so the rest of riskcast does not know where
the work ran. What is equal:

* :func:`fit_lgbm_dask`, :func:`fit_lgbm_hurdle_dask`: ``lightgbm.dask`` training, handed back
  as local models (a plain ``LGBMClassifier``; a fitted :class:`~riskcast.models.LGBMHurdle`).
  With the rows in one partition (``one_machine=True``) the model is the local fit, bit for bit
  (one thread per worker, riskcast's default). Data-parallel training across workers is another
  algorithm: each worker bins and bags its own rows, and lightgbm.dask ranks the workers in a
  set's order, so even two runs on the same partitions may differ. Its skill is the local
  fit's within noise, not its numbers.
* :func:`backtest_on_dask`: ``run_backtest`` itself, its (horizon, model) joblib tasks run on
  the cluster by joblib's Dask backend: the local predictions, byte for byte (workers with the
  same libraries and CPU).
* :func:`score_partitions`: the bundle mapped over partitions: ``riskcast.scoring._predict``
  on the whole frame, exactly (every output is computed row by row).

Only the driver talks to MLflow. It resolves a ``models:/`` or ``runs:/`` URI through the
registry to the artifact location (an alias once, so every worker scores the same version even
if the alias moves meanwhile); workers only *read* that artifact (a local path, a shared file
system or an object store they can reach) and load it once per worker process. No worker logs.
"""

from __future__ import annotations

import warnings

import dask
import dask.dataframe as dd
import lightgbm as lgb
import numpy as np
import pandas as pd
from dask.dataframe.utils import meta_nonempty
from joblib import parallel_config
from lightgbm.dask import DaskLGBMClassifier, DaskLGBMRegressor
from sklearn.base import clone

from riskcast.evaluation.backtest import run_backtest
from riskcast.models._dist import SIZE_MAX, fit_input, fit_nb_size
from riskcast.models.gbm import LGBMHurdle
from riskcast.scale.dask_features import dask_client
from riskcast.scoring import _predict
from riskcast.tracking.artifacts import load_pyfunc_once, resolve_model_location

__all__ = ["fit_lgbm_dask", "fit_lgbm_hurdle_dask", "backtest_on_dask", "score_partitions", "DaskScorer"]

# lightgbm.dask gives each worker its own thread count; these would only be overridden.
_THREAD_PARAMS = ("n_jobs", "num_threads", "nthread", "nthreads", "num_thread")


# --- LightGBM ---------------------------------------------------------------------------------


def _dask_fit(kind: str, client, X, y, params: dict, seed: int):
    """Fit ``lightgbm.dask.DaskLGBM<kind>`` and return its local scikit-learn twin."""
    cls = {"classifier": DaskLGBMClassifier, "regressor": DaskLGBMRegressor}[kind]
    kw = {
        "force_col_wise": True,
        "verbose": -1,
        **{k: v for k, v in params.items() if k not in _THREAD_PARAMS},
    }
    # Deterministic mode with column-wise histograms, as LGBMHurdle fits locally.
    kw.update(random_state=seed, deterministic=True)
    with warnings.catch_warnings():
        # get_params() always holds n_jobs (None), so lightgbm.dask warns on every fit.
        warnings.filterwarnings("ignore", message="Parameter n_jobs will be ignored")
        model = cls(client=client, **kw).fit(X, y)
    return model.to_local()


def _prepare(X, y, *others, one_machine: bool) -> tuple:
    """Check the partitioning; with ``one_machine`` every collection as one partition, rows in order."""
    for o in (y, *others):
        if o is not None and o.npartitions != X.npartitions:
            raise ValueError(
                f"X has {X.npartitions} partitions but a target has {o.npartitions}: "
                "partition features and targets alike (rows aligned)"
            )
    if one_machine:
        return tuple(None if c is None else c.repartition(npartitions=1) for c in (X, y, *others))
    return (X, y, *others)


def _training_data(X, y, *, as_arrays: bool) -> tuple:
    """X and y without their empty partitions (a LightGBM machine needs rows); sizes read from y.

    As arrays for the hurdle: LGBMHurdle fits on validated NumPy matrices, so its local models
    carry no column names and predict from the hurdle's matrices without warnings.
    """
    sizes = y.map_partitions(len).compute().tolist()
    keep = [i for i, n in enumerate(sizes) if n > 0]
    if not keep:
        raise ValueError("no training rows")
    if len(keep) < len(sizes):
        X, y = X.partitions[keep], y.partitions[keep]
    if not as_arrays:
        return X, y
    lengths = tuple(sizes[i] for i in keep)
    return X.astype("float64").to_dask_array(lengths=lengths), y.astype("float64").to_dask_array(
        lengths=lengths
    )


def fit_lgbm_dask(
    client, X: dd.DataFrame, y: dd.Series, *, params: dict, seed: int, one_machine: bool = False
) -> lgb.LGBMClassifier:
    """Train a LightGBM classifier on a Dask cluster; return the local ``LGBMClassifier``.

    Args:
        client: a ``distributed.Client`` (e.g. from :func:`riskcast.scale.dask_features.dask_client`).
        X: the features, partitioned like ``y`` (same partitions, rows aligned); persist both
            first when they are costly to compute (partition sizes are read before training).
        y: the 0/1 target.
        params: LightGBM parameters (``n_estimators``, ``num_leaves``, ...). Thread counts are
            dropped (each worker uses its threads); ``force_col_wise=True`` and ``verbose=-1``
            are defaults; ``deterministic=True`` and ``random_state=seed`` are always set.
        seed: the random state.
        one_machine: train on one worker, rows in partition order: the model is then the
            local ``LGBMClassifier`` with the same parameters and ``n_jobs=1`` fitted on
            ``X.compute()``, bit for bit, and reproducible. Otherwise every worker holding rows
            is a LightGBM machine (data-parallel): close to the local fit, neither equal to it
            nor reproducible run to run.

    Returns:
        A fitted ``lightgbm.LGBMClassifier`` without a client: picklable, usable in a
        :class:`~riskcast.tracking.bundle.ForecastBundle` like any local model.

    Raises:
        ValueError: ``X`` and ``y`` are partitioned differently, or hold no rows.
    """
    X, y = _prepare(X, y, one_machine=one_machine)
    return _dask_fit("classifier", client, *_training_data(X, y, as_arrays=False), params, seed)


def _labels(y: pd.Series) -> pd.Series:
    return pd.Series(np.unique(y.to_numpy(dtype=float)), dtype=float)


def _positive(count: pd.Series) -> np.ndarray:
    c = count.to_numpy(dtype=float)
    return np.isfinite(c) & (c >= 1)  # the rows LGBMHurdle._fit_count keeps


def _positive_rows(part: pd.DataFrame, count: pd.Series) -> pd.DataFrame:
    return part[_positive(count)]


def _positive_counts(count: pd.Series) -> pd.Series:
    return count[_positive(count)]


def _excess_of(part: pd.DataFrame, est: LGBMHurdle) -> pd.Series:
    return pd.Series(est._excess(est._x(part)), index=part.index, dtype=float)


def fit_lgbm_hurdle_dask(
    client,
    X: dd.DataFrame,
    y: dd.Series,
    y_count: dd.Series | None = None,
    *,
    model: LGBMHurdle | None = None,
    seed: int | None = None,
    one_machine: bool = False,
) -> LGBMHurdle:
    """:meth:`LGBMHurdle.fit` with both ensembles trained by ``lightgbm.dask``.

    The class's own steps: column validation (on the frame's schema), the one-class constant,
    the classifier, the excess-count regressor on the rows with an attack, and the NB size of
    its residuals. Only two floats per row with an attack (the count, the fitted excess) come
    back to the driver, for that one scalar fit. The result is a plain fitted ``LGBMHurdle``:
    ``predict_proba``, ``predict_count``, ``predict_quantiles`` and ``contributions`` are the
    class's methods.

    Args:
        client: a ``distributed.Client``.
        X: the features (``model.columns`` selects among them).
        y: the 0/1 target, partitioned like ``X``; drop the rows without a target first.
        y_count: the count target of the conditional-count head (None: no count head).
        model: the unfitted template holding the parameters (default ``LGBMHurdle()``); cloned.
        seed: replaces the template's ``random_state`` when given.
        one_machine: train each ensemble on one worker; the result is then ``model.fit`` on the
            computed frames, bit for bit (see :func:`fit_lgbm_dask` for data-parallel training).

    Returns:
        The fitted ``LGBMHurdle``.

    Raises:
        ValueError: a bad ``count_objective``, targets partitioned unlike ``X``, a NaN in ``y``
            or labels other than 0/1.
    """
    est = clone(model) if model is not None else LGBMHurdle()
    if seed is not None:
        est.set_params(random_state=int(seed))
    if est.count_objective not in ("poisson", "tweedie"):
        raise ValueError(f"count_objective must be 'poisson' or 'tweedie', not {est.count_objective!r}")
    X, y, y_count = _prepare(X, y, y_count, one_machine=one_machine)
    # n_features_in_, feature_names_in_, feature_names_ and classes_ set by the class's own
    # validation, run on two placeholder rows of X's schema.
    fit_input(est, meta_nonempty(X._meta).iloc[:2], np.array([0.0, 1.0]), est.columns, allow_nan=True)
    Xf = X[list(est.columns)] if est.columns else X
    # Label sets per partition, merged here (Series.unique would shuffle the whole target).
    labels = np.unique(y.map_partitions(_labels, meta=pd.Series(dtype=float)).compute().to_numpy(dtype=float))
    if np.isnan(labels).any():
        raise ValueError("y contains NaN: drop the rows without a target before fitting (the backtest does)")
    if not np.all(np.isin(labels, (0.0, 1.0))):
        raise ValueError(f"y must be 0/1 (any attack at t+h); got labels {labels[:5]}")
    params = {k: v for k, v in est._params().items() if k != "random_state"}
    if len(labels) < 2:
        n, ones = dask.compute(y.size, y.sum())  # an exact integer sum, as locally
        est.const_, est.clf_ = (float(ones) + 1) / (int(n) + 2), None
    else:
        est.const_ = None
        est.clf_ = _dask_fit(
            "classifier",
            client,
            *_training_data(Xf, y, as_arrays=True),
            {"objective": "binary", **params},
            est.random_state,
        )
    est.reg_, est.pos_mean_, est.nb_size_ = None, np.nan, SIZE_MAX
    if y_count is None:
        return est
    count = y_count.astype(float)
    x_pos = dd.map_partitions(_positive_rows, Xf, count, meta=Xf._meta, align_dataframes=False)
    c_pos = count.map_partitions(_positive_counts, meta=count._meta)
    counts = c_pos.compute().to_numpy(dtype=float)
    excess = counts - 1
    est.pos_mean_ = float(counts.mean()) if len(counts) else 1.0
    if len(counts) >= est.min_positive_rows and excess.max() > 0:
        est.reg_ = _dask_fit(
            "regressor",
            client,
            *_training_data(x_pos, c_pos - 1, as_arrays=True),
            {"objective": est.count_objective, **params},
            est.random_state,
        )
    if len(counts):
        # The fitted excess of the positive rows by the class's own _excess, in partition order.
        mu = (
            x_pos.map_partitions(_excess_of, est, meta=pd.Series(dtype=float)).compute().to_numpy(dtype=float)
        )
        est.nb_size_ = fit_nb_size(excess, mu)
    return est


# --- backtest ---------------------------------------------------------------------------------


def backtest_on_dask(
    client,
    panel: pd.DataFrame,
    feature_cols: list[str],
    models: dict,
    horizons: tuple[int, ...],
    **backtest_kwargs,
) -> pd.DataFrame:
    """:func:`~riskcast.evaluation.backtest.run_backtest` with its tasks run on a Dask cluster.

    The backtest's own joblib code runs under ``joblib.parallel_config(backend="dask",
    client=client)``: each (horizon, model) task goes to the cluster and the results come back
    in task order. joblib's Dask backend scatters the large shared arguments (feature frame,
    keys, months) once per call, not once per task. Every task fits single-threaded and
    deterministically, so the predictions are a local run's, byte for byte.

    Args:
        client: a ``distributed.Client``; its workers must import riskcast.
        panel, feature_cols, models, horizons: as for ``run_backtest``.
        **backtest_kwargs: the other keyword arguments of ``run_backtest`` (``min_train_months``,
            ``eval_months``, ``window``, ``sliding_months``, ``eval_start``, ``progress``), but
            not ``n_jobs``: the workers' threads set how many tasks run at once.

    Returns:
        The predictions frame of ``run_backtest``.

    Raises:
        TypeError: ``n_jobs`` was passed.
    """
    if "n_jobs" in backtest_kwargs:
        raise TypeError("backtest_on_dask takes no n_jobs: the cluster's worker threads set the parallelism")
    with parallel_config(backend="dask", client=client):
        # Any n_jobs but 1 takes run_backtest's joblib branch; n_jobs=1 would loop in this process.
        return run_backtest(panel, feature_cols, models, horizons, n_jobs=-1, **backtest_kwargs)


# --- scoring ----------------------------------------------------------------------------------


def _score_partition(part: pd.DataFrame, source, top_k: int, dtypes: dict) -> pd.DataFrame:
    """The wide scores of one partition on its own index (``source``: a location or a bundle)."""
    if len(part) == 0:  # a model may refuse zero rows: the schema's empty frame
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in dtypes.items()}, index=part.index)
    model = load_pyfunc_once(source) if isinstance(source, str) else source
    return _predict(model, part, top_k).set_axis(part.index)  # the pyfunc path returns a fresh index


def score_partitions(model, ddf: dd.DataFrame, *, top_k: int = 3) -> dd.DataFrame:
    """The bundle's wide scores for every row of ``ddf``, computed partition by partition.

    Args:
        model: a ``models:/`` or ``runs:/`` URI (resolved on the driver by
            :func:`riskcast.tracking.artifacts.resolve_model_location`; each worker loads the artifact once and keeps it),
            or a :class:`~riskcast.tracking.bundle.ForecastBundle` or loaded pyfunc (sent to
            the cluster once, as one graph key).
        ddf: the rows to score: the bundle's feature columns, ids may ride along.
        top_k: how many contributions ``top_features_h<h>`` lists.

    Returns:
        A lazy Dask DataFrame on ``ddf``'s index and partitions, with the columns of
        ``ForecastBundle.forecast``; computed, it equals ``riskcast.scoring._predict`` on
        ``ddf.compute()`` exactly.

    Raises:
        ValueError: a URI other than ``models:/`` or ``runs:/``, or a feature column missing.
    """
    if isinstance(model, str):
        source = resolve_model_location(model)
        local = load_pyfunc_once(source)  # on the driver too: fails fast, and gives the output schema
    else:
        # A loaded pyfunc travels as its bundle: both give the same output (the registry round-trip test).
        local = model.unwrap_python_model() if hasattr(model, "unwrap_python_model") else model
        source = dask.delayed(local, pure=True)
    inner = local.unwrap_python_model() if hasattr(local, "unwrap_python_model") else local
    missing = [c for c in inner.feature_cols if c not in ddf.columns]
    if missing:
        raise ValueError(f"feature columns missing from the scoring input: {missing}")
    meta = _predict(local, meta_nonempty(ddf._meta).iloc[:2], top_k).iloc[:0]
    # The schema travels as a dict: a pandas frame among the arguments would become a collection.
    return ddf.map_partitions(_score_partition, source, int(top_k), meta.dtypes.to_dict(), meta=meta)


class DaskScorer:
    """The registered model mapped over partitions of the month's rows on the Dask cluster.

    Scored lazily on first use; ``forecast`` then hands back the rows asked for, so
    :func:`riskcast.scoring.score_month` turns them into the score table as for a local model.
    Workers only read the model's artifact; the driver resolves the URI (and does any logging).
    """

    def __init__(self, compute, uri: str, rows: pd.DataFrame, top_k: int) -> None:
        self.compute, self.uri, self.rows, self.top_k, self._pred = compute, uri, rows, top_k, None

    def forecast(self, X: pd.DataFrame, top_k: int) -> pd.DataFrame:  # noqa: ARG002 - the top_k given at construction applies
        if self._pred is None:
            with dask_client(self.compute) as client:
                n = max(1, 2 * len(client.scheduler_info().get("workers", {})))
                ddf = dd.from_pandas(self.rows.reset_index(drop=True), npartitions=n, sort=False)
                self._pred = score_partitions(self.uri, ddf, top_k=self.top_k).compute().sort_index()
        return self._pred.loc[X.index]
