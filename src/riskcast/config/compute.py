"""Where a run's heavy work runs (the config's ``[compute]`` section)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from riskcast.config.base import _Frozen

__all__ = ["ComputeSpec"]


class ComputeSpec(_Frozen):
    backend: Literal["local", "dask"] = Field(
        "local", description="'local': this process (default); 'dask': a Dask cluster"
    )
    scheduler: str | None = Field(
        None,
        description="address of an existing Dask scheduler (tcp://host:8786); none: an in-process LocalCluster",
    )
    n_workers: int = Field(2, ge=1, description="LocalCluster worker processes")
    threads_per_worker: int = Field(1, ge=1, description="LocalCluster threads per worker")
    memory_limit: str = Field(
        "4GiB", description="LocalCluster memory limit per worker (Dask's syntax: '4GiB', '2GB')"
    )
    block_units: int = Field(
        2000,
        ge=1,
        description="units per spatial block when features are built in partitions (each block gets a halo of neighbours)",
    )
    panel: Literal["auto", "gathered", "blocks"] = Field(
        "auto",
        description="on Dask, where the feature panel lives: 'blocks' = the workers' block files, read by the "
        "backtest, the final fit and scoring without gathering (baselines and LightGBM hurdles only); "
        "'gathered' = one frame on the driver (any model); 'auto' = blocks when the model set allows",
    )
