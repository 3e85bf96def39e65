"""Forecast scores, each reported beside the baselines on identical rows.

A metric that cannot be computed (one class only, no count or quantile forecast) is reported
as NaN with a note, never dropped.

Every metric except AUROC and AUPR is a function of sums of per-row terms (squared error,
log loss, per-bin ``p - y`` for ECE, pinball losses ...). The scores are computed from those
sums, so a group (horizon x country, horizon x unit) costs one ``groupby().sum()`` and a
bootstrap resample of origin months is a weighted sum of per-month sums (:mod:`.bootstrap`).

Count metrics:

- ``mae_log1p_count``: mean |log1p(expected count) - log1p(observed count)|.
- ``crps_count``: the CRPS of the count forecast approximated from its three quantiles
  q10/q50/q90 as 2 x the mean pinball loss over the levels (``scoringrules.crps_quantile``,
  Berrisch & Ziel 2023). With three levels it is a coarse approximation: compare models
  only on the same levels.
- ``coverage_10_90``: share of observed counts in the closed interval [q10, q90]. Quantiles
  of a count are integers, so the closed interval may cover more than the nominal 80 %.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scoringrules as sr

from riskcast.evaluation.calibration_metrics import (
    ECE_BINS,
    bin_index,
    expected_calibration_error,
    reliability_table,
)

__all__ = [
    "score_predictions",
    "METRICS",
    "QUANTILE_LEVELS",
    "QUANTILE_COLUMNS",
    "prepare",
    "additive_values",
    "rank_scores",
    "weighted_rank_scores",
    "rank_scores_by_group",
    "TERMS",
    "RANK_METRICS",
    "expected_calibration_error",
    "reliability_table",
]

METRICS = (
    "auroc",
    "aupr",
    "brier",
    "brier_skill_vs_climatology",
    "log_loss",
    "ece",
    "mae_log1p_count",
    "crps_count",
    "coverage_10_90",
    "base_rate",
)
RANK_METRICS = ("auroc", "aupr")
QUANTILE_LEVELS = (0.1, 0.5, 0.9)
QUANTILE_COLUMNS = ("q10", "q50", "q90")
_ECE = [f"ece_b{k}" for k in range(ECE_BINS)]
#: Per-row additive terms (``m_*`` count rows where the term is missing).
TERMS = ("n", "y", "sq", "ll", "ref_sq", "m_ref", "ae", "m_count", "crps", "cov", "m_q", *_ECE)
_ONE_CLASS = "undefined: only one class in the evaluated rows"
_KEY = ["unit_id", "origin", "horizon"]


def prepare(preds: pd.DataFrame, reference: str = "climatology") -> pd.DataFrame:
    """Rows with a known outcome, the reference's ``p`` on the same row (``ref_p``) and every term."""
    df = preds.dropna(subset=["y_true"]).reset_index(drop=True)
    ref = df.loc[df["model"] == reference, [*_KEY, "p"]].drop_duplicates(_KEY).rename(columns={"p": "ref_p"})
    df = df.merge(ref, on=_KEY, how="left", validate="many_to_one")
    y, p = df["y_true"].to_numpy(dtype=float), df["p"].to_numpy(dtype=float)
    t = {"n": np.ones(len(df)), "y": y, "sq": (p - y) ** 2}
    pc = np.clip(p, 1e-6, 1 - 1e-6)  # a finite log loss for a confident miss, as sklearn's clipping did
    t["ll"] = -(y * np.log(pc) + (1 - y) * np.log1p(-pc))
    ref_p = df["ref_p"].to_numpy(dtype=float)
    t["m_ref"] = np.isnan(ref_p).astype(float)
    t["ref_sq"] = np.nan_to_num((ref_p - y) ** 2)
    obs = df["y_count"].to_numpy(dtype=float) if "y_count" in df else np.full(len(df), np.nan)
    ec = df["expected_count"].to_numpy(dtype=float) if "expected_count" in df else np.full(len(df), np.nan)
    ae = np.abs(np.log1p(np.clip(ec, 0, None)) - np.log1p(obs))
    t["m_count"], t["ae"] = np.isnan(ae).astype(float), np.nan_to_num(ae)
    q = (
        df[list(QUANTILE_COLUMNS)].to_numpy(dtype=float)
        if set(QUANTILE_COLUMNS) <= set(df.columns)
        else np.full((len(df), len(QUANTILE_COLUMNS)), np.nan)
    )
    ok = ~(np.isnan(q).any(axis=1) | np.isnan(obs))
    t["m_q"], t["crps"], t["cov"] = (~ok).astype(float), np.zeros(len(df)), np.zeros(len(df))
    if ok.any():
        t["crps"][ok] = sr.crps_quantile(obs[ok], q[ok], np.array(QUANTILE_LEVELS), backend="numpy")
        t["cov"][ok] = ((obs[ok] >= q[ok, 0]) & (obs[ok] <= q[ok, -1])).astype(float)
    b = bin_index(p)
    for k, col in enumerate(_ECE):
        t[col] = np.where(b == k, p - y, 0.0)
    return pd.concat([df, pd.DataFrame({k: t[k] for k in TERMS})], axis=1)


def additive_values(s: pd.DataFrame) -> pd.DataFrame:
    """Metric values from sums of the terms (one row per group or per bootstrap resample).

    Besides the additive ``METRICS`` it gives ``brier_minus_reference``: the paired Brier
    difference on the same rows (negative = better than the reference).
    """
    n = s["n"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = {
            "brier": s["sq"] / n,
            "log_loss": s["ll"] / n,
            "base_rate": s["y"] / n,
            "ece": s[_ECE].abs().sum(axis=1) / n,
            "brier_skill_vs_climatology": (1 - s["sq"] / s["ref_sq"]).where(
                (s["m_ref"] == 0) & (s["ref_sq"] > 0)
            ),
            "brier_minus_reference": ((s["sq"] - s["ref_sq"]) / n).where(s["m_ref"] == 0),
            "mae_log1p_count": (s["ae"] / n).where(s["m_count"] == 0),
            "crps_count": (s["crps"] / n).where(s["m_q"] == 0),
            "coverage_10_90": (s["cov"] / n).where(s["m_q"] == 0),
        }
    return pd.DataFrame(v, index=s.index).astype(float)


def _additive_notes(s: pd.DataFrame, reference: str, has_q: bool) -> pd.DataFrame:
    """Why an additive metric is NaN, per group (empty string when it is defined)."""
    n = s["n"].astype(int)

    def missing(m: pd.Series, none: str, what: str) -> pd.Series:
        part = (
            "undefined: "
            + what
            + " missing for "
            + m.astype(int).astype(str)
            + " of "
            + n.astype(str)
            + " rows"
        )
        return pd.Series(np.where(m == 0, "", np.where(m >= n, none, part)), index=s.index)

    bss = missing(
        s["m_ref"], f"undefined: {reference} has no forecast for these rows", f"{reference} forecast"
    )
    bss = bss.mask((bss == "") & (s["ref_sq"] == 0), "undefined: reference Brier is 0")
    q_none = "model gives no quantile forecast" if has_q else "no q10/q50/q90 columns in the predictions"
    notes = pd.DataFrame("", index=s.index, columns=[m for m in METRICS if m not in RANK_METRICS])
    notes["brier_skill_vs_climatology"] = bss
    notes["mae_log1p_count"] = missing(s["m_count"], "model gives no count forecast", "count forecast")
    notes["crps_count"] = notes["coverage_10_90"] = missing(s["m_q"], q_none, "quantile forecast")
    return notes


def rank_scores(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> dict[str, float]:
    """AUROC and AUPR (optionally with row weights); NaN when only one class has weight.

    Equal to scikit-learn's ``roc_auc_score`` and ``average_precision_score`` (with
    ``sample_weight=w``) up to float rounding; see :func:`weighted_rank_scores`.
    """
    w = np.ones(len(y)) if w is None else np.asarray(w, dtype=float)
    return {k: float(v[0]) for k, v in weighted_rank_scores(y, p, w[None, :]).items()}


def weighted_rank_scores(y: np.ndarray, p: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """AUROC and AUPR of one set of rows under many row weightings at once.

    Args:
        y: (n,) binary outcomes (0/1).
        p: (n,) scores, finite.
        weights: (k, n) non-negative row weights, one weighting per row of the matrix (a
            bootstrap resample of months is the integer count of its month's draws).

    Returns:
        ``{"auroc": (k,), "aupr": (k,)}``; NaN where only one class has positive weight.
        AUROC is the weighted Mann-Whitney statistic with tied scores counted 1/2, i.e. the
        trapezoidal ROC area of ``roc_auc_score``; AUPR is ``average_precision_score``: the sum
        over distinct thresholds of recall gained x precision at that threshold.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    if not np.isfinite(p).all():
        raise ValueError("p contains NaN or infinite scores")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y must be binary (0/1)")
    nan = np.full(len(weights), np.nan)
    if len(y) == 0:
        return {"auroc": nan, "aupr": nan.copy()}
    # One sort; rows tied in p form one threshold (one ROC/PR point), as in scikit-learn.
    order = np.argsort(-p, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(p[order])) + 1]
    w = weights[:, order]
    pos = np.add.reduceat(w * y[order], starts, axis=1)  # (k, thresholds) positive weight per tied block
    neg = np.add.reduceat(w * (1 - y[order]), starts, axis=1)
    del w
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(neg, axis=1)
    n_pos, n_neg = tp[:, -1], fp[:, -1]
    ok = (n_pos > 0) & (n_neg > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        # Negatives of a block are outranked by every earlier positive and tie with half of the block's own.
        auroc = np.sum(neg * (tp - pos / 2), axis=1) / (n_pos * n_neg)
        # A block with no positive weight adds no recall; skipping it also avoids 0/0 before the first weight.
        prec = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=pos > 0)
        aupr = np.sum(pos * prec, axis=1) / n_pos
    return {"auroc": np.where(ok, auroc, nan), "aupr": np.where(ok, aupr, nan)}


def rank_scores_by_group(
    y: np.ndarray,
    p: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    counts: np.ndarray | None = None,
    month: np.ndarray | None = None,
    max_cells: int = 2**23,
) -> dict[str, np.ndarray]:
    """AUROC and AUPR of every group of rows under every row weighting.

    Args:
        y, p: (n,) outcomes and scores.
        group: (n,) each row's group, 0 .. ``n_groups`` - 1 (rows of a negative group are left out).
        counts, month: row r weighs ``counts[j, month[r]]`` in weighting j (a bootstrap
            resample draws whole months, :func:`~riskcast.evaluation.bootstrap.month_resamples`);
            one weighting of ones when None.
        max_cells: bound on groups x weightings x rows of one batch.

    Returns:
        ``{"auroc": (n_groups, k), "aupr": (n_groups, k)}``: for each group, the numbers of
        :func:`weighted_rank_scores` on its rows sorted by score, to the bit.

    Groups of one size whose scores have no ties (a fitted model's, mostly) are computed
    together, the same operations along the same (last, contiguous) axis; the others one by
    one. Group by group, the 2,600 groups of the per-unit table of Mali's cercles took half its
    bootstrap.
    """
    y, p, group = np.asarray(y, dtype=float), np.asarray(p, dtype=float), np.asarray(group)
    keep = group >= 0
    if not np.isfinite(p[keep]).all():
        raise ValueError("p contains NaN or infinite scores")
    if not np.isin(y[keep], (0.0, 1.0)).all():
        raise ValueError("y must be binary (0/1)")
    k = 1 if counts is None else len(counts)
    out = {m: np.full((n_groups, k), np.nan) for m in RANK_METRICS}
    order = np.flatnonzero(keep)[np.lexsort((-p[keep], group[keep]))]  # by group, then falling score
    ys, ps, gs = y[order], p[order], group[order]  # (a stable sort: tied scores keep the row order)
    size = np.bincount(group[keep], minlength=n_groups)
    first = np.r_[0, np.cumsum(size)[:-1]]
    tied = np.zeros(n_groups, dtype=bool)
    same = (np.diff(ps) == 0) & (gs[1:] == gs[:-1])
    tied[gs[1:][same]] = True
    # A batch holds about eight arrays of its size where weighted_rank_scores holds three of
    # max_cells: batches of a third of max_cells keep the memory about the same, and a group
    # larger than that goes on its own, its weightings in blocks.
    batch_cells = max_cells // 3
    batched = ~tied & (size > 0) & (k * size <= batch_cells)
    for n in np.unique(size[batched]):
        members = np.flatnonzero(batched & (size == n))
        step = max(1, batch_cells // max(k * n, 1))
        for part in (members[i : i + step] for i in range(0, len(members), step)):
            rows = first[part][:, None] + np.arange(n)  # (groups, n), each group's rows sorted
            w = (
                np.ones((len(part), 1, n))
                if counts is None
                else np.ascontiguousarray(counts[:, month[order[rows]]].transpose(1, 0, 2))
            )
            yy = ys[rows][:, None, :]
            # weighted_rank_scores with one row per tied block: its sums over blocks are the rows
            pos, neg = w * yy, w * (1 - yy)
            tp, fp = np.cumsum(pos, axis=2), np.cumsum(neg, axis=2)
            n_pos, n_neg = tp[..., -1], fp[..., -1]
            ok = (n_pos > 0) & (n_neg > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                auroc = np.sum(neg * (tp - pos / 2), axis=2) / (n_pos * n_neg)
                prec = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=pos > 0)
                aupr = np.sum(pos * prec, axis=2) / n_pos
            out["auroc"][part] = np.where(ok, auroc, np.nan)
            out["aupr"][part] = np.where(ok, aupr, np.nan)
    for g in np.flatnonzero(~batched & (size > 0)):
        rows = order[first[g] : first[g] + size[g]]
        step = max(1, max_cells // max(size[g], 1))
        for b in range(0, k, step):
            w = np.ones((1, size[g])) if counts is None else counts[b : b + step][:, month[rows]]
            scores = weighted_rank_scores(y[rows], p[rows], w)
            for m in RANK_METRICS:
                out[m][g, b : b + step] = scores[m]
    return out


def score_predictions(
    preds: pd.DataFrame, reference: str = "climatology", by: Sequence[str] = ("horizon",)
) -> pd.DataFrame:
    """Metrics per model and ``by`` group, long format: model, *by, metric, value, n, note.

    ``by=("horizon",)`` (the default) scores each model per horizon; ``("horizon", "country")``
    or ``("horizon", "unit_id")`` add that column. Brier skill is 1 - Brier(model) /
    Brier(reference) on exactly the same rows (the reference's forecast for the same unit,
    origin and horizon); n = rows with a known outcome.
    """
    keys = ["model", *by]
    df = prepare(preds, reference)
    has_q = set(QUANTILE_COLUMNS) <= set(preds.columns)
    sums = df.groupby(keys, sort=True)[list(TERMS)].sum()
    values = additive_values(sums)
    notes = _additive_notes(sums, reference, has_q)
    group = df.groupby(keys, sort=True).ngroup().to_numpy()  # the order of sums.index
    rank = rank_scores_by_group(
        df["y_true"].to_numpy(dtype=float), df["p"].to_numpy(dtype=float), group, len(sums)
    )
    for m in RANK_METRICS:
        values[m] = rank[m][:, 0]
        notes[m] = np.where(values[m].isna(), _ONE_CLASS, "")
    long = values[list(METRICS)].stack(future_stack=True).rename("value").to_frame()
    long["note"] = notes[list(METRICS)].stack(future_stack=True)
    long.index = long.index.set_names([*keys, "metric"])
    out = long.reset_index().merge(sums["n"].astype(int).reset_index(), on=keys)
    if "horizon" in out:
        out["horizon"] = out["horizon"].astype(int)
    return out[[*keys, "metric", "value", "n", "note"]]
