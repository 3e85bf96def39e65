"""One MLflow child run per backtested model, so a reviewer compares models side by side in the UI.

Each child of the backtest run holds one model's metrics under the same keys (``brier_h1``,
``brier_h1_ci_low``, ``brier_mean``, ...; an intensity target's prefixed with its name,
``k5.brier_h1``): MLflow's compare view lines the models up, where one run with the model name in
every key (``brier_h1_logistic``) would hold hundreds of keys to search.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import mlflow
import pandas as pd

__all__ = ["model_metrics", "log_model_runs", "KIND_MODEL"]

KIND_MODEL = "backtest_model"
#: A property of the data, the same for every model: left to the tables.
_SKIP = {"base_rate"}
_COLUMNS = (("value", ""), ("ci_low", "_ci_low"), ("ci_high", "_ci_high"))


def model_metrics(metrics: pd.DataFrame, model: str) -> dict[str, float]:
    """One model's rows of ``metrics.csv`` as MLflow metrics: per horizon with its 95 % interval,
    and the mean over horizons (what promotion compares); NaN values are left out."""
    rows = metrics[(metrics["model"] == model) & ~metrics["metric"].isin(_SKIP)]
    # without resampling (backtest.n_boot = 0) the table has no interval columns
    columns = [(c, suffix) for c, suffix in _COLUMNS if c in rows.columns]
    out: dict[str, float] = {}
    for r in rows.to_dict(orient="records"):
        key = f"{r['metric']}_h{int(r['horizon'])}"
        for column, suffix in columns:
            if pd.notna(r[column]):
                out[key + suffix] = float(r[column])
    means = rows.dropna(subset=["value"]).groupby("metric")["value"].mean()
    out.update({f"{m}_mean": float(v) for m, v in means.items()})
    return out


def _model_set_entries(path: Path) -> dict[str, dict]:
    """The model set's declarations by model name (class, feature list, parameters)."""
    with open(path, "rb") as fh:
        return {m["name"]: m for m in tomllib.load(fh).get("models", []) if "name" in m}


def _params(entry: Mapping) -> dict[str, str]:
    keep = {k: v for k, v in entry.items() if k not in ("name", "description")}
    return {
        f"spec.{k}": (v if isinstance(v, str) else json.dumps(v, sort_keys=True))[:500]
        for k, v in keep.items()
    }


def _intensity_metrics(intensity: pd.DataFrame | None, model: str) -> dict[str, float]:
    if intensity is None or intensity.empty:
        return {}
    return {
        f"{target}.{key}": value
        for target, rows in intensity.groupby("target", sort=True)
        for key, value in model_metrics(rows, model).items()
    }


def log_model_runs(
    metrics: pd.DataFrame,
    *,
    baselines: Sequence[str],
    model_set: Path,
    tags: Mapping[str, str],
    intensity: pd.DataFrame | None = None,
) -> dict[str, str]:
    """Under the active (backtest) run: one finished child run per model of ``metrics``.

    Args:
        metrics: ``metrics.csv`` of the backtest.
        intensity: ``intensity_metrics.csv`` (with its ``target`` column), when the run has
            intensity targets: each model's rows go to its child run too.
        baselines: the set's baseline names (tagged, so the UI can filter them).
        model_set: the model set's TOML, for each model's declaration as parameters.
        tags: tags every child carries too (provenance, hashes).

    Returns:
        Model name -> child run id.
    """
    entries = _model_set_entries(model_set)
    ids: dict[str, str] = {}
    models = set(metrics["model"]) | (set(intensity["model"]) if intensity is not None else set())
    for model in sorted(models):
        child_tags = {
            **tags,
            "riskcast.kind": KIND_MODEL,
            "riskcast.model": model,
            "riskcast.baseline": str(model in baselines).lower(),
        }
        with mlflow.start_run(run_name=model, nested=True, tags=child_tags) as child:
            mlflow.log_params({"model": model, **_params(entries.get(model, {}))})
            mlflow.log_metrics({**model_metrics(metrics, model), **_intensity_metrics(intensity, model)})
            ids[model] = child.info.run_id
    return ids
