"""A run whose panel stays in the Dask workers' block files (``compute.panel``).

Small panels written by hand as block files (3 blocks x 8 units x 60 months) check the parts:
the baselines' forecasts are an in-memory backtest's to the bit, the LightGBM hurdle fitted from
blocks on one worker is the in-process fit to the bit (and on two, close in skill), reruns are
byte-identical, and nothing dated after an origin reaches its forecasts. One whole grid run of
the embedded SYNTHETIC data checks the product's command end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import distributed
import numpy as np
import pandas as pd
import pytest

from riskcast.evaluation.backtest import run_backtest
from riskcast.models.baselines import Climatology, Persistence
from riskcast.models.gbm import LGBMHurdle
from riskcast.outputs import BlockPanel
from riskcast.scale import fits_on_blocks
from riskcast.scale.block_backtest import backtest_on_blocks, fit_on_blocks, read_narrow
from riskcast.scale.block_hurdle import TrainRows, fit_hurdle_on_blocks

N_BLOCKS, UNITS, MONTHS = 3, 8, 60
HORIZONS = (1, 3)
FEATURES = ["share", "sum", "current", "f1", "f2"]
SPLIT = dict(min_train_months=24, eval_months=6)


def _panel(seed: int = 0) -> pd.DataFrame:
    """A panel in memory (panel order: unit, then month) with features, counts and targets."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2015-01-01", periods=MONTHS, freq="MS")
    rate = rng.gamma(0.6, 1.0, size=(N_BLOCKS * UNITS, 1)) * (1 + 0.5 * np.sin(np.arange(MONTHS) / 6))
    n = rng.poisson(rate).astype(float)
    rows = []
    for u in range(N_BLOCKS * UNITS):
        s = pd.Series(n[u])
        f = pd.DataFrame(
            {
                "unit_id": f"U{u:03d}",
                "unit_name": f"unit {u}",
                "country": "A" if u % 2 else "B",
                "month": months,
                "n_target": n[u],
                "share": (s > 0).rolling(12, min_periods=1).mean().to_numpy(),
                "sum": s.rolling(12, min_periods=1).sum().to_numpy(),
                "current": n[u],
                "f1": s.rolling(3, min_periods=1).mean().to_numpy() + rng.normal(0, 0.1, MONTHS),
                "f2": rng.normal(size=MONTHS),
            }
        )
        for h in HORIZONS:
            ahead = s.shift(-h).to_numpy()
            f[f"target_any_h{h}"] = np.where(np.isnan(ahead), np.nan, (ahead >= 1).astype(float))
            f[f"target_count_h{h}"] = ahead
        rows.append(f)
    return pd.concat(rows, ignore_index=True)


def _write_blocks(panel: pd.DataFrame, folder: Path) -> BlockPanel:
    """The panel as block files; blocks hold units in an order other than the panel's."""
    folder.mkdir(parents=True, exist_ok=True)
    units = panel["unit_id"].unique()
    order = np.random.default_rng(7).permutation(len(units))
    for b in range(N_BLOCKS):
        mine = units[order[b * UNITS : (b + 1) * UNITS]]
        part = panel[panel["unit_id"].isin(mine)]
        part.to_parquet(folder / f"block-{b:05d}.parquet", index=False)
    return BlockPanel(folder)


def _models() -> dict:
    gbm = dict(n_estimators=30, min_child_samples=10, min_positive_rows=10)
    return {
        "climatology": Climatology(share_column="share", sum_column="sum"),
        "persistence": Persistence(column="current"),
        "lgbm": LGBMHurdle(columns=tuple(FEATURES), **gbm),
        "lgbm_history": LGBMHurdle(columns=("share", "sum", "current"), **gbm),
    }


@pytest.fixture(scope="module")
def blocks(tmp_path_factory):
    panel = _panel()
    return panel, _write_blocks(panel, tmp_path_factory.mktemp("blocks") / "features.parquet")


def _on_blocks(client, bp, panel, models, **kw):
    return backtest_on_blocks(
        client,
        bp,
        FEATURES,
        models,
        HORIZONS,
        unit_order=list(panel["unit_id"].unique()),
        n_jobs=1,
        **SPLIT,
        **kw,
    )


def test_the_grid_models_fit_on_blocks_and_the_glms_do_not():
    from riskcast.models.linear import LogisticCount

    assert all(fits_on_blocks(m) for m in _models().values())
    assert not fits_on_blocks(LogisticCount())


def test_narrow_columns_come_back_in_panel_order(blocks):
    panel, bp = blocks
    narrow = read_narrow(bp, ["share", "target_any_h1"], list(panel["unit_id"].unique()))
    assert isinstance(narrow["unit_id"].dtype, pd.CategoricalDtype)  # 1 GB less on an Africa grid's driver
    narrow["unit_id"] = narrow["unit_id"].astype(object)
    pd.testing.assert_frame_equal(
        narrow[["unit_id", "month", "share", "target_any_h1"]],
        panel[["unit_id", "month", "share", "target_any_h1"]],
    )


def test_block_backtest_baselines_to_the_bit_lightgbm_close_and_reruns_identical(client, blocks):
    panel, bp = blocks
    models = _models()
    kw = dict(refit_every=2)
    in_memory = run_backtest(panel, FEATURES, models, HORIZONS, n_jobs=1, **SPLIT, **kw)
    on_blocks = _on_blocks(client, bp, panel, models, **kw)
    assert list(on_blocks.columns) == list(in_memory.columns) and len(on_blocks) == len(in_memory)
    for name in ("climatology", "persistence"):
        a = in_memory[in_memory["model"] == name].reset_index(drop=True)
        b = on_blocks[on_blocks["model"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(b, a, check_exact=True)
    for name in ("lgbm", "lgbm_history"):
        a = in_memory[in_memory["model"] == name].reset_index(drop=True)
        b = on_blocks[on_blocks["model"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(b.drop(columns=["p", "expected_count", "q10", "q50", "q90"]),
                                      a.drop(columns=["p", "expected_count", "q10", "q50", "q90"]))  # fmt: skip
        brier_a = ((a["p"] - a["y_true"]) ** 2).mean()
        brier_b = ((b["p"] - b["y_true"]) ** 2).mean()
        # data-parallel trees on two workers' rows: close to the in-process fit, not equal
        assert abs(brier_b - brier_a) < 0.1 * brier_a, (name, brier_a, brier_b)
        assert np.corrcoef(a["p"], b["p"])[0, 1] > 0.9
    again = _on_blocks(client, bp, panel, models, **kw)
    pd.testing.assert_frame_equal(again, on_blocks, check_exact=True)


def test_nothing_after_an_origin_reaches_its_block_forecasts(client, blocks, tmp_path):
    """Every feature after month t and every target not known at t replaced by noise: the
    forecasts made at origins <= t do not move."""
    panel, _ = blocks
    models = {k: v for k, v in _models().items() if k in ("persistence", "lgbm")}
    before = _on_blocks(client, _write_blocks(panel, tmp_path / "a"), panel, models)
    t = pd.Timestamp("2019-07-01")  # the 3rd of the 6 origins
    rng = np.random.default_rng(5)
    noisy = panel.copy()
    late = noisy["month"] > t
    for c in FEATURES:
        noisy.loc[late, c] = rng.normal(size=late.sum()) * 5
    for h in HORIZONS:
        unknown = noisy["month"] + pd.DateOffset(months=h) > t
        noisy.loc[unknown, f"target_any_h{h}"] = rng.integers(0, 2, unknown.sum()).astype(float)
        noisy.loc[unknown, f"target_count_h{h}"] = rng.integers(0, 9, unknown.sum()).astype(float)
    after = _on_blocks(client, _write_blocks(noisy, tmp_path / "b"), noisy, models)
    cols = ["model", "horizon", "origin", "unit_id", "p", "expected_count", "q10", "q50", "q90"]
    early_a = before.loc[before["origin"] <= t, cols].reset_index(drop=True)
    early_b = after.loc[after["origin"] <= t, cols].reset_index(drop=True)
    assert len(early_a) > 0
    pd.testing.assert_frame_equal(early_b, early_a, check_exact=True)
    assert not before.loc[before["origin"] > t, "p"].equals(
        after.loc[after["origin"] > t, "p"]
    )  # the control


def test_hurdle_from_blocks_on_one_worker_is_the_in_process_fit_bit_for_bit(blocks):
    """One worker: the same rows in block order, as float32, give the same trees, counts and size."""
    panel, bp = blocks
    model = _models()["lgbm"]
    last = pd.Timestamp("2018-12-01")
    narrow = read_narrow(bp, ["target_any_h1", "target_count_h1"], list(panel["unit_id"].unique()))
    window = narrow[(narrow["month"] <= last) & narrow["target_any_h1"].notna()]
    labels = window[["_block", "target_any_h1", "target_count_h1"]].set_axis(["_block", "y", "count"], axis=1)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as c,
        distributed.Client(c) as one,
    ):
        est = fit_hurdle_on_blocks(
            one, model, bp.files, labels, FEATURES, target="target_any_h1", count="target_count_h1", last=last
        )
    load = TrainRows(tuple(FEATURES), "target_any_h1", "target_count_h1", last)
    frames = [load.frame(f) for f in bp.files]
    rows = pd.concat(frames, ignore_index=True)
    X = rows[FEATURES].astype(np.float32).astype(float)
    local = LGBMHurdle(**model.get_params()).fit(
        X, rows["target_any_h1"].to_numpy(), y_count=rows["target_count_h1"].to_numpy()
    )
    test = panel[FEATURES]
    np.testing.assert_array_equal(est.predict_proba(test), local.predict_proba(test))
    np.testing.assert_array_equal(est.predict_count(test), local.predict_count(test))
    assert est.nb_size_ == local.nb_size_ and est.pos_mean_ == local.pos_mean_
    np.testing.assert_array_equal(est.contributions(test).to_numpy(), local.contributions(test).to_numpy())


def test_final_fit_on_blocks_reads_every_known_row(client, blocks):
    panel, bp = blocks
    units = list(panel["unit_id"].unique())
    est, (first, last) = fit_on_blocks(client, bp, _models()["lgbm"], FEATURES, 3, unit_order=units)
    assert (first, last) == (panel["month"].min(), panel["month"].max() - pd.DateOffset(months=3))
    assert est.predict_proba(panel[FEATURES]).shape == (len(panel), 2)
    clim, window = fit_on_blocks(client, bp, _models()["climatology"], FEATURES, 3, unit_order=units)
    known = panel[panel["target_any_h3"].notna()]
    local = Climatology(share_column="share", sum_column="sum").fit(
        known[FEATURES], known["target_any_h3"], y_count=known["target_count_h3"]
    )
    assert clim.nb_size_ == local.nb_size_ and window == (first, last)


def test_grid_run_on_dask_blocks_end_to_end(tmp_path):
    """`riskcast demo` on PRIO-GRID cells with compute.backend = "dask": the panel stays in block
    files, and the backtest, the registered model, the scores and the report come out."""
    exe = str(Path(sys.executable).parent / "riskcast")
    sets = [
        "unit=priogrid",
        "regions.bbox=[-6.0, 12.0, 4.5, 20.0]",
        "regions.max_unassigned_share=0.9",
        "backtest.horizons=[1, 3]",
        "backtest.eval_months=2",
        "backtest.n_boot=20",
        "backtest.ablation=false",
        "target.intensity=[]",
        "report.pdf=false",
        'compute.backend="dask"',
        "compute.block_units=120",
        'compute.memory_limit="2GiB"',
    ]
    out = tmp_path / "grid"
    r = subprocess.run(
        [exe, "-q", "demo", "--out", str(out), *[x for s in sets for x in ("--set", s)]],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "features.parquet").is_dir() and len(
        list((out / "features.parquet").glob("block-*.parquet"))
    ) == 3
    run = json.loads((out / "run.json").read_text())
    assert run["panel"]["storage"] == "blocks" and run["panel"]["units"] == 336
    assert set(run["backtest"]["models"]) == {"climatology", "persistence", "lgbm", "lgbm_history"}
    preds = pd.read_csv(out / "predictions.csv")
    assert len(preds) == 336 * 2 * 2 * 4 and preds["p"].notna().all()
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 336 * 2 and scores["p"].between(0, 1).all()
    assert json.loads((out / "model.json").read_text())["model"] in ("lgbm", "lgbm_history")
    assert "lgbm" in (out / "report.html").read_text()
    # the baselines' forecasts are those of the same folds on the panel gathered in memory
    bp = BlockPanel(out / "features.parquet")
    units = pd.read_parquet(out / "tables" / "units.parquet")["unit_id"].astype(str).tolist()
    gathered = read_narrow(bp, list(bp.columns), units).drop(columns="_block")
    gathered = gathered.astype({c: object for c in ("unit_id", "unit_name", "country")})
    from riskcast.config import default_config
    from riskcast.jobs.stages import backtest_kwargs, feature_columns, models_for

    cfg = default_config(sets)
    base = {k: v for k, v in models_for(cfg).items() if k in ("climatology", "persistence")}
    local = run_backtest(gathered, feature_columns(gathered), base, (1, 3), n_jobs=1, **backtest_kwargs(cfg))
    local = local.assign(
        origin=local["origin"].dt.strftime("%Y-%m"), target_month=local["target_month"].dt.strftime("%Y-%m")
    )
    mine = preds[preds["model"].isin(base)].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        mine[["model", "horizon", "origin", "unit_id", "p"]],
        local[["model", "horizon", "origin", "unit_id", "p"]].reset_index(drop=True),
        check_exact=False, rtol=1e-9, atol=0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("setting", "key"),
    [("target.intensity=[]", "backtest.ablation"), ("backtest.ablation=false", "target.intensity")],
)
def test_a_block_run_refuses_what_needs_the_panel_in_memory_before_the_features(tmp_path, setting, key):
    """The ablation and the intensity targets (the demo has three) are refused in plain words,
    exit code 2, before any feature is built."""
    exe = str(Path(sys.executable).parent / "riskcast")
    sets = ["unit=priogrid", "regions.bbox=[-6.0, 12.0, 4.5, 20.0]", "regions.max_unassigned_share=0.9",
            'compute.backend="dask"', setting]  # fmt: skip
    r = subprocess.run(
        [exe, "-q", "demo", "--out", str(tmp_path / "o"), *[x for s in sets for x in ("--set", s)]],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and key in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / "o" / "features.parquet").exists()
