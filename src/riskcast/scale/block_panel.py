"""A run's feature panel written by the Dask workers, block by block, never gathered.

Each spatial block (``dask_features.spatial_blocks``) becomes one parquet file in the run's
``features.parquet/`` folder, holding what an in-memory panel holds for its units: the keys, the
observed counts, the features and the ``target_*`` columns, unit by unit, every month. The
features and the targets are computed by the same code as the in-memory panel's
(``compute_features`` in the block's halo, ``riskcast.panel.horizon_targets``), so the numbers
are the same; only the row order differs (block by block). ``riskcast.outputs.BlockPanel``
reads the folder back by column and month.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from riskcast.features.base import Feature, FeatureContext
from riskcast.panel import horizon_targets
from riskcast.scale.dask_features import compute_features_partitioned

__all__ = ["PanelColumns", "write_panel_blocks", "OBSERVED"]

#: the observed counts of a panel row (arrays of the feature context)
OBSERVED = ("n_target", "n_fatalities", "n_all")


@dataclass(frozen=True)
class PanelColumns:
    """The columns around a block's features: keys and counts before, targets after (on a worker)."""

    horizons: tuple[int, ...]

    def __call__(self, ctx: FeatureContext, core: np.ndarray) -> tuple[dict, dict]:
        n_m = len(ctx.months)
        units = ctx.units.iloc[core]
        before = {
            "unit_id": np.repeat(units["unit_id"].astype(str).to_numpy(), n_m),
            "unit_name": np.repeat(units["name"].astype(str).to_numpy(), n_m),
            "country": np.repeat(units["country"].astype(str).to_numpy(), n_m),
            "month": np.tile(ctx.months.to_numpy(), len(core)),
        }
        before.update({k: ctx.array(k)[core].ravel() for k in OBSERVED})
        targets = horizon_targets(ctx.array("n_target")[core], self.horizons, ctx.target.threshold)
        return before, {k: v.ravel() for k, v in targets.items()}


def write_panel_blocks(
    features: Sequence[Feature],
    ctx: FeatureContext,
    client,
    *,
    block_units: int,
    horizons: tuple[int, ...],
    out_dir: str | Path,
) -> list[str]:
    """Every block's panel rows written by the workers into ``out_dir`` (replaced whole); the files.

    The folder is built beside its final place and renamed into it, so a run killed half-way
    leaves the previous panel, never a mix of old and new blocks.
    """
    out_dir = Path(out_dir)
    building = out_dir.with_name(out_dir.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    compute_features_partitioned(
        list(features), ctx, client, block_units, out_dir=building, around=PanelColumns(tuple(horizons))
    )
    old = out_dir.with_name(out_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.is_dir():
        out_dir.rename(old)
    elif out_dir.exists():
        out_dir.unlink()  # an in-memory run's single file
    building.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)
    return sorted(str(p) for p in out_dir.glob("block-*.parquet"))
