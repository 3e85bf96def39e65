"""The Dask backend: the same numbers as the local one, the work on a cluster.

The cluster is the config's scheduler, or an in-process LocalCluster (``compute`` settings),
opened per call with :func:`~riskcast.scale.dask_features.dask_client`.
"""

from __future__ import annotations

from collections.abc import Sequence

import dask.dataframe as dd
import numpy as np
import pandas as pd
from sklearn.base import clone

from riskcast.features.base import Feature, FeatureContext
from riskcast.models.gbm import LGBMHurdle
from riskcast.outputs import BlockPanel
from riskcast.scale.block_backtest import backtest_on_blocks, fit_horizons_on_blocks
from riskcast.scale.block_panel import write_panel_blocks
from riskcast.scale.dask_features import compute_features_partitioned, dask_client
from riskcast.scale.dask_models import DaskScorer, backtest_on_dask, fit_lgbm_hurdle_dask
from riskcast.scale.local import LocalBackend

__all__ = ["DaskBackend"]


class DaskBackend:
    """Features in spatial blocks, backtest tasks and LightGBM fits on the cluster, scoring by partition."""

    def __init__(self, compute) -> None:
        self.compute = compute
        self._local = LocalBackend()

    def features(self, features: Sequence[Feature], ctx: FeatureContext) -> pd.DataFrame:
        with dask_client(self.compute) as client:
            return compute_features_partitioned(list(features), ctx, client, self.compute.block_units)

    def backtest(
        self, panel: pd.DataFrame, feature_cols: list[str], models: dict, horizons: tuple[int, ...], **kwargs
    ) -> pd.DataFrame:
        with dask_client(self.compute) as client:
            return backtest_on_dask(client, panel, feature_cols, models, horizons, **kwargs)

    def fit(
        self,
        model,
        X: pd.DataFrame,
        y: np.ndarray,
        y_count: np.ndarray,
        months,
        horizon: int,
        *,
        target: str = "any",
    ):
        """The LightGBM hurdle of P(any attack) by ``lightgbm.dask`` in one partition; any other model here.

        One partition keeps the registered model bit for bit the local one (LightGBM spread over
        workers bins and samples per worker, and its worker order is not fixed from run to run).
        """
        if type(model) is not LGBMHurdle or target != "any":
            return self._local.fit(model, X, y, y_count, months, horizon, target=target)
        frame = X.assign(_y=np.asarray(y, dtype=float), _count=np.asarray(y_count, dtype=float)).reset_index(
            drop=True
        )
        ddf = dd.from_pandas(frame, npartitions=1, sort=False)
        cols = list(X.columns)
        with dask_client(self.compute) as client:
            return fit_lgbm_hurdle_dask(
                client, ddf[cols], ddf["_y"], ddf["_count"], model=clone(model), one_machine=True
            )

    # --- a panel that stays in the workers' block files (compute.panel) ---------------------------

    def write_panel(self, features: Sequence[Feature], ctx: FeatureContext, horizons, out_dir) -> list[str]:
        """The run's panel written by the workers, one file per spatial block (never gathered)."""
        with dask_client(self.compute) as client:
            return write_panel_blocks(
                features,
                ctx,
                client,
                block_units=self.compute.block_units,
                horizons=horizons,
                out_dir=out_dir,
            )

    def backtest_blocks(
        self, panel: BlockPanel, feature_cols: list[str], models: dict, horizons: tuple[int, ...], **kwargs
    ) -> pd.DataFrame:
        """The backtest of a block panel: baselines on their gathered columns, LightGBM on the workers."""
        with dask_client(self.compute) as client:
            return backtest_on_blocks(client, panel, feature_cols, models, horizons, **kwargs)

    def fit_blocks(self, panel: BlockPanel, model, feature_cols: list[str], horizons, **kwargs) -> dict:
        """The final fit of a block panel per horizon: ``{h: (fitted, (first, last) training month)}``."""
        with dask_client(self.compute) as client:
            return fit_horizons_on_blocks(client, panel, model, feature_cols, horizons, **kwargs)

    def scorer(self, bundle, uri: str | None, rows: pd.DataFrame, top_k: int):
        # a run's bundle (no registry URI) is scored here; a registered one on the cluster
        return bundle if uri is None else DaskScorer(self.compute, uri, rows, top_k)
