"""The feature protocol: a small class whose parameters name the column it makes.

A feature works on dense units x months arrays (the panel's ``n_target``, ``n_fatalities`` ...)
and returns one array of the same shape. Column ``t`` of the result may use columns ``<= t`` of
its inputs only: features are causal by construction, and tests check it.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["Feature", "FeatureContext", "compute_features"]


@dataclass(frozen=True)
class FeatureContext:
    """What a feature may read: the arrays, the neighbour graph, the units and the months."""

    arrays: dict[str, np.ndarray]
    neighbours: sp.csr_matrix
    months: pd.DatetimeIndex
    units: pd.DataFrame
    cache: dict = field(default_factory=dict, compare=False)

    def array(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise KeyError(f"no panel array {name!r}; have {sorted(self.arrays)}")
        return self.arrays[name]


class Feature:
    """Base class. Subclasses store their parameters in ``__init__`` and implement ``compute``."""

    family: str = "history"
    description: str = ""

    def params(self) -> dict:
        sig = inspect.signature(type(self).__init__)
        return {p: getattr(self, p) for p in sig.parameters if p != "self"}

    @property
    def name(self) -> str:
        """Class name in snake case, then each non-default parameter (``decay_halflife12``)."""
        base = re.sub(r"(?<!^)(?=[A-Z])", "_", type(self).__name__).lower()
        sig = inspect.signature(type(self).__init__)
        parts = [base]
        for p, spec in sig.parameters.items():
            if p == "self":
                continue
            value = getattr(self, p)
            if spec.default is inspect.Parameter.empty or value != spec.default:
                parts.append(value if isinstance(value, str) else f"{p}{_fmt(value)}")
        return "_".join(parts)

    def compute(self, ctx: FeatureContext) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def _fmt(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace(".", "p")


def compute_features(features: list[Feature], ctx: FeatureContext) -> pd.DataFrame:
    """Compute each feature and flatten to panel order (unit-major, then month)."""
    cols = {}
    for f in features:
        if f.name in cols:
            raise ValueError(f"feature {f.name!r} is declared twice")
        values = np.asarray(f.compute(ctx), dtype=float)
        if values.shape != (len(ctx.units), len(ctx.months)):
            raise ValueError(f"feature {f.name} returned shape {values.shape}")
        cols[f.name] = values.ravel()
    return pd.DataFrame(cols)
