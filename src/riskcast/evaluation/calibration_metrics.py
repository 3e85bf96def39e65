"""Calibration: expected calibration error and the reliability table behind it.

Both use ``n_bins`` equal-width bins of the forecast probability on [0, 1] (bin k holds
k/n_bins <= p < (k+1)/n_bins; p = 1 falls in the last bin). Equal-width rather than
equal-count bins so that tables of different models line up bin by bin and can be drawn on
one reliability diagram.

ECE = sum over bins of (n_bin / n) * |mean p in bin - observed rate in bin|, empty bins
contributing nothing. Because (n_bin / n) * |mean p - rate| = |sum over the bin of (p - y)| / n,
ECE is a function of per-bin sums of ``p - y``: the bootstrap resamples it as a weighted sum.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["ECE_BINS", "bin_index", "expected_calibration_error", "reliability_table"]

ECE_BINS = 10


def bin_index(p: np.ndarray, n_bins: int = ECE_BINS) -> np.ndarray:
    """Equal-width bin (0 .. n_bins - 1) of each probability; p = 1 goes to the last bin."""
    p = np.asarray(p, dtype=float)
    return np.clip(np.floor(p * n_bins), 0, n_bins - 1).astype(np.int64)


def expected_calibration_error(y, p, n_bins: int = ECE_BINS, sample_weight=None) -> float:
    """ECE with equal-width bins, each bin weighted by its (weighted) share of the rows."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    w = np.ones_like(p) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if w.sum() <= 0:
        return float("nan")
    gap = np.bincount(bin_index(p, n_bins), weights=w * (p - y), minlength=n_bins)
    return float(np.abs(gap).sum() / w.sum())


def reliability_table(
    preds: pd.DataFrame, n_bins: int = ECE_BINS, by: Sequence[str] = ("horizon",)
) -> pd.DataFrame:
    """Per model (and ``by`` group) and probability bin: mean forecast, observed rate, row count.

    Columns: model, *by, bin, bin_low, bin_high, p_mean, y_rate, n. Every bin is listed, empty
    ones with n = 0 and NaN rates, so tables of different models align; within a group the
    counts sum to the group's rows with a known outcome.
    """
    df = preds.dropna(subset=["y_true"])
    keys = ["model", *by]
    df = df.assign(bin=bin_index(df["p"].to_numpy(dtype=float), n_bins))
    agg = df.groupby([*keys, "bin"], sort=True).agg(
        p_mean=("p", "mean"), y_rate=("y_true", "mean"), n=("p", "size")
    )
    groups = df[keys].drop_duplicates().sort_values(keys)
    full = groups.merge(pd.DataFrame({"bin": np.arange(n_bins)}), how="cross")
    out = full.merge(agg.reset_index(), on=[*keys, "bin"], how="left")
    out["n"] = out["n"].fillna(0).astype(int)
    out["bin_low"] = out["bin"] / n_bins
    out["bin_high"] = (out["bin"] + 1) / n_bins
    if "horizon" in out:
        out["horizon"] = out["horizon"].astype(int)
    return out[[*keys, "bin", "bin_low", "bin_high", "p_mean", "y_rate", "n"]].reset_index(drop=True)
