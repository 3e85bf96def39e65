"""The report's line of trust: the registered model's backtest record, in one sentence.

Its Brier skill over climatology and the share of recorded counts inside the forecast 10-90 %
range come from ``metrics.csv`` with the intervals it holds. The hit rate is computed here from
``predictions.csv``, its 95 % interval resampling whole origin months with the draw
``metrics.csv`` uses (same seed, same months), so all three intervals are read alike.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.reporting.frontpage import short_month

__all__ = ["month_resamples", "trust_line", "trust_sentence"]


def month_resamples(n_months: int, n_boot: int, seed: int, horizon: int) -> np.ndarray:
    """How often each origin month is drawn in each resample, an (n_boot, n_months) matrix.

    The same draw as the backtest's intervals in ``metrics.csv`` (riskcast.evaluation.bootstrap,
    which reporting may not import): seeded by ``(seed, horizon)``, months drawn with replacement.
    """
    rng = np.random.default_rng([int(seed), int(horizon)])
    draws = rng.integers(0, n_months, size=(n_boot, n_months))
    counts = np.zeros((n_boot, n_months))
    np.add.at(counts, (np.repeat(np.arange(n_boot), n_months), draws.ravel()), 1.0)
    return counts


def _ratio_interval(num: np.ndarray, den: np.ndarray, counts: np.ndarray) -> tuple[float, float]:
    """95 % percentile interval of sum(num) / sum(den) over month resamples (per-month sums)."""
    if len(counts) == 0:
        return float("nan"), float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = (counts @ num) / (counts @ den)
    samples = samples[np.isfinite(samples)]
    if not len(samples):
        return float("nan"), float("nan")
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return float(lo), float(hi)


def _metric(metrics: pd.DataFrame, model: str, horizon: int, metric: str) -> dict | None:
    m = metrics[(metrics["model"] == model) & (metrics["horizon"] == horizon) & (metrics["metric"] == metric)]
    if m.empty or pd.isna(m["value"].iloc[0]):
        return None
    r = m.iloc[0]
    return {"value": float(r["value"]), "lo": r.get("ci_low"), "hi": r.get("ci_high"), "n": int(r["n"])}


def trust_line(
    metrics: pd.DataFrame,
    preds: pd.DataFrame | None,
    model: str | None,
    horizon: int,
    cut: float,
    n_boot: int,
    seed: int,
) -> dict | None:
    """The registered model's backtest record in one line's numbers (None when it has none).

    - ``skill``: Brier skill over climatology with its interval, as ``metrics.csv`` holds it;
    - ``hit``: the hit rate, the share of unit-months with an attack that the model had
      forecast at P >= ``cut``, with a 95 % interval from resampling whole origin months;
    - ``precision``: the share of forecasts at P >= ``cut`` followed by an attack;
    - ``coverage``: the share of recorded counts inside the forecast 10-90 % range (``metrics.csv``).
    """
    if not model or metrics.empty or model not in set(metrics["model"]):
        return None
    out: dict = {
        "model": model,
        "horizon": horizon,
        "cut": cut,
        "skill": _metric(metrics, model, horizon, "brier_skill_vs_climatology"),
        "coverage": _metric(metrics, model, horizon, "coverage_10_90"),
        "hit": None,
    }
    if preds is None or model not in set(preds["model"]):
        return out if out["skill"] else None
    d = preds[(preds["model"] == model) & (preds["horizon"] == horizon) & preds["y_true"].notna()]
    if d.empty:
        return out if out["skill"] else None
    months = sorted(d["origin"].astype(str).unique())
    out["months"], out["first"], out["last"] = len(months), d["target_month"].min(), d["target_month"].max()
    flagged = d["p"] >= cut
    attack = d["y_true"] == 1
    per_month = (
        d.assign(
            hit=(flagged & attack).astype(float), attack=attack.astype(float), flagged=flagged.astype(float)
        )
        .groupby(d["origin"].astype(str))[["hit", "attack", "flagged"]]
        .sum()
        .reindex(months, fill_value=0.0)
    )
    n_attack, n_flagged = per_month["attack"].sum(), per_month["flagged"].sum()
    if n_attack > 0:
        counts = month_resamples(len(months), n_boot, seed, horizon) if n_boot > 0 else np.zeros((0, 0))
        lo, hi = _ratio_interval(per_month["hit"].to_numpy(), per_month["attack"].to_numpy(), counts)
        out["hit"] = {"value": per_month["hit"].sum() / n_attack, "lo": lo, "hi": hi, "n": int(n_attack)}
    out["precision"] = per_month["hit"].sum() / n_flagged if n_flagged else None
    return out


def _signed(v: float) -> str:
    return f"{v:+.3f}"


def _pct(v: float) -> str:
    return f"{100 * v:.0f} %"


def _pct_interval(d: dict) -> str:
    """ " (69 % to 78 %)" from a share's ``lo``/``hi``; "" without an interval."""
    return f" ({_pct(d['lo'])} to {_pct(d['hi'])})" if pd.notna(d["lo"]) else ""


def trust_sentence(t: dict | None, unit_word: str) -> str:
    """The trust line in words, from :func:`trust_line`'s numbers ("" when there are none)."""
    if not t or not t.get("skill"):
        return ""
    sk, h = t["skill"], t["horizon"]
    when = (
        f"over {t['months']} months, {short_month(t['first'])} to {short_month(t['last'])}, "
        if t.get("months")
        else ""
    )
    # Brier skill = 1 - Brier / Brier of climatology: +0.079 is a Brier score 7.9 % lower
    better = "lower (better)" if sk["value"] >= 0 else "higher (worse)"
    text = (
        f"Trust (backtest {when}forecasts {h} month{'s' if h > 1 else ''} ahead): the registered model, "
        f"{t['model']}, has a Brier score {100 * abs(sk['value']):.1f} % {better} than each {unit_word}'s "
        f"own recent rate of attacks (Brier skill over climatology {_signed(sk['value'])}"
    )
    if pd.notna(sk["lo"]) and pd.notna(sk["hi"]):
        text += f", 95 % interval {_signed(sk['lo'])} to {_signed(sk['hi'])}"
    text += ")."
    hit = t.get("hit")
    if hit:
        text += (
            f" Of the {hit['n']:,} {unit_word}-months with an attack, {_pct(hit['value'])}{_pct_interval(hit)} had been "
            f"forecast at P \u2265 {t['cut']:g}"
        )
        if t.get("precision") is not None:
            text += f"; {_pct(t['precision'])} of the forecasts at P \u2265 {t['cut']:g} were followed by an attack"
        text += "."
    cov = t.get("coverage")
    if cov:
        text += (
            f" Attack counts fell inside the forecast's 10-90 % range {_pct(cov['value'])} of the time"
            f"{_pct_interval(cov)}."
        )
    return text
