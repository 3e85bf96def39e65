"""Spatial spill-over: what happened around a unit, as sparse products with the neighbour graph.

Everything here stays sparse: the hop-distance matrix of the neighbour graph holds only pairs
within ``order`` steps, so a 0.5-degree grid of tens of thousands of cells never builds a dense
units x units matrix. Distances are great-circle kilometres between unit centroids
(``units.centroid_lat`` / ``centroid_lon``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

from riskcast.features.base import PLAIN, ExplainContext, Feature, FeatureContext, FeatureError
from riskcast.features.events import Events
from riskcast.features.kernels import positive, whole
from riskcast.features.presence import Present, Withdrawal
from riskcast.features.words import Count, count, num

__all__ = [
    "SpatialLag",
    "CountryTotal",
    "AcrossBorder",
    "NearestEventDistance",
    "hop_matrix",
    "ring_matrix",
    "haversine_km",
]

#: Mean Earth radius (IUGG), km.
EARTH_RADIUS_KM = 6371.0088
#: Centroids closer than this count as this far apart, so coincident centroids (an enclave
#: and its host) get the nearest-neighbour weight instead of dividing by zero.
MIN_DISTANCE_KM = 1.0


# --- kernels ------------------------------------------------------------------------------


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points given in degrees (broadcasts)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _unit_vectors(lat, lon) -> np.ndarray:
    """Points on the unit sphere, n x 3: Euclidean (chord) distance there is monotone in arc length."""
    phi, lam = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def hop_matrix(w: sp.spmatrix, order: int) -> sp.csr_matrix:
    """Sparse matrix of graph distances: entry (i, j) = steps from i to j, for 1 <= steps <= ``order``.

    Pairs farther than ``order`` steps (and i itself) are absent, so the matrix stays as sparse
    as the ``order``-step neighbourhoods. Breadth-first search as sparse products.
    """
    n = w.shape[0]
    adj = sp.csr_matrix(w != 0, dtype=float)
    adj = (adj - sp.diags(adj.diagonal())).tocsr()  # a self-loop is not a neighbour
    adj.eliminate_zeros()
    reach = sp.identity(n, format="csr", dtype=float)
    frontier, hops = reach, sp.csr_matrix((n, n), dtype=float)
    for step in range(1, order + 1):
        nxt = (frontier @ adj).tocsr()
        nxt.data[:] = 1.0
        nxt = (nxt - nxt.multiply(reach)).tocsr()  # keep units first reached at this step
        nxt.eliminate_zeros()
        hops, reach, frontier = hops + step * nxt, reach + nxt, nxt
    return hops.tocsr()


def ring_matrix(w: sp.spmatrix, order: int, hops: sp.csr_matrix | None = None) -> sp.csr_matrix:
    """0/1 matrix of units exactly ``order`` steps away on the graph (1 = first-order neighbours).

    ``hops`` is ``hop_matrix(w, order)`` when the caller already has it.
    """
    ring = (hop_matrix(w, order) if hops is None else hops).copy()
    ring.data = (ring.data == order).astype(float)
    ring.eliminate_zeros()
    return ring


def _centroids(ctx: FeatureContext, feature: str) -> tuple[np.ndarray, np.ndarray]:
    missing = [c for c in ("centroid_lat", "centroid_lon") if c not in ctx.units]
    if missing:
        raise FeatureError(f"{feature} needs unit centroids; units table lacks {missing}", param="units")
    lat = pd.to_numeric(ctx.units["centroid_lat"], errors="coerce").to_numpy(dtype=float)
    lon = pd.to_numeric(ctx.units["centroid_lon"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(lat) | np.isnan(lon))
    if len(bad):
        ids = ", ".join(ctx.units["unit_id"].astype(str).iloc[bad[:5]])
        raise FeatureError(
            f"{feature} needs unit centroids; {len(bad)} unit(s) have none: {ids}", param="units"
        )
    return lat, lon


def _cached(ctx: FeatureContext, key: str, build) -> sp.csr_matrix:
    # Weight matrices are cached beside the features (keys start with "__", never a feature name).
    if key not in ctx.cache:
        ctx.cache[key] = build()
    return ctx.cache[key]


def _hops(ctx: FeatureContext, order: int) -> sp.csr_matrix:
    return _cached(ctx, f"__hops{order}", lambda: hop_matrix(ctx.neighbours, order))


def _inverse_distance(ctx: FeatureContext, order: int, stat: str) -> sp.csr_matrix:
    """Weights 1/d over every unit within ``order`` steps; rows scaled for ``stat``."""
    hops = _hops(ctx, order).tocoo()
    lat, lon = _centroids(ctx, "SpatialLag(weighting='inverse_distance')")
    d = np.maximum(haversine_km(lat[hops.row], lon[hops.row], lat[hops.col], lon[hops.col]), MIN_DISTANCE_KM)
    w = sp.csr_matrix((1.0 / d, (hops.row, hops.col)), shape=hops.shape)
    # "sum": divide by the row's largest weight, so the nearest unit weighs 1 and the value stays
    # on the scale of a count; "mean": divide by the row total, a weighted average.
    scale = w.max(axis=1).toarray().ravel() if stat == "sum" else np.asarray(w.sum(axis=1)).ravel()
    return (sp.diags(np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)) @ w).tocsr()


# --- features -----------------------------------------------------------------------------


class SpatialLag(Feature):
    """Sum or mean of the inner feature over the unit's neighbours in month t.

    ``weighting="none"``: the units exactly ``order`` steps away on the neighbour graph, equally
    weighted (the mean divides by their number; 0 when there are none).
    ``weighting="inverse_distance"``: every unit within ``order`` steps (all rings up to
    ``order``, since distance already down-weights the far rings), weighted by 1/d, d the
    great-circle km between centroids (at least 1 km). For ``stat="sum"`` the weights are
    d_min/d, so the nearest neighbour weighs 1; for ``stat="mean"`` they sum to 1 per unit.
    """

    family = "spatial"
    description = "{stat} over neighbours of order {order}"

    def __init__(
        self, order: int = 1, stat: str = "sum", weighting: str = "none", of: Feature = Events()
    ) -> None:
        whole("order", order)
        if stat not in ("sum", "mean"):
            raise FeatureError(f"stat must be 'sum' or 'mean', got {stat!r}", param="stat")
        if weighting not in ("none", "inverse_distance"):
            raise FeatureError(
                f"weighting must be 'none' or 'inverse_distance', got {weighting!r}", param="weighting"
            )
        self.order, self.stat, self.weighting, self.of = order, stat, weighting, of

    def describe(self) -> str:
        if self.weighting == "none":
            text = f"{self.stat} over neighbours of order {self.order}"
        else:
            text = f"inverse-distance weighted {self.stat} over neighbours within {self.order} step(s)"
        return f"{text} of {self.of.describe()}"

    def _ring(self, unit: str) -> tuple[str, str]:
        """The neighbours in words, (singular, plural): "neighbouring region(s)", "region(s) 2 steps away"."""
        if self.weighting == "inverse_distance":
            within = f"(distance-weighted, within {count(self.order, ('step', 'steps'))})"
            return f"nearby {unit} {within}", f"nearby {unit}s {within}"
        if self.order == 1:
            return f"neighbouring {unit}", f"neighbouring {unit}s"
        return f"{unit} {self.order} steps away", f"{unit}s {self.order} steps away"

    def counts(self, context: ExplainContext = PLAIN) -> Count | None:
        inner = self.of.counts(context)
        if self.stat != "sum" or inner is None or inner.where:
            return None
        return Count(inner.noun, f"in {self._ring(context.unit_word)[1]}", inner.when)

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        ring, inner = self._ring(context.unit_word), self.of.counts(context)
        if inner is not None and not inner.where:
            if self.stat == "sum" or num(value) == "0":
                return Count(inner.noun, f"in {ring[1]}", inner.when).say(value)
            return f"{count(value, inner.noun)} on average per {ring[0]} {inner.when}"
        if self.weighting == "none" and isinstance(self.of, Present):
            who = context.force(self.of.force)
            if self.stat == "mean":
                return f"{who} present in {value:.0%} of the {ring[1]}"
            return (
                f"{who} present in no {ring[0]}"
                if num(value) == "0"
                else f"{who} present in {count(value, ring)}"
            )
        if self.weighting == "none" and self.stat == "sum" and isinstance(self.of, Withdrawal):
            # A sum of decays over neighbours does not invert to one date; give the signal and its scale.
            who = context.force(self.of.force)
            if value < 0.005:
                return f"{who} has not left any {ring[0]}"
            return (
                f"{who} left {ring[1]} (signal {value:.2f}, summed over them; "
                f"halves every {num(self.of.halflife)} months)"
            )
        return super().explain(value, context)

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        if self.weighting == "inverse_distance":
            m = _cached(
                ctx, f"__idw{self.order}_{self.stat}", lambda: _inverse_distance(ctx, self.order, self.stat)
            )
            return m @ ctx.get(self.of)
        m = _cached(
            ctx,
            f"__ring{self.order}",
            lambda: ring_matrix(ctx.neighbours, self.order, _hops(ctx, self.order)),
        )
        out = m @ ctx.get(self.of)
        if self.stat == "mean":
            deg = np.asarray(m.sum(axis=1)).ravel()
            np.divide(out, np.where(deg > 0, deg, 1)[:, None], out=out)  # in place: no second array
        return out


class CountryTotal(Feature):
    """Total of the inner feature over all units of the unit's country, in month t (unit included)."""

    family = "spatial"
    description = "country-wide total"

    def __init__(self, of: Feature = Events()) -> None:
        self.of = of

    @property
    def national(self) -> bool:
        return True

    def counts(self, context: ExplainContext = PLAIN) -> Count | None:
        inner = self.of.counts(context)
        return None if inner is None or inner.where else Count(inner.noun, "country-wide", inner.when)

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        # "86 attacks country-wide last month, down from 120 the month before: the same across
        # Mali, so it lowers every region's risk" (see Feature.say_count / national_note).
        return self.say_count(value, context)

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        codes = pd.factorize(ctx.units["country"])[0]
        member = sp.csr_matrix((np.ones(len(codes)), (codes, np.arange(len(codes)))))
        return member.T @ (member @ ctx.get(self.of))


class AcrossBorder(Feature):
    """Total of the inner feature, in month t, over units of *other* countries whose centroid lies
    within ``radius_km`` of the unit's centroid: exposure to violence across the border.

    Contiguity lists stop at the border (each country's units come from its own gazetteer), so
    in a multi-country panel (the Liptako-Gourma tri-border area) this is what carries a
    neighbour's insurgency into the unit's features; in a one-country panel it is 0.
    """

    family = "cross_border"
    description = "{of} in units of other countries within {radius_km} km"

    def __init__(self, radius_km: float = 150.0, of: Feature = Events()) -> None:
        positive("radius_km", radius_km)
        self.radius_km, self.of = radius_km, of

    def counts(self, context: ExplainContext = PLAIN) -> Count | None:
        inner = self.of.counts(context)
        if inner is None or inner.where:
            return None
        where = (
            f"across the border (in other countries' {context.unit_word}s within {num(self.radius_km)} km)"
        )
        return Count(inner.noun, where, inner.when)

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        return self.say_count(value, context)  # "5 attacks across the border (...) last month"

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        w = _cached(ctx, f"__across_border_{self.radius_km:g}", lambda: self._weights(ctx))
        return np.asarray(w @ ctx.get(self.of))

    def _weights(self, ctx: FeatureContext) -> sp.csr_matrix:
        lat, lon = _centroids(ctx, "AcrossBorder")
        points = _unit_vectors(lat, lon)
        chord = 2 * np.sin(min(self.radius_km / (2 * EARTH_RADIUS_KM), np.pi / 2))
        pairs = cKDTree(points).query_pairs(chord, output_type="ndarray")
        country = pd.factorize(ctx.units["country"].astype(str))[0]
        pairs = pairs[country[pairs[:, 0]] != country[pairs[:, 1]]] if len(pairs) else pairs.reshape(0, 2)
        n = len(lat)
        rows, cols = np.concatenate([pairs[:, 0], pairs[:, 1]]), np.concatenate([pairs[:, 1], pairs[:, 0]])
        return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))


class NearestEventDistance(Feature):
    """Great-circle km from the unit's centroid to the nearest attack in the ``window`` months ending at t.

    Attacks are the events table's target events (``is_target``), placed at their coordinates,
    or at their unit's centroid when the coordinates are missing. ``cap_km`` when there was
    none (or none nearer): a bounded value that a model can read as "far away".
    """

    family = "spatial"
    description = "km to the nearest attack in the last {window} month(s) (capped at {cap_km} km)"

    def __init__(self, window: int = 1, cap_km: float = 1000.0) -> None:
        whole("window", window)
        positive("cap_km", cap_km)
        self.window, self.cap_km = window, cap_km

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        window = context.ago(0) if self.window == 1 else f"in the last {self.window} months"
        if value >= self.cap_km:
            return f"no attack within {num(self.cap_km)} km {window}"
        return f"nearest attack {num(round(value))} km away {window}"

    def absent(self, value: float) -> bool:
        return value >= self.cap_km  # the cap: no attack that near

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        lat, lon = _centroids(ctx, "NearestEventDistance")
        n_u, n_m = ctx.shape
        out = np.full((n_u, n_m), float(self.cap_km))
        ev = ctx.events
        if ev is None:
            raise FeatureError(
                "NearestEventDistance needs the events table; the context has none", param="events"
            )
        ev = ev[ev["is_target"].to_numpy(dtype=bool)]
        if not len(ev):
            return out
        u_ix = ev["unit_ix"].to_numpy()
        e_lat = (
            pd.to_numeric(ev["latitude"], errors="coerce").to_numpy(dtype=float)
            if "latitude" in ev
            else np.full(len(ev), np.nan)
        )
        e_lon = (
            pd.to_numeric(ev["longitude"], errors="coerce").to_numpy(dtype=float)
            if "longitude" in ev
            else np.full(len(ev), np.nan)
        )
        fallback = np.isnan(e_lat) | np.isnan(e_lon)
        e_lat, e_lon = np.where(fallback, lat[u_ix], e_lat), np.where(fallback, lon[u_ix], e_lon)
        order = np.argsort(ev["month_ix"].to_numpy(), kind="stable")
        months, points = ev["month_ix"].to_numpy()[order], _unit_vectors(e_lat, e_lon)[order]
        units = _unit_vectors(lat, lon)
        # Query by chord length on the unit sphere: exact nearest neighbour by arc length, and
        # the cap becomes a distance bound that prunes the search.
        half_angle = self.cap_km / (2 * EARTH_RADIUS_KM)
        bound = 2 * np.sin(half_angle) * (1 + 1e-12) if half_angle < np.pi / 2 else np.inf
        starts = np.searchsorted(months, np.arange(n_m) - self.window + 1, side="left")
        ends = np.searchsorted(months, np.arange(n_m), side="right")
        for t in np.flatnonzero(ends > starts):  # months with no attack in the window keep the cap
            chord, _ = cKDTree(points[starts[t] : ends[t]]).query(
                units, k=1, distance_upper_bound=bound, workers=-1
            )
            km = (
                2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(chord, 2.0) / 2)
            )  # chord = inf: none within the cap
            out[:, t] = np.where(np.isfinite(chord), np.minimum(km, self.cap_km), self.cap_km)
        return out
