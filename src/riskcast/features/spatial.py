"""Spatial spill-over: what happened around a unit, as sparse products with the neighbour graph."""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from riskcast.features.base import Feature, FeatureContext, FeatureError
from riskcast.features.history import Events

__all__ = ["SpatialLag", "CountryTotal", "ring_matrix"]


def ring_matrix(w: sp.csr_matrix, order: int) -> sp.csr_matrix:
    """0/1 matrix of units exactly ``order`` steps away on the graph (1 = first-order neighbours)."""
    n = w.shape[0]
    adj = w.astype(bool).tocsr()
    reach = sp.identity(n, format="csr", dtype=bool)
    ring = reach
    for _ in range(order):
        ring = (ring @ adj).astype(bool)
        ring = (ring > reach).astype(bool)  # drop units reached in fewer steps
        reach = (reach + ring).astype(bool)
    return ring.astype(float).tocsr()


class SpatialLag(Feature):
    """Sum or mean of the inner feature over the neighbours exactly ``order`` steps away, in month t."""

    family = "spatial"
    description = "{of} in neighbouring units ({stat} over neighbours of order {order})"

    def __init__(self, order: int = 1, stat: str = "sum", of: Feature = Events()) -> None:
        if not isinstance(order, int) or order < 1:
            raise FeatureError(f"order must be a whole number >= 1, got {order!r}", param="order")
        if stat not in ("sum", "mean"):
            raise FeatureError(f"stat must be 'sum' or 'mean', got {stat!r}", param="stat")
        self.order, self.stat, self.of = order, stat, of

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        key = f"__ring{self.order}"
        if key not in ctx.cache:
            ctx.cache[key] = ring_matrix(ctx.neighbours, self.order)
        m = ctx.cache[key]
        out = m @ ctx.get(self.of)
        if self.stat == "mean":
            deg = np.asarray(m.sum(axis=1)).ravel()
            out = out / np.where(deg > 0, deg, 1)[:, None]
        return out


class CountryTotal(Feature):
    """Total of the inner feature over all units of the unit's country, in month t (unit included)."""

    family = "spatial"
    description = "{of} in the whole country"

    def __init__(self, of: Feature = Events()) -> None:
        self.of = of

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        codes = pd.factorize(ctx.units["country"])[0]
        member = sp.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))))
        return member.T @ (member @ ctx.get(self.of))
