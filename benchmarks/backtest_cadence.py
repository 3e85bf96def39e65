#!/usr/bin/env python
"""What the backtest's refit cadence (``backtest.refit_every``) costs in skill and saves in time.

For each panel (the demo and the real Sahel configs of the skill card), the main backtest runs
once per cadence on identical folds. The script prints each model's Brier skill against
climatology with its 95 % month-bootstrap interval, per horizon and cadence, and the wall and
per-model seconds. A cadence is safe for a panel when every model's skill stays inside the
interval of the refit-at-every-origin run (k = 1).

    python benchmarks/backtest_cadence.py                         # demo + real panels, k = 1 3 6
    python benchmarks/backtest_cadence.py --only demo --k 1 3     # one panel, two cadences

Configs that need ``../shared/data`` are skipped, with the reason printed, when it is absent.
Only aggregate scores are printed, never event rows (ACLED's terms).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from riskcast.config import load_config
from riskcast.jobs import stages
from riskcast.jobs.evaluate import metrics_with_intervals
from riskcast.jobs.run import stage_features, stage_ingest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from skill import CONFIGS, ROOT, SHARED  # noqa: E402

#: the panels measured by default: the main job and the real panels `make skill` runs longest
DEFAULT_PANELS = ("demo", "mali_admin2", "burkina_admin2", "sahel_admin2")


def feature_panel(key: str, out_root: Path, sets: list[str] = ()) -> tuple[object, pd.DataFrame] | None:
    """(config, feature panel) of one skill-card config, built once into ``out_root/key``."""
    path, _, needs_shared = CONFIGS[key]
    if needs_shared and not SHARED.is_dir():
        print(f"{key}: skipped: {SHARED} is absent (the real data are not redistributed)")
        return None
    cfg = load_config(ROOT / path, list(sets))
    out = out_root / key
    out.mkdir(parents=True, exist_ok=True)
    panel = stage_features(cfg, out, stage_ingest(cfg, out))
    return cfg, panel


def skill_table(cfg, preds: pd.DataFrame) -> pd.DataFrame:
    """Brier skill vs climatology with its interval: model x horizon."""
    m = metrics_with_intervals(cfg, preds)
    return m[m["metric"] == "brier_skill_vs_climatology"].set_index(["model", "horizon"])[
        ["value", "ci_low", "ci_high"]
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", default=list(DEFAULT_PANELS), choices=sorted(CONFIGS))
    ap.add_argument("--k", nargs="*", type=int, default=[1, 3, 6], help="cadences (origins between refits)")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "bench_cadence")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="config override key=value")
    args = ap.parse_args(argv)
    for key in args.only:
        built = feature_panel(key, args.out, args.sets)
        if built is None:
            continue
        cfg, panel = built
        tables, seconds = {}, {}
        for k in args.k:
            run_cfg = cfg.model_copy(update={"backtest": cfg.backtest.model_copy(update={"refit_every": k})})
            per_model: dict = {}
            t = time.perf_counter()
            preds, _ = stages.backtest(run_cfg, panel, timings=per_model)
            seconds[k] = (time.perf_counter() - t, per_model)
            tables[k] = skill_table(run_cfg, preds)
        print(f"\n## {key}: Brier skill vs climatology [95 % interval], by cadence k (refit every k origins)")
        base = tables[args.k[0]]
        for (model, h), ref in base.iterrows():
            if model == "climatology":
                continue
            cells = []
            for k in args.k:
                r = tables[k].loc[(model, h)]
                inside = ref["ci_low"] <= r["value"] <= ref["ci_high"]
                cells.append(
                    f"k={k} {r['value']:+.3f} [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]{'' if inside else ' OUT'}"
                )
            print(f"  {model:26s} h={h:<2d} " + "  ".join(cells))
        for k in args.k:
            wall, per_model = seconds[k]
            top = ", ".join(f"{m} {s:.1f}" for m, s in sorted(per_model.items(), key=lambda kv: -kv[1])[:6])
            print(f"  k={k}: main backtest {wall:.1f} s wall; worker seconds by model: {top}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
