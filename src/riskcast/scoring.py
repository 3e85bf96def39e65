"""The scoring contract: one month of the panel in, the published score table out.

The bundle (loaded from the registry as a pyfunc, or the in-memory ``ForecastBundle``)
returns a wide frame per unit; :func:`score_month` turns it into one row per unit and
horizon, with a risk tier and a readable list of the features that drove the score, and
stamps each row with the model version and data hash it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from riskcast.atomic import atomic_path
from riskcast.models.contributions import top_contributions

__all__ = [
    "score_month",
    "explain_change",
    "write_scores",
    "assign_tiers",
    "SCORE_COLUMNS",
    "DEFAULT_TIERS",
    "SCORE_FORMATS",
    "DEFAULT_CHUNK_SIZE",
]

SCORE_COLUMNS = [
    "unit_id",
    "unit_name",
    "country",
    "as_of",
    "target_month",
    "horizon",
    "p",
    "expected_count",
    "q10",
    "q50",
    "q90",
    "tier",
    "top_features",
    "model",
    "model_version",
    "data_hash",
]

#: (tier, lowest p in the tier), highest first; the last cut is 0 so every p has a tier.
DEFAULT_TIERS: tuple[tuple[str, float], ...] = (
    ("very high", 0.8),
    ("high", 0.5),
    ("medium", 0.2),
    ("low", 0.0),
)

SCORE_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json"}

#: Units per model call: small enough that 10,000 PRIO-GRID cells report progress five
#: times, large enough that per-call overhead (pyfunc schema checks) stays negligible.
DEFAULT_CHUNK_SIZE = 2000

_IDS = ["unit_id", "unit_name", "country"]
_P_COLUMN = re.compile(r"^p_h(\d+)$")


def _month(value) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.to_period("M").to_timestamp()


def assign_tiers(p: np.ndarray | pd.Series, tiers: Sequence[tuple[str, float]] = DEFAULT_TIERS) -> np.ndarray:
    """Tier names for probabilities: the tier with the highest cut that ``p`` reaches.

    Raises:
        ValueError: when the cuts are outside [0, 1], repeated, or the lowest is above 0
            (some probabilities would get no tier).
    """
    if not tiers:
        raise ValueError("tiers must name at least one (tier, lower_cut) pair")
    ordered = sorted(((str(n), float(c)) for n, c in tiers), key=lambda t: -t[1])
    cuts = [c for _, c in ordered]
    if any(not 0.0 <= c <= 1.0 for c in cuts):
        raise ValueError(f"tier cuts must lie in [0, 1]: {cuts}")
    if len(set(cuts)) != len(cuts):
        raise ValueError(f"tier cuts must differ: {cuts}")
    if cuts[-1] > 0.0:
        raise ValueError(f"tiers must cover p = 0: the lowest cut is {cuts[-1]}")
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, None, dtype=object)
    # Lowest tier first, so each higher cut reached overwrites it.
    for name, cut in reversed(ordered):
        out[p >= cut] = name
    return out


def _predict(bundle_model, X: pd.DataFrame, top_k: int) -> pd.DataFrame:
    if hasattr(bundle_model, "unwrap_python_model"):  # mlflow.pyfunc.PyFuncModel
        cols = bundle_model.unwrap_python_model().feature_cols
        return pd.DataFrame(bundle_model.predict(X[cols].astype("float64"), params={"top_k": int(top_k)}))
    return bundle_model.forecast(X, top_k=int(top_k))  # an in-memory ForecastBundle


def _predict_chunked(
    bundle_model, rows: pd.DataFrame, top_k: int, chunk_size: int, progress: Callable[[int], None] | None
) -> pd.DataFrame:
    """``_predict`` over consecutive slices of ``rows``, reporting the units done after each.

    Every bundle output is computed row by row (fitted models, per-row contributions), so the
    concatenated slices equal one call on all rows.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    parts = []
    for start in range(0, len(rows), chunk_size):
        chunk = rows.iloc[start : start + chunk_size]
        parts.append(_predict(bundle_model, chunk, top_k).reset_index(drop=True))
        if progress is not None:
            progress(start + len(chunk))
    return pd.concat(parts, ignore_index=True)


def score_month(
    bundle_model,
    panel_rows: pd.DataFrame,
    *,
    as_of,
    model_name: str,
    model_version: str | int,
    data_hash: str,
    tiers: Sequence[tuple[str, float]] = DEFAULT_TIERS,
    top_k: int = 3,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> pd.DataFrame:
    """Score the units of one origin month with a bundle; one row per unit and horizon.

    Args:
        bundle_model: the pyfunc from ``mlflow.pyfunc.load_model`` / ``load_registered``, or
            a ``ForecastBundle``.
        panel_rows: the panel rows of month ``as_of`` (one per unit): ``unit_id``,
            ``unit_name``, ``country`` and the bundle's feature columns; a ``month`` column,
            when present, must equal ``as_of``.
        as_of: the origin month (anything ``pd.Timestamp`` reads, e.g. ``"2024-06"``).
        model_name, model_version, data_hash: provenance stamped on every row.
        tiers: ``(name, lower_cut)`` pairs; see :func:`assign_tiers`.
        top_k: how many contributions ``top_features`` lists.
        progress: called after each chunk with the number of units scored so far (the last
            call gets ``len(panel_rows)``).
        chunk_size: units per call of the bundle; the result does not depend on it.

    Returns:
        :data:`SCORE_COLUMNS`, months as ``YYYY-MM`` strings, sorted by horizon, then p
        (highest first), then unit_id.
    """
    as_of = _month(as_of)
    missing = [c for c in _IDS if c not in panel_rows.columns]
    if missing:
        raise ValueError(f"scoring input lacks the id columns {missing}")
    if panel_rows.empty:
        raise ValueError(f"no panel rows to score for {as_of:%Y-%m}")
    if "month" in panel_rows.columns:
        other = sorted({f"{_month(m):%Y-%m}" for m in panel_rows["month"]} - {f"{as_of:%Y-%m}"})
        if other:
            raise ValueError(f"scoring input holds months other than as_of {as_of:%Y-%m}: {other}")
    dup = panel_rows["unit_id"][panel_rows["unit_id"].duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"scoring input has several rows for units {dup[:5]}")
    assign_tiers(np.zeros(0), tiers)  # validate the cuts before any work
    rows = panel_rows.reset_index(drop=True)
    pred = _predict_chunked(bundle_model, rows, top_k, int(chunk_size), progress)
    horizons = sorted(int(m.group(1)) for c in pred.columns if (m := _P_COLUMN.match(str(c))))
    if not horizons:
        raise ValueError(f"the bundle's output has no p_h<horizon> column: {list(pred.columns)}")

    def col(name: str, h: int, fill) -> np.ndarray:
        key = f"{name}_h{h}"
        return (
            pred[key].to_numpy()
            if key in pred.columns
            else np.full(len(rows), fill, dtype=object if fill == "" else float)
        )

    parts = []
    for h in horizons:
        p = pred[f"p_h{h}"].to_numpy(dtype=float)
        parts.append(
            pd.DataFrame(
                {
                    "unit_id": rows["unit_id"].to_numpy(),
                    "unit_name": rows["unit_name"].to_numpy(),
                    "country": rows["country"].to_numpy(),
                    "as_of": f"{as_of:%Y-%m}",
                    "target_month": f"{as_of + pd.DateOffset(months=h):%Y-%m}",
                    "horizon": h,
                    "p": p,
                    "expected_count": col("expected_count", h, np.nan).astype(float),
                    "q10": col("q10", h, np.nan).astype(float),
                    "q50": col("q50", h, np.nan).astype(float),
                    "q90": col("q90", h, np.nan).astype(float),
                    "tier": assign_tiers(p, tiers),
                    "top_features": col("top_features", h, ""),
                    "model": model_name,
                    "model_version": str(model_version),
                    "data_hash": data_hash,
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)[SCORE_COLUMNS]
    return out.sort_values(
        ["horizon", "p", "unit_id"], ascending=[True, False, True], kind="stable", ignore_index=True
    )


def _bundle(bundle_model):
    return (
        bundle_model.unwrap_python_model() if hasattr(bundle_model, "unwrap_python_model") else bundle_model
    )


def explain_change(
    bundle_model, rows_now: pd.DataFrame, rows_before: pd.DataFrame, *, horizon: int, top_k: int = 3
) -> pd.DataFrame:
    """What moved each unit's forecast since the month before, with the same model.

    Contributions of additive models are relative to an average unit-month, which reads oddly
    ("coup 87 months ago" pushes risk up). Their *difference* between two consecutive origins
    needs no reference point: it splits the change of the forecast (on the model's link scale)
    among the features whose values moved. Both months are scored by the same model, so a change
    of model version is not mistaken for a change on the ground.

    Args:
        bundle_model: the pyfunc from the registry (or a ``ForecastBundle``).
        rows_now: the panel rows of the as-of month (one per unit; ``unit_id`` and the features).
        rows_before: the panel rows of the month before; units missing from it get no change.
        horizon: the forecast horizon to explain.
        top_k: how many changes to list per unit.

    Returns:
        One row per unit of ``rows_now``: ``unit_id``, ``horizon``, ``p_before`` (same model,
        previous month's data), ``p_now`` and ``changes`` (``"name +0.41; other -0.22"``, the
        largest contribution differences; empty when the model gives no contributions).
    """
    b = _bundle(bundle_model)
    now = rows_now.drop_duplicates("unit_id").reset_index(drop=True)
    before = rows_before.drop_duplicates("unit_id").set_index("unit_id").reindex(now["unit_id"]).reset_index()
    model = b.models[int(horizon)]
    Xn, Xb = b.features(now), b.features(before.fillna({c: np.nan for c in b.feature_cols}))
    has_before = before[b.feature_cols].notna().any(axis=1).to_numpy()
    p_now = np.asarray(model.predict_proba(Xn), dtype=float)[:, 1]
    p_before = np.full(len(now), np.nan)
    if has_before.any():
        p_before[has_before] = np.asarray(model.predict_proba(Xb[has_before]), dtype=float)[:, 1]
    changes = [""] * len(now)
    cn = b.contributions(now, int(horizon))
    if cn is not None and has_before.any():
        cb = b.contributions(before[has_before], int(horizon))
        diff = cn.iloc[np.flatnonzero(has_before)].reset_index(drop=True) - cb.reset_index(drop=True)
        for i, text in zip(np.flatnonzero(has_before), top_contributions(diff, top_k)):
            changes[i] = text
    return pd.DataFrame(
        {
            "unit_id": now["unit_id"].to_numpy(),
            "horizon": int(horizon),
            "p_before": p_before,
            "p_now": p_now,
            "changes": changes,
        }
    )


def write_scores(df: pd.DataFrame, path: str | Path) -> Path:
    """Write the score table atomically, in the format its suffix names (.csv, .parquet/.pq, .json).

    JSON is a list of records (one object per row, NaN as null). The file appears whole or
    not at all; an existing file is left as it was when writing fails.
    """
    path = Path(path)
    fmt = SCORE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"unknown score file suffix {path.suffix!r} for {path}: use one of {sorted(SCORE_FORMATS)}"
        )
    with atomic_path(path) as tmp:
        if fmt == "csv":
            df.to_csv(tmp, index=False)
        elif fmt == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_json(tmp, orient="records", indent=2, date_format="iso")
    return path
