"""Ablation by feature family: what each family adds, on identical folds.

One backtest call fits the full model, one variant per dropped family and the reference
baseline side by side (``{"all": ..., "-presence": ..., "climatology": ...}``): the folds are
identical by construction and every fold's training rows are sliced once. A variant's
change is its score without the family minus the score with all features, per horizon and
metric: for Brier or log loss a positive change means the family helped, for AUROC or skill a
negative one does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import pandas as pd

from riskcast.evaluation.backtest import run_backtest
from riskcast.evaluation.metrics import METRICS, score_predictions
from riskcast.features.families import FAMILIES

__all__ = [
    "run_ablation",
    "ablation_models",
    "AblationModels",
    "ablation_from_predictions",
    "ablation_table",
    "FAMILIES",
    "ABLATION_COLUMNS",
]

ABLATION_COLUMNS = [
    "variant",
    "dropped_family",
    "n_features",
    "horizon",
    "metric",
    "value",
    "value_all",
    "change",
    "reference_value",
    "n",
    "note",
]


def _reference_columns(reference_model, panel: pd.DataFrame) -> list[str]:
    """Panel columns the reference names in its parameters (e.g. Climatology's share/sum columns).

    The backtest hands every model the same feature columns; the reference reads its own,
    which need not belong to any family.
    """
    out = []
    for value in reference_model.get_params(deep=False).values():
        names = value if isinstance(value, (tuple, list)) else (value,)
        out += [v for v in names if isinstance(v, str) and v in panel.columns]
    return out


def _variants(
    cols_by_family: Mapping[str, Sequence[str]], order: Sequence[str] = ()
) -> tuple[list[str], dict[str, list[str]], dict[str, str]]:
    """All columns, the columns of each ablated variant, and a note for each family skipped.

    Columns keep their place in ``order`` (the panel's: the feature set's own), the others
    follow by family: the full variant is then the ablation model itself, column for column,
    and the backtest forecasts it once for both (a model's fit depends on its column order in
    the last bits).
    """
    unknown = set(cols_by_family) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown feature families {sorted(unknown)}; expected {', '.join(FAMILIES)}")
    all_cols = list(dict.fromkeys(c for fam in FAMILIES for c in cols_by_family.get(fam, ())))
    place = {c: i for i, c in enumerate(order)}
    all_cols.sort(key=lambda c: place.get(c, len(place)))  # stable: the unplaced keep the family order
    variants, skipped = {"all": all_cols}, {}
    for fam in FAMILIES:
        drop = set(cols_by_family.get(fam, ()))
        kept = [c for c in all_cols if c not in drop]
        if not drop:
            skipped[fam] = f"not ablated: family {fam!r} has no columns in this feature set"
        elif not kept:
            skipped[fam] = f"not ablated: dropping family {fam!r} leaves no feature"
        else:
            variants[f"-{fam}"] = kept
    return all_cols, variants, skipped


def run_ablation(
    panel: pd.DataFrame,
    feature_cols_by_family: Mapping[str, Sequence[str]],
    make_model: Callable[[list[str]], object],
    horizons: Sequence[int],
    *,
    backtest_kwargs: Mapping | None = None,
    reference_model,
    reference: str = "climatology",
) -> pd.DataFrame:
    """Backtest the full feature set and each family dropped in turn; score them beside the reference.

    Args:
        panel: the feature panel (unit_id, unit_name, country, month, feature and target columns).
        feature_cols_by_family: family -> its columns (see ``riskcast.features.families.columns_by_family``).
        make_model: columns -> an unfitted estimator that reads only those columns (its ``columns``
            parameter must be set: the backtest hands every model the union of all columns).
        horizons: forecast horizons in months.
        backtest_kwargs: passed to ``run_backtest`` (``min_train_months``, ``eval_months``, ...).
        reference_model: the baseline skill is measured against, fitted on the same folds.
        reference: its model name in the predictions.

    Returns:
        Long format, one row per (variant, horizon, metric), columns ``ABLATION_COLUMNS``:
        ``value`` is the variant's score, ``value_all`` the full model's, ``change`` = value -
        value_all, ``reference_value`` the reference's score on the same rows. Families with no
        columns appear as variant ``-<family>`` with NaN values and a note saying why.
    """
    spec = ablation_models(panel, feature_cols_by_family, make_model, reference_model, reference)
    preds = run_backtest(panel, spec.columns, spec.models, tuple(horizons), **dict(backtest_kwargs or {}))
    return ablation_from_predictions(preds, spec.variants, spec.skipped, reference)


class AblationModels(NamedTuple):
    """What an ablation backtests: ``models`` (each variant, then the reference), the feature
    ``columns`` they read, each variant's columns and the note of each family skipped."""

    models: dict[str, object]
    columns: list[str]
    variants: dict[str, list[str]]
    skipped: dict[str, str]


def ablation_models(
    panel: pd.DataFrame,
    feature_cols_by_family: Mapping[str, Sequence[str]],
    make_model: Callable[[list[str]], object],
    reference_model,
    reference: str = "climatology",
) -> AblationModels:
    """The models of :func:`run_ablation`, for a backtest that runs them beside others.

    Every variant reads only its own columns (a ``columns=None`` variant is refused), so its
    forecasts do not depend on which other columns the backtest hands it.
    """
    all_cols, variants, skipped = _variants(feature_cols_by_family, list(panel.columns))
    if not all_cols:
        raise ValueError("feature_cols_by_family has no columns at all")
    if reference in variants:
        raise ValueError(f"reference name {reference!r} clashes with a variant name")
    models = {}
    for name, cols in variants.items():
        est = make_model(list(cols))
        params = est.get_params(deep=False) if hasattr(est, "get_params") else {}
        if "columns" in params and params["columns"] is None:
            raise ValueError(
                f"make_model returned an estimator with columns=None for variant {name!r}: "
                "it would read every column and the ablation would drop nothing"
            )
        models[name] = est
    models[reference] = reference_model
    bt_cols = list(dict.fromkeys(all_cols + _reference_columns(reference_model, panel)))
    return AblationModels(models, bt_cols, variants, skipped)


def ablation_from_predictions(
    preds: pd.DataFrame,
    variants: Mapping[str, Sequence[str]],
    skipped: Mapping[str, str],
    reference: str = "climatology",
) -> pd.DataFrame:
    """Score the variants of one backtest and lay them beside the full model and the reference."""
    scores = score_predictions(preds, reference)
    wide = scores.set_index(["model", "horizon", "metric"])
    rows = []
    horizons = sorted(scores["horizon"].unique())
    for name, cols in variants.items():
        fam = None if name == "all" else name[1:]
        for h in horizons:
            for metric in METRICS:
                own, base, ref = (wide.loc[(m, h, metric)] for m in (name, "all", reference))
                rows.append(
                    {
                        "variant": name,
                        "dropped_family": fam,
                        "n_features": len(cols),
                        "horizon": int(h),
                        "metric": metric,
                        "value": own["value"],
                        "value_all": base["value"],
                        "change": own["value"] - base["value"],
                        "reference_value": ref["value"],
                        "n": int(own["n"]),
                        "note": own["note"],
                    }
                )
    for fam, note in skipped.items():
        for h in horizons:
            for metric in METRICS:
                rows.append(
                    {
                        "variant": f"-{fam}",
                        "dropped_family": fam,
                        "n_features": 0,
                        "horizon": int(h),
                        "metric": metric,
                        "value": float("nan"),
                        "value_all": wide.loc[("all", h, metric), "value"],
                        "change": float("nan"),
                        "reference_value": wide.loc[(reference, h, metric), "value"],
                        "n": 0,
                        "note": note,
                    }
                )
    return pd.DataFrame(rows, columns=ABLATION_COLUMNS)


def ablation_table(
    ablation: pd.DataFrame,
    metrics: Sequence[str] = ("auroc", "brier_skill_vs_climatology", "brier", "log_loss"),
    reference: str = "climatology",
) -> pd.DataFrame:
    """A readable wide table: rows (horizon, metric); columns ``all``, the reference, and the
    change without each family (``without <family>``; NaN for a family that was not ablated)."""
    a = ablation[ablation["metric"].isin(metrics)]
    base = a[a["variant"] == "all"].set_index(["horizon", "metric"])
    out = pd.DataFrame({"all": base["value"], reference: base["reference_value"]})
    for fam in FAMILIES:
        v = a[a["dropped_family"] == fam].set_index(["horizon", "metric"])["change"]
        if len(v):
            out[f"without {fam}"] = v
    order = {m: i for i, m in enumerate(metrics)}
    return out.sort_index(key=lambda ix: ix.map(order) if ix.name == "metric" else ix)
