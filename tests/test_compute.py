"""Feature building on Dask in spatial blocks with halos gives the local path's numbers.

The equivalence test runs the pipeline's feature stage twice on a PRIO-GRID panel of the embedded
SYNTHETIC data (336 cells x 156 months, every feature of the default set): once in this process,
once on a LocalCluster of two worker processes in blocks of 60 cells (6 blocks). Counts, lags and
decays must be bit for bit equal, floating aggregates within 1e-9 (here they are equal too).
A control with halos one step too thin shows the check can fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from riskcast.features.spatial import CountryTotal, NearestEventDistance, SpatialLag
from riskcast.scale import dask_features as compute
from riskcast.scale.dask_features import PartitionError, halo, spatial_blocks, spatial_reach

PG = ["unit=priogrid", "regions.bbox=[-6.0, 12.0, 4.5, 20.0]", "regions.max_unassigned_share=0.9"]
EXACT_FAMILIES = (
    "rolling",
    "lag",
    "decay",
    "time_since",
    "onset",
    "change",
    "events",
    "present",
    "troops",
    "withdrawal",
    "shock",
    "post_shock",
    "month_of_year",
    "rainy_season",
    "interaction",
    "n_",
    "target_",
)


@pytest.fixture(scope="module")
def grid():
    from riskcast.config import default_config
    from riskcast.features.context import build_context, load_actor_groups
    from riskcast.jobs.ingest import ingest
    from riskcast.jobs.stages import _feature_list
    from riskcast.panel import build_panel, month_range
    from riskcast.regions import Gazetteer

    cfg = default_config(PG)
    data = ingest(cfg)
    panel, arrays = build_panel(
        data.events,
        data.units,
        cfg.target,
        cfg.backtest.horizons,
        start=cfg.panel.start,
        end=cfg.panel.end,
        counts=data.counts,
    )
    months = month_range(panel["month"].min(), panel["month"].max())
    ctx = build_context(
        units=data.units,
        months=months,
        neighbours=Gazetteer(data.units).neighbour_matrix(),
        arrays=arrays,
        events=data.events,
        presence=data.presence,
        shocks=data.shocks,
        target=cfg.target,
        actor_groups=load_actor_groups(cfg.features.actor_groups),
    )
    return cfg, data, ctx, _feature_list(cfg)


def test_feature_stage_on_dask_equals_local(grid):
    from riskcast.config import default_config
    from riskcast.jobs.stages import build_feature_panel

    cfg, data, _, _ = grid
    local = build_feature_panel(cfg, data)
    on_dask = build_feature_panel(
        default_config(
            PG + ['compute.backend="dask"', "compute.block_units=60", 'compute.memory_limit="2GiB"']
        ),
        data,
    )
    assert local["unit_id"].nunique() > 5 * 60  # several partitions
    assert list(on_dask.columns) == list(local.columns) and len(on_dask) == len(local)
    for c in local.columns:
        a, b = local[c], on_dask[c]
        if a.dtype.kind != "f" or c.startswith(EXACT_FAMILIES):
            assert a.equals(b), c  # bit for bit (NaN where NaN)
        else:
            np.testing.assert_allclose(b.to_numpy(), a.to_numpy(), rtol=1e-9, atol=1e-9, err_msg=c)


def test_blocks_cover_every_unit_once_and_halos_hold_the_reach(grid, client):
    cfg, _, ctx, features = grid
    blocks = spatial_blocks(ctx.units, 60)
    assert len(blocks) == -(-len(ctx.units) // 60)
    assert np.array_equal(np.sort(np.concatenate(blocks)), np.arange(len(ctx.units)))
    steps = max(spatial_reach(f) for f in features)
    assert steps == 2  # second-order spatial lags in the default set
    sizes = [len(halo(b, ctx.neighbours, steps)) for b in blocks]
    assert all(s > len(b) for s, b in zip(sizes, blocks))  # every block gets neighbours from others


def test_too_thin_a_halo_is_caught(grid, client, monkeypatch):
    """The control: with halos one step short, second-order spatial lags differ from the local path."""
    from riskcast.features.base import compute_features

    _, _, ctx, features = grid
    local = compute_features(features, ctx)
    monkeypatch.setattr(compute, "spatial_reach", lambda f: max(spatial_reach(f) - 1, 0))
    thin = compute.compute_features_partitioned(features, ctx, client, 60)
    differ = [c for c in local.columns if not local[c].equals(thin[c])]
    assert differ and all("spatial_lag" in c for c in differ)


def test_country_totals_cross_blocks(grid, client):
    from riskcast.features.base import compute_features

    _, _, ctx, _ = grid
    feats = [CountryTotal(), SpatialLag(order=1, of=CountryTotal())]
    local = compute_features(feats, ctx)
    part = compute.compute_features_partitioned(feats, ctx, client, 50)
    pd.testing.assert_frame_equal(part, local)


def test_blocks_written_by_workers(grid, client, tmp_path):
    from riskcast.features.base import compute_features

    _, _, ctx, features = grid
    files = compute.compute_features_partitioned(features[:5], ctx, client, 100, out_dir=tmp_path)
    got = (
        pd.concat([pd.read_parquet(f) for f in files])
        .sort_values(["unit_id", "month"])
        .reset_index(drop=True)
    )
    want = compute_features(features[:5], ctx)
    want.insert(0, "month", np.tile(ctx.months.to_numpy(), len(ctx.units)))
    want.insert(0, "unit_id", np.repeat(ctx.units["unit_id"].astype(str).to_numpy(), len(ctx.months)))
    want = want.sort_values(["unit_id", "month"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_reach_of_nested_features_and_unbounded_ones():
    assert spatial_reach(SpatialLag(order=2, of=SpatialLag(order=1))) == 3
    assert spatial_reach(CountryTotal()) == 0
    with pytest.raises(PartitionError, match="km"):
        spatial_reach(SpatialLag(of=NearestEventDistance()))


def test_halo_on_a_chain():
    n = 8
    w = sp.diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], format="csr")
    assert list(halo(np.array([3]), w, 2)) == [1, 2, 3, 4, 5]
    assert list(halo(np.array([0, 7]), w, 1)) == [0, 1, 6, 7]
    assert list(halo(np.array([4]), w, 0)) == [4]


def test_whole_run_on_dask_matches_local(tmp_path):
    """One config line: the same features and backtest bit for bit, scores within 1e-9."""
    import subprocess
    import sys
    from pathlib import Path

    exe = str(Path(sys.executable).parent / "riskcast")
    fast = [
        x
        for s in (
            "model.set=fast",
            "backtest.horizons=[1]",
            "backtest.eval_months=6",
            "backtest.n_boot=20",
            "backtest.ablation=false",
            "target.intensity=[]",
        )
        for x in ("--set", s)
    ]
    for name, extra in (
        ("local", []),
        (
            "dask",
            [
                "--set",
                'compute.backend="dask"',
                "--set",
                "compute.block_units=4",
                "--set",
                'compute.memory_limit="2GiB"',
            ],
        ),
    ):
        r = subprocess.run(
            [exe, "demo", "--out", str(tmp_path / name), *fast, *extra], capture_output=True, text=True
        )
        assert r.returncode == 0, r.stderr[-3000:]
    local, dk = tmp_path / "local", tmp_path / "dask"
    pd.testing.assert_frame_equal(
        pd.read_parquet(dk / "features.parquet"), pd.read_parquet(local / "features.parquet")
    )
    assert (dk / "predictions.csv").read_bytes() == (local / "predictions.csv").read_bytes()
    a, b = pd.read_csv(local / "scores.csv"), pd.read_csv(dk / "scores.csv")
    # a model on a partition of rows may round the last bit differently from one batch (BLAS blocking)
    pd.testing.assert_frame_equal(b, a, check_exact=False, rtol=1e-9, atol=0.0)


def test_final_lightgbm_fit_on_dask_is_the_local_one(grid):
    """`fit_final` with the dask backend trains the LightGBM hurdle with lightgbm.dask: the same model."""
    from riskcast.config import default_config
    from riskcast.jobs import stages

    cfg, data, _, _ = grid
    panel = stages.build_feature_panel(cfg, data)
    sets = PG + ["backtest.horizons=[1]"]
    local, _ = stages.fit_final(default_config(sets), panel, "lgbm")
    on_dask, _ = stages.fit_final(
        default_config(sets + ['compute.backend="dask"', 'compute.memory_limit="2GiB"']), panel, "lgbm"
    )
    X = panel[stages.feature_columns(panel)]
    assert np.array_equal(local[1].predict_proba(X), on_dask[1].predict_proba(X))
    assert np.array_equal(local[1].predict_count(X), on_dask[1].predict_count(X))
