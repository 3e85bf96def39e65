"""The scoring bundle: fitted models per horizon + the feature columns, as one MLflow pyfunc.

``models:/<name>/<version>`` (or ``@champion``) is all a scoring job needs: the bundle takes
the feature table of the origin month and returns one probability and expected count per
horizon.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import mlflow.pyfunc

__all__ = ["ForecastBundle"]


class ForecastBundle(mlflow.pyfunc.PythonModel):
    """Models by horizon and the columns they read."""

    def __init__(self, models: dict[int, object], feature_cols: list[str], model_name: str) -> None:
        self.models = {int(h): m for h, m in models.items()}
        self.feature_cols = list(feature_cols)
        self.model_name = model_name

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        missing = [c for c in self.feature_cols if c not in model_input.columns]
        if missing:
            raise ValueError(f"feature columns missing from the scoring input: {missing}")
        X = model_input[self.feature_cols]
        out = {}
        for h in sorted(self.models):
            m = self.models[h]
            out[f"p_h{h}"] = m.predict_proba(X)[:, 1]
            out[f"expected_count_h{h}"] = m.predict_count(X) if hasattr(m, "predict_count") else np.nan
        return pd.DataFrame(out, index=model_input.index)
