#!/usr/bin/env python
"""Skill card: every model of the default set against the baselines, on real Sahel data.

Runs the whole chain (``riskcast run``) for each config below, then writes
``reports/skill_card.md``: Brier skill against climatology with 95 % month-bootstrap
intervals, AUPR, ECE, the ablation by feature family, every intensity target against its own
climatology, and the issue-14 targets with how far each is. Only aggregate scores go into the card, never event rows (ACLED's terms).

Configs that need ``../shared/data`` are skipped, with the reason printed, when it is absent.

    python benchmarks/skill.py                      # all configs, card in reports/
    python benchmarks/skill.py --only mali_admin2   # one
    python benchmarks/skill.py --reuse              # the card again from the finished runs in out/skill
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CONFIGS = {
    "demo": ("pipelines/demo.toml", "embedded SYNTHETIC Mali admin-1 (the main job)", False),
    "mali_admin1": (
        "examples/acled_mali.toml",
        "real ACLED Mali, admin-1 (regions), the last 24 origins",
        True,
    ),
    "mali_admin2": (
        "examples/acled_mali_admin2.toml",
        "real ACLED Mali, admin-2 (50 cercles), origins 2017-01..",
        True,
    ),
    "burkina_admin1": (
        "examples/acled_burkina.toml",
        "real ACLED Burkina Faso, admin-1 (13 regions), origins 2017-01..",
        True,
    ),
    "burkina_admin2": (
        "examples/acled_burkina_admin2.toml",
        "real ACLED Burkina Faso, admin-2 (45 provinces), origins 2017-01..",
        True,
    ),
    "niger_admin2": (
        "examples/acled_niger_admin2.toml",
        "real ACLED Niger, admin-2 (67 departments), origins 2017-01..",
        True,
    ),
    "sahel_admin2": (
        "examples/acled_sahel_admin2.toml",
        "real ACLED Sahel: Mali cercles + Burkina Faso provinces + Niger departments in one panel (162 units), "
        "origins 2017-01..2019-05",
        True,
    ),
}


def _fmt(v, ci=None) -> str:
    if pd.isna(v):
        return "n/a"
    return f"{v:.3f}" if ci is None or pd.isna(ci[0]) else f"{v:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def run_config(key: str, out_root: Path, reuse: bool = False) -> dict | None:
    path, title, needs_shared = CONFIGS[key]
    if needs_shared and not SHARED.is_dir():
        print(f"{key}: skipped: {SHARED} is absent (the real data are not redistributed)")
        return None
    from riskcast.config import load_config
    from riskcast.jobs.run import run_all

    cfg = load_config(ROOT / path, [])
    out = out_root / key
    if (
        reuse
        and (out / "run.json").is_file()
        and "timings_seconds" in (run := json.loads((out / "run.json").read_text()))
    ):
        wall = run["timings_seconds"]["total"]  # a finished run of this card: read, not rerun
    else:
        if (
            out / "run.json"
        ).is_file():  # a previous card's run: start fresh, so no earlier champion competes
            import shutil

            shutil.rmtree(out)
        t = time.perf_counter()
        run = run_all(cfg, out, echo=lambda m: None)
        wall = time.perf_counter() - t
    metrics = pd.read_csv(out / "metrics.csv")
    ablation = pd.read_csv(out / "ablation.csv") if (out / "ablation.csv").exists() else None
    intensity = (
        pd.read_csv(out / "intensity_metrics.csv") if (out / "intensity_metrics.csv").exists() else None
    )
    spreads = _spreads(out)
    print(
        f"{key}: {wall:.1f} s (backtest {run['timings_seconds']['backtest']} s, {run['backtest']['folds']} folds)"
    )
    from riskcast.jobs.stages import baseline_names

    return {
        "key": key,
        "title": title,
        "baselines": baseline_names(cfg),
        "config": path,
        "metrics": metrics,
        "ablation": ablation,
        "run": run,
        "wall": wall,
        "intensity": intensity,
        "spreads": spreads,
        "out": out,
        "units": int(pd.read_parquet(out / "features.parquet", columns=["unit_id"])["unit_id"].nunique()),
    }


def _spreads(out: Path, top_n: int = 10) -> dict[str, float]:
    """Spread of P across the top ``top_n`` units at h=1, per target (the report's headline rule)."""
    from riskcast.reporting.intensity import spread_of_top

    scores = pd.read_csv(out / "scores.csv")
    h = scores["horizon"].min()
    spreads = {"any": spread_of_top(scores[scores["horizon"] == h].set_index("unit_id")["p"], top_n)}
    if (out / "intensity_scores.csv").exists():
        extra = pd.read_csv(out / "intensity_scores.csv")
        for t, d in extra[extra["horizon"] == h].groupby("target", sort=False):
            spreads[t] = spread_of_top(d.set_index("unit_id")["p"], top_n)
    return spreads


def _table(metrics: pd.DataFrame, metric: str, baselines: list[str], with_ci: bool = True) -> list[str]:
    m = metrics[metrics["metric"] == metric]
    horizons = sorted(m["horizon"].unique())
    models = [b for b in baselines if b in set(m["model"])] + sorted(set(m["model"]) - set(baselines))
    lines = ["| model | " + " | ".join(f"h={h}" for h in horizons) + " |", "|---|" + "---:|" * len(horizons)]
    for model in models:
        cells = []
        for h in horizons:
            r = m[(m["model"] == model) & (m["horizon"] == h)]
            if r.empty:
                cells.append("")
                continue
            r = r.iloc[0]
            ci = (r.get("ci_low"), r.get("ci_high")) if with_ci and "ci_low" in r else None
            cells.append(_fmt(r["value"], ci))
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return lines


def _value(metrics: pd.DataFrame, model: str, metric: str, h: int) -> float:
    r = metrics[(metrics["model"] == model) & (metrics["metric"] == metric) & (metrics["horizon"] == h)]
    return float(r["value"].iloc[0]) if len(r) else float("nan")


def _champion(res: dict) -> str:
    return json.loads((Path(res["run"]["outputs"]["features"]).parent / "model.json").read_text())["model"]


def _targets(res: dict) -> list[str]:
    """The issue-14 targets for this panel, each with its value, its interval and how far it is."""
    m, champ = res["metrics"], _champion(res)
    ok = lambda c: "met" if c else "**not met**"  # noqa: E731

    def skill(model, h):
        r = m[(m["model"] == model) & (m["metric"] == "brier_skill_vs_climatology") & (m["horizon"] == h)]
        return (
            (float(r["value"].iloc[0]), float(r["ci_low"].iloc[0]), float(r["ci_high"].iloc[0]))
            if len(r)
            else (float("nan"),) * 3
        )

    lines = []
    for h, goal in ((1, 0.11), (3, 0.08)):
        v, lo, hi = skill(champ, h)
        lines.append(
            f"- Brier skill vs climatology at h={h} >= {goal} (registered model `{champ}`): {v:.4f} [{lo:.3f}, {hi:.3f}] "
            f"({ok(v >= goal)}; {v - goal:+.4f})"
        )
    horizons = sorted(m["horizon"].unique())
    worst = min(skill(champ, h)[0] for h in horizons)
    lines.append(
        f"- no horizon below climatology (`{champ}`): "
        + ", ".join(f"h={h} {skill(champ, h)[0]:.3f}" for h in horizons)
        + f" ({ok(worst >= 0)})"
    )
    for h in (1, 3):
        full, hist = skill("logistic", h)[0], skill("logistic_history", h)[0]
        lines.append(
            f"- full features beat history only at h={h} (logistic vs logistic_history): {full:.3f} vs {hist:.3f} ({ok(full > hist)})"
        )
    ece = _value(m, champ, "ece", 1)
    lines.append(f"- ECE at h=1 < 0.03 (`{champ}`): {ece:.3f} ({ok(ece < 0.03)})")
    im = res.get("intensity")
    if im is not None:
        chosen = json.loads((Path(res["run"]["outputs"]["features"]).parent / "model.json").read_text()).get(
            "intensity_models", {}
        )
        for t, model in chosen.items():
            r = im[
                (im["target"] == t)
                & (im["model"] == model)
                & (im["metric"] == "brier_skill_vs_climatology")
                & (im["horizon"] == 1)
            ]
            v = float(r["value"].iloc[0])
            lines.append(
                f"- intensity `{t}` Brier skill vs its own climatology at h=1 >= 0.05 (`{model}`): {v:.4f} "
                f"[{float(r['ci_low'].iloc[0]):.3f}, {float(r['ci_high'].iloc[0]):.3f}] ({ok(v >= 0.05)})"
            )
    if res.get("spreads"):
        lines.append(
            "- spread of P across the top ten units at h=1, by target (headline: widest): "
            + ", ".join(f"{t} {v:.2f}" for t, v in res["spreads"].items())
        )
    bt = res["run"]["timings_seconds"]["backtest"]
    lines.append(
        f"- backtest (with ablation, intensity targets and bootstrap) {bt:.0f} s; under 120 s: {ok(bt < 120)}"
    )
    return lines


def _logit(p: pd.Series) -> pd.Series:
    p = p.clip(0.01, 0.99)
    return (p / (1 - p)).apply(math.log)


def _oracle(res: dict) -> list[str]:
    """How far the goals are: skill of forecasters that know what no forecaster can (on the same rows).

    ``unit rate``: each unit's true attack rate over the whole evaluation window; ``unit rate and
    month``: that, shifted on the logit scale by the true share of the country's units attacked in
    the target month. Both read the outcomes: upper references, never models.
    """
    preds = pd.read_csv(res["out"] / "predictions.csv")
    champ = _champion(res)
    cells = {"registered model": [], "oracle: unit rate": [], "oracle: unit rate and month": []}
    horizons = sorted(preds["horizon"].unique())
    for h in horizons:
        c = preds[(preds["model"] == "climatology") & (preds["horizon"] == h)]
        m = preds[(preds["model"] == champ) & (preds["horizon"] == h)]
        ref = ((c["p"] - c["y_true"]) ** 2).mean()
        unit = c.groupby("unit_id")["y_true"].transform("mean")
        month = c.groupby(["country", "target_month"])["y_true"].transform("mean")
        both = 1 / (
            1
            + (-(_logit(unit) + _logit(month) - _logit(pd.Series([c["y_true"].mean()])).iloc[0])).apply(
                math.exp
            )
        )
        for name, p in (
            ("registered model", m["p"].to_numpy()),
            ("oracle: unit rate", unit.to_numpy()),
            ("oracle: unit rate and month", both.to_numpy()),
        ):
            y = (m if name == "registered model" else c)["y_true"].to_numpy()
            cells[name].append(f"{1 - ((p - y) ** 2).mean() / ref:.3f}")
    return [
        "Brier skill against climatology of the registered model beside two oracles that read the outcomes "
        "(upper references: the unit's true rate over the evaluation window; that rate and the true "
        "country-wide share of units attacked in the month):",
        "",
        "| forecaster | " + " | ".join(f"h={h}" for h in horizons) + " |",
        "|---|" + "---:|" * len(horizons),
        *[f"| {name} | " + " | ".join(v) + " |" for name, v in cells.items()],
        "",
    ]


def _intensity_tables(res: dict) -> list[str]:
    im = res.get("intensity")
    if im is None:
        return []
    lines = []
    for t in dict.fromkeys(im["target"]):
        lines += [
            f"Intensity target `{t}` ({res['run'].get('targets', {}).get(t, t)}): Brier skill against its own climatology:",
            "",
            *_table(im[im["target"] == t], "brier_skill_vs_climatology", res["baselines"]),
            "",
        ]
    return lines


#: the joint panel's countries and their single-country runs
POOLED = ("sahel_admin2", {"Mali": "mali_admin2", "Burkina Faso": "burkina_admin2", "Niger": "niger_admin2"})
POOLING_MODELS = ("logistic", "logistic_shrunk", "ensemble", "glm_negbin", "lgbm")


def _skill_by_horizon(preds: pd.DataFrame, model: str) -> dict[int, float]:
    d = preds[preds["model"].isin([model, "climatology"])]
    brier = ((d["p"] - d["y_true"]) ** 2).groupby([d["model"], d["horizon"]]).mean().unstack("model")
    return (1 - brier[model] / brier["climatology"]).to_dict()


def _pooling(results: list[dict]) -> list[str]:
    """Pooled (one joint panel) against each country's own model, on identical (unit, origin, horizon) rows."""
    by_key = {r["key"]: r for r in results}
    joint_key, singles = POOLED
    if joint_key not in by_key or not all(k in by_key for k in singles.values()):
        return []
    joint = pd.read_csv(by_key[joint_key]["out"] / "predictions.csv")
    lines = [
        "## Does pooling help? The joint Sahel panel against each country's own model",
        "",
        "Brier skill vs climatology on identical rows (the single-country run's predictions restricted to the joint",
        "run's units, origins and horizons; every forecast at an origin uses only data up to it, so the rows are",
        "the same forecasts the single-country run would make with the joint panel's end).",
        "",
    ]
    horizons = sorted(joint["horizon"].unique())
    lines += [
        "| country | model | " + " | ".join(f"h={h} own / pooled" for h in horizons) + " |",
        "|---|---|" + "---:|" * len(horizons),
    ]
    for country, key in singles.items():
        pooled = joint[joint["country"] == country]
        own = pd.read_csv(by_key[key]["out"] / "predictions.csv")
        rows = pooled[["unit_id", "origin", "horizon"]].drop_duplicates()
        own = own.merge(rows, on=["unit_id", "origin", "horizon"])
        for model in POOLING_MODELS:
            if model not in set(own["model"]) or model not in set(pooled["model"]):
                continue
            a, b = _skill_by_horizon(own, model), _skill_by_horizon(pooled, model)
            lines.append(
                f"| {country} | {model} | "
                + " | ".join(f"{a.get(h, float('nan')):.3f} / {b.get(h, float('nan')):.3f}" for h in horizons)
                + " |"
            )
    return [*lines, ""]


def card(results: list[dict]) -> str:
    from riskcast.evaluation.ablation import ablation_table

    lines = [
        "# riskcast skill card",
        "",
        "Generated by `python benchmarks/skill.py` (do not edit by hand). Rolling-origin backtests: every model",
        "and both baselines on identical folds; a gap of h months between training targets and the origin.",
        "Intervals: 95 % percentile bootstrap over whole origin months (200 resamples).",
        "",
    ]
    for res in results:
        run = res["run"]
        lines += [
            f"## {res['title']}",
            "",
            f"Config `{res['config']}`; {res['units']} units; origins per horizon: "
            + ", ".join(
                f"h={h}: {a}..{b}"
                for h, (a, b) in sorted(run["backtest"]["origins"].items(), key=lambda kv: int(kv[0]))
            )
            + f"; whole run {res['wall']:.0f} s (backtest, ablation and bootstrap {run['timings_seconds']['backtest']:.0f} s)"
            + f"; champion candidate `{json.loads((Path(run['outputs']['features']).parent / 'model.json').read_text())['model']}`.",
            "",
            "Targets (issue 14):",
            "",
            *_targets(res),
            "",
            "Brier skill against climatology (higher is better; 0 = climatology):",
            "",
            *_table(res["metrics"], "brier_skill_vs_climatology", res["baselines"]),
            "",
            "AUPR:",
            "",
            *_table(res["metrics"], "aupr", res["baselines"], with_ci=False),
            "",
            "Expected calibration error (10 bins; lower is better):",
            "",
            *_table(res["metrics"], "ece", res["baselines"], with_ci=False),
            "",
            *_oracle(res),
            *_intensity_tables(res),
        ]
        if res["ablation"] is not None and len(res["ablation"]):
            t = ablation_table(res["ablation"], metrics=("brier_skill_vs_climatology",)).dropna(
                axis=1, how="all"
            )  # families with no columns
            model = run.get("ablation_model", "the ablation model")
            lines += [
                f"Ablation ({model}): Brier skill with all features, and its change when a family is dropped",
                "(negative change = the family helped):",
                "",
                "| horizon | " + " | ".join(t.columns) + " |",
                "|---|" + "---:|" * len(t.columns),
            ]
            for (h, _), row in t.iterrows():
                lines.append(
                    f"| {h} | "
                    + " | ".join(
                        "n/a" if pd.isna(v) else f"{v:+.3f}" if c.startswith("without") else f"{v:.3f}"
                        for c, v in row.items()
                    )
                    + " |"
                )
            lines.append("")
    lines += _pooling(results)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(CONFIGS), action="append")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "skill", help="run folders")
    ap.add_argument("--card", type=Path, default=ROOT / "reports" / "skill_card.md")
    ap.add_argument(
        "--reuse", action="store_true", help="read finished runs in --out instead of running them again"
    )
    args = ap.parse_args(argv)
    results = [
        r for key in (args.only or list(CONFIGS)) if (r := run_config(key, args.out, args.reuse)) is not None
    ]
    if not results:
        print("nothing ran")
        return 0
    from riskcast.atomic import write_text

    write_text(args.card, card(results))
    print(f"card: {args.card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
