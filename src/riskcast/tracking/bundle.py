"""The scoring bundle: feature spec + fitted model per horizon, as one MLflow pyfunc.

``models:/<name>@champion`` is all a scoring job needs: the bundle takes the feature table of
the origin month and returns, per unit and horizon, the probability, expected count, count
quantiles and the top feature contributions. Every fitted model (plain, calibrated or an
ensemble meta-estimator) is used only through the model contract (``predict_proba``,
``predict_count``, ``predict_quantiles``, ``contributions``); the optional methods a model
lacks give NaN / empty outputs rather than failing.

Output layout: **wide**, one row per input row (same index), columns per horizon ``h``::

    p_h{h}  expected_count_h{h}  q10_h{h}  q50_h{h}  q90_h{h}  top_features_h{h}

and, for every intensity target ``name`` the bundle carries (P(at least k attacks), ...)::

    p_{name}_h{h}

Wide keeps the pyfunc signature a fixed set of typed columns and the row order equal to the
input's; :func:`riskcast.scoring.score_month` turns it into the long score table.

As a pyfunc (``predict``: MLflow's loader, ``mlflow models serve``), the input may also carry the
keys ``unit_id`` and ``month`` (strings, ``month`` as ``YYYY-MM``; :meth:`ForecastBundle.model_input`
builds them from panel rows), and the output then starts with them, so a caller over HTTP need not
rely on row order. ``forecast``, riskcast's own in-process entry, stays wide only.
"""

from __future__ import annotations

import hashlib

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import ParamSchema, ParamSpec

from riskcast.models.contributions import DEFAULT_TOP_K, top_contributions

__all__ = ["ForecastBundle", "KEY_COLUMNS"]

#: Row keys a caller may send with the features; they are passed through to the output.
KEY_COLUMNS = ("unit_id", "month")


def _qname(q: float) -> str:
    return f"q{round(q * 100):d}"


class ForecastBundle(mlflow.pyfunc.PythonModel):
    """Fitted models by horizon, the feature columns they read and the feature spec that made them.

    Args:
        models: fitted estimator per horizon (months ahead).
        feature_cols: the columns of the scoring input, in order.
        model_name: the model's name in reports (e.g. ``"logistic"``).
        feature_spec: the feature-set TOML text the columns were built from (kept so a
            scoring job can check it builds the same features).
        data_hash: hash of the training data.
        calibrated: whether the models are wrapped in a probability calibrator.
        quantiles: the count quantiles to report.
        intensity: per intensity target, its fitted model per horizon (P only).
        intensity_models: per intensity target, the name of its model.
    """

    # Class-level defaults keep bundles pickled before these attributes existed loadable.
    feature_spec = ""
    feature_spec_sha256 = ""
    data_hash = ""
    calibrated = False
    quantiles = (0.1, 0.5, 0.9)
    intensity: dict = {}
    intensity_models: dict = {}

    def __init__(
        self,
        models: dict[int, object],
        feature_cols: list[str],
        model_name: str,
        *,
        feature_spec: str = "",
        data_hash: str = "",
        calibrated: bool = False,
        quantiles: tuple[float, ...] = (0.1, 0.5, 0.9),
        intensity: dict | None = None,
        intensity_models: dict | None = None,
    ) -> None:
        if not models:
            raise ValueError("a bundle needs at least one fitted model")
        self.models = {int(h): m for h, m in models.items()}
        self.feature_cols = list(feature_cols)
        self.model_name = model_name
        self.feature_spec = feature_spec
        self.feature_spec_sha256 = hashlib.sha256(feature_spec.encode()).hexdigest() if feature_spec else ""
        self.data_hash = data_hash
        self.calibrated = bool(calibrated)
        self.quantiles = tuple(float(q) for q in quantiles)
        self.intensity = {
            str(t): {int(h): m for h, m in by_h.items()} for t, by_h in (intensity or {}).items()
        }
        self.intensity_models = dict(intensity_models or {})

    @property
    def horizons(self) -> list[int]:
        return sorted(self.models)

    def metadata(self) -> dict:
        """Plain description stored in the MLmodel file (no fitted state)."""
        return {
            "model_name": self.model_name,
            "horizons": self.horizons,
            "feature_cols": self.feature_cols,
            "feature_spec_sha256": self.feature_spec_sha256,
            "data_hash": self.data_hash,
            "calibrated": self.calibrated,
            "quantiles": list(self.quantiles),
            "intensity_targets": {
                t: {"model": self.intensity_models.get(t, ""), "horizons": sorted(by_h)}
                for t, by_h in self.intensity.items()
            },
        }

    def model_input(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The pyfunc's input for panel rows: ``unit_id`` and ``month`` (``YYYY-MM``) as strings
        when ``rows`` has them, then the feature columns as floats."""
        keys = {}
        if "unit_id" in rows.columns:
            keys["unit_id"] = rows["unit_id"].astype(str)
        if "month" in rows.columns:
            month = rows["month"]
            # panel months are timestamps; the schema's month is the text a person (or JSON) writes
            keys["month"] = (
                pd.to_datetime(month).dt.strftime("%Y-%m")
                if pd.api.types.is_datetime64_any_dtype(month)
                else month.astype(str)
            )
        return pd.concat([pd.DataFrame(keys, index=rows.index), self.features(rows)], axis=1)

    def features(self, model_input: pd.DataFrame) -> pd.DataFrame:
        """The feature columns of ``model_input`` as floats (the models' common input)."""
        missing = [c for c in self.feature_cols if c not in model_input.columns]
        if missing:
            raise ValueError(f"feature columns missing from the scoring input: {missing}")
        return model_input[self.feature_cols].astype("float64")

    def contributions(self, model_input: pd.DataFrame, horizon: int) -> pd.DataFrame | None:
        """Additive contributions of the horizon's model, or None when it cannot explain itself."""
        model = self.models[int(horizon)]
        if not hasattr(model, "contributions"):
            return None
        return model.contributions(self.features(model_input))

    def forecast(self, model_input: pd.DataFrame, top_k: int = DEFAULT_TOP_K) -> pd.DataFrame:
        """The wide output (see the module docstring) for every row of ``model_input``."""
        X = self.features(model_input)
        n, out = len(X), {}
        for h in self.horizons:
            m = self.models[h]
            out[f"p_h{h}"] = np.asarray(m.predict_proba(X), dtype=float)[:, 1]
            out[f"expected_count_h{h}"] = (
                np.asarray(m.predict_count(X), dtype=float)
                if hasattr(m, "predict_count")
                else np.full(n, np.nan)
            )
            qs = np.full((n, len(self.quantiles)), np.nan)
            if hasattr(m, "predict_quantiles"):
                qs = np.asarray(m.predict_quantiles(X, q=self.quantiles), dtype=float).reshape(
                    n, len(self.quantiles)
                )
            for j, q in enumerate(self.quantiles):
                out[f"{_qname(q)}_h{h}"] = qs[:, j]
            contrib = self.contributions(X, h)
            out[f"top_features_h{h}"] = top_contributions(contrib, top_k) if contrib is not None else [""] * n
        for target, by_h in self.intensity.items():
            for h in sorted(by_h):
                out[f"p_{target}_h{h}"] = np.asarray(by_h[h].predict_proba(X), dtype=float)[:, 1]
        return pd.DataFrame(out, index=model_input.index)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """pyfunc entry point: DataFrame in, the keys sent and the wide DataFrame out; ``params={"top_k": k}``."""
        # A pd.DataFrame hint is one MLflow 3 does not derive a schema from, so the logged
        # signature (optional string keys, float feature columns) stays the one enforced.
        top_k = int((params or {}).get("top_k", DEFAULT_TOP_K))
        rows = pd.DataFrame(model_input)
        wide = self.forecast(rows, top_k=top_k)
        # the row keys a caller sent come back first, as sent (riskcast's own scoring sends none)
        keys = [c for c in KEY_COLUMNS if c in rows.columns]
        return pd.concat([rows[keys], wide], axis=1) if keys else wide

    def signature(self, input_example: pd.DataFrame) -> ModelSignature:
        """The pyfunc signature: optional string keys and float feature columns in, the wide
        output out (keys optional there too), ``top_k`` param.

        The keys are optional so callers that send the features alone (riskcast's own scoring,
        bundles' earlier callers) are served as before; MLflow drops input columns its schema
        does not name, so the keys must be in it to come back.
        """
        example = self.model_input(input_example)
        keys = [ColSpec("string", k, required=False) for k in KEY_COLUMNS]
        outputs = infer_signature(example, self.predict(None, example)).outputs
        return ModelSignature(
            inputs=Schema([*keys, *(ColSpec("double", c) for c in self.feature_cols)]),
            outputs=Schema([*keys, *(c for c in outputs.inputs if c.name not in KEY_COLUMNS)]),
            params=ParamSchema([ParamSpec("top_k", "long", DEFAULT_TOP_K)]),
        )
