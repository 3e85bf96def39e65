"""Spatial spill-over: what happened around a unit, as a sparse product with the neighbour graph."""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from riskcast.features.base import Feature, FeatureContext

__all__ = ["SpatialLag", "CountryTotal"]


def _order_matrix(w: sp.csr_matrix, order: int) -> sp.csr_matrix:
    """0/1 matrix of units exactly ``order`` steps away (1 = first-order neighbours)."""
    n = w.shape[0]
    eye = sp.identity(n, format="csr", dtype=bool)
    reach, ring = eye, eye
    for _ in range(order):
        ring = (ring @ w.astype(bool)).astype(bool)
        ring = ring - ring.multiply(reach)  # drop units reached in fewer steps
        reach = (reach + ring).astype(bool)
    return ring.astype(float).tocsr()


class SpatialLag(Feature):
    """Sum or mean of the source over neighbours of a given order, in month t."""

    family = "spatial"
    description = "sum (or mean) of the source over order-`order` neighbours"

    def __init__(self, order: int = 1, stat: str = "sum", source: str = "n_target") -> None:
        self.order, self.stat, self.source = order, stat, source

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        m = _order_matrix(ctx.neighbours, self.order)
        out = m @ ctx.array(self.source)
        if self.stat == "mean":
            deg = np.asarray(m.sum(axis=1)).ravel()
            out = out / np.where(deg > 0, deg, 1)[:, None]
        elif self.stat != "sum":
            raise ValueError(f"SpatialLag stat must be 'sum' or 'mean', not {self.stat!r}")
        return out


class CountryTotal(Feature):
    """Total of the source over all units of the unit's country, in month t (unit included)."""

    family = "spatial"
    description = "country-wide total of the source"

    def __init__(self, source: str = "n_target") -> None:
        self.source = source

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        x = ctx.array(self.source)
        codes = pd.factorize(ctx.units["country"])[0]
        member = sp.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))))
        return (member.T @ (member @ x))
