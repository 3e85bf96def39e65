"""The naive reference: every feature of a set as plain Python loops, for a subsample of units.

This is what the feature library would cost without its kernels: one value at a time, by
walking the events, presence rows and shocks of a unit month by month. It follows the
oracle of ``tests/features/test_features.py`` (same definitions, feature by feature,
recursing through ``of``), extended with loops for the presence, shock and calendar
features, but it computes only the units asked for (and whatever neighbours or country
members their spatial features need), so it can run on a 50-cell corner of a 10,000-cell grid.

It starts from the placed context (:func:`riskcast.features.context.build_context`):
placing tables on the grid is shared code, not a feature kernel, so its cost is not counted
here (the vectorised timing includes it, so the speed-up is conservative).

Inner series are memoised per (feature, unit), as the library caches shared inner features.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

import numpy as np

from riskcast.features.base import FeatureContext

__all__ = ["Reference"]

R_KM = 6371.0088


def _km(lat1, lon1, lat2, lon2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * R_KM * math.asin(math.sqrt(min(a, 1.0)))


class Reference:
    """Loop implementations of the features over ``ctx``; :meth:`compute` returns one unit's series."""

    def __init__(self, ctx: FeatureContext) -> None:
        self.ctx = ctx
        self.n_u, self.n_m = ctx.shape
        self.memo: dict[tuple[str, int], list[float]] = {}
        self._country_memo: dict[tuple[str, str], list[float]] = {}
        # Per-unit row lists, built on demand (events are sorted by unit once; the rest is loops).
        ev = ctx.events
        self._ev_order = np.argsort(ev["unit_ix"].to_numpy(), kind="stable")
        self._ev_bounds = np.searchsorted(ev["unit_ix"].to_numpy()[self._ev_order], np.arange(self.n_u + 1))
        self._ev_cols = {
            c: ev[c].to_numpy()
            for c in (
                "month_ix",
                "event_type",
                "actor1",
                "actor2",
                "fatalities",
                "is_target",
                "latitude",
                "longitude",
            )
            if c in ev
        }
        self._ev_cache: dict[int, list[dict]] = {}
        self._presence = defaultdict(list)
        if ctx.presence is not None and len(ctx.presence):
            for row in ctx.presence.itertuples(index=False):
                self._presence[int(row.unit_ix)].append(row)
        self._shocks = defaultdict(list)
        if ctx.shocks is not None and len(ctx.shocks):
            for row in ctx.shocks.itertuples(index=False):
                self._shocks[int(row.unit_ix)].append(row)
        self._adj: dict[int, list[int]] = {}
        self._country = ctx.units["country"].astype(str).tolist()
        self._lat = ctx.units["centroid_lat"].astype(float).tolist() if "centroid_lat" in ctx.units else None
        self._lon = ctx.units["centroid_lon"].astype(float).tolist() if "centroid_lon" in ctx.units else None
        self._month = ctx.months.month.tolist()
        self._geo_country = None
        #: Seconds spent on country totals (whole-country sums, shared by all units of a country).
        self.one_off_s = 0.0

    # --- inputs ------------------------------------------------------------------------

    def _events(self, u: int) -> list[dict]:
        if u not in self._ev_cache:
            rows = self._ev_order[self._ev_bounds[u] : self._ev_bounds[u + 1]]
            cols = self._ev_cols
            self._ev_cache[u] = [{c: cols[c][i] for c in cols} for i in rows.tolist()]
        return self._ev_cache[u]

    def _neighbours(self, u: int) -> list[int]:
        if u not in self._adj:
            w = self.ctx.neighbours
            lo, hi = w.indptr[u], w.indptr[u + 1]
            self._adj[u] = [
                int(v) for v, x in zip(w.indices[lo:hi].tolist(), w.data[lo:hi].tolist()) if v != u and x != 0
            ]
        return self._adj[u]

    def _hops(self, u: int, order: int) -> dict[int, int]:
        """Breadth-first search up to ``order`` steps."""
        dist, frontier = {u: 0}, [u]
        for step in range(1, order + 1):
            nxt = []
            for a in frontier:
                for b in self._neighbours(a):
                    if b not in dist:
                        dist[b] = step
                        nxt.append(b)
            frontier = nxt
        return dist

    def _counted(self, row: dict, event_type, actor_group) -> bool:
        ok = (
            row["event_type"].casefold() == event_type.casefold()
            if event_type is not None
            else bool(row["is_target"])
        )
        if actor_group is not None:
            actors = " | ".join(
                "" if not isinstance(a, str) else a for a in (row["actor1"], row["actor2"])
            ).casefold()
            ok = ok and any(p.casefold() in actors for p in self.ctx.actor_groups[actor_group])
        return ok

    # --- the features -----------------------------------------------------------------

    def compute(self, f, u: int, memo: bool = True) -> list[float]:
        key = (f.name, u)
        if key in self.memo:
            return self.memo[key]
        out = self._compute(f, u)
        if memo:
            self.memo[key] = out
        return out

    def _compute(self, f, u: int) -> list[float]:  # noqa: C901 - one branch per feature, on purpose
        name = type(f).__name__
        n_m = self.n_m
        out = [0.0] * n_m
        if name in ("Events", "Fatalities", "AllEvents"):
            for row in self._events(u):
                if name == "AllEvents" or self._counted(row, f.event_type, f.actor_group):
                    out[row["month_ix"]] += float(row["fatalities"]) if name == "Fatalities" else 1.0
            return out
        if name in ("Troops", "Present", "Bases", "MonthsSinceArrival", "MonthsSinceDeparture", "Withdrawal"):
            return self._presence_feature(f, name, u)
        if name in ("MonthsSinceShock", "ShockDecay", "PostShock", "ShockCount"):
            return self._shock_feature(f, name, u)
        if name == "MonthOfYear":
            fn = math.sin if f.component == "sin" else math.cos
            return [fn(2 * math.pi * m / 12) for m in self._month]
        if name == "RainySeason":
            from riskcast.features import _places
            from riskcast.features.calendar import rainy_months

            if self._geo_country is None:
                self._geo_country = (
                    _places.unit_geography(self.ctx.units)["country"].tolist(),
                    rainy_months(self.ctx),
                )
            countries, season = self._geo_country
            return [1.0 if m in season[countries[u]] else 0.0 for m in self._month]
        if name == "NearestEventDistance":
            return self._nearest_event(f, u)
        if name == "CountryTotal":
            return list(self._country_total(f, self._country[u]))
        if name == "SpatialLag":
            hops = self._hops(u, f.order)
            if f.weighting == "none":
                ring = [v for v, d in hops.items() if d == f.order]
                series = [self.compute(f.of, v) for v in ring]
                for t in range(n_m):
                    vals = [s[t] for s in series]
                    out[t] = (sum(vals) / len(vals) if vals else 0.0) if f.stat == "mean" else sum(vals)
                return out
            near = [v for v, d in hops.items() if 1 <= d <= f.order]
            w = {v: 1 / max(_km(self._lat[u], self._lon[u], self._lat[v], self._lon[v]), 1.0) for v in near}
            scale = (max(w.values()) if f.stat == "sum" else sum(w.values())) if w else 1.0
            series = {v: self.compute(f.of, v) for v in near}
            for t in range(n_m):
                out[t] = sum(w[v] / scale * series[v][t] for v in near)
            return out
        if name == "Interaction":
            a, b = self.compute(f.of, u), self.compute(f.by, u)
            return [a[t] * b[t] for t in range(n_m)]
        x = self.compute(f.of, u)
        for t in range(n_m):
            window = x[max(0, t - getattr(f, "window", 1) + 1) : t + 1]
            if name == "Indicator":
                out[t] = float(x[t] >= f.threshold)
            elif name == "Lag":
                out[t] = x[t - f.k] if t - f.k >= 0 else 0.0
            elif name == "Rolling":
                out[t] = {"sum": sum, "mean": lambda w: sum(w) / f.window, "max": max}[f.stat](window)
            elif name in ("TimeSince", "Decay"):
                last = next((s for s in range(t, -1, -1) if x[s] > 0), None)
                if name == "TimeSince":
                    out[t] = min(t - last, f.cap) if last is not None else f.cap
                else:
                    out[t] = 2 ** (-(t - last) / f.halflife) if last is not None else 0.0
            elif name == "Onset":
                out[t] = float(x[t] > 0 and all(x[s] == 0 for s in range(max(0, t - f.quiet), t)))
            elif name == "Change":
                out[t] = x[t] - (x[t - f.k] if t - f.k >= 0 else 0.0)
            else:
                raise NotImplementedError(f"the reference has no loop for {name}")
        return out

    def _country_total(self, f, country: str) -> list[float]:
        """Sum over every unit of the country: a one-off cost per country (timed in ``one_off_s``),
        shared by all its units, so it is not charged to the subsample's rows."""
        key = (f.name, country)
        if key not in self._country_memo:
            t0 = time.perf_counter()
            total = [0.0] * self.n_m
            for v in range(self.n_u):
                if self._country[v] == country:
                    had = v in self._ev_cache
                    s = self.compute(f.of, v, memo=False)
                    if not had:
                        self._ev_cache.pop(v, None)
                    for t in range(self.n_m):
                        total[t] += s[t]
            self._country_memo[key] = total
            self.one_off_s += time.perf_counter() - t0
        return self._country_memo[key]

    def _nearest_event(self, f, u: int) -> list[float]:
        if not hasattr(self, "_targets_by_month"):
            by_month = defaultdict(list)
            for v in range(self.n_u):
                for row in self._events(v):
                    if row["is_target"]:
                        lat, lon = row.get("latitude", math.nan), row.get("longitude", math.nan)
                        if lat is None or lon is None or math.isnan(lat) or math.isnan(lon):
                            lat, lon = self._lat[v], self._lon[v]
                        by_month[row["month_ix"]].append((lat, lon))
            self._targets_by_month = by_month
        out = []
        for t in range(self.n_m):
            best = f.cap_km
            for s in range(t - f.window + 1, t + 1):
                for lat, lon in self._targets_by_month.get(s, ()):
                    best = min(best, _km(self._lat[u], self._lon[u], lat, lon))
            out.append(best)
        return out

    # presence: per placed row (one per presence row and unit), month by month
    def _presence_feature(self, f, name: str, u: int) -> list[float]:
        force = getattr(f, "force", None)
        rows = [r for r in self._presence.get(u, []) if force is None or r.force_key == force.casefold()]

        def covered(t: int) -> bool:
            return any(r.start_at <= t <= r.end_at for r in rows)

        out = []
        for t in range(self.n_m):
            if name == "Troops":
                out.append(sum(r.troops for r in rows if r.start_at <= t <= r.end_at))
            elif name == "Present":
                out.append(1.0 if covered(t) else 0.0)
            elif name == "Bases":
                out.append(float(len({r.place_key for r in rows if r.start_at <= t <= r.end_at})))
            elif name == "MonthsSinceArrival":
                if covered(t):
                    s = t
                    while covered(s - 1):
                        s -= 1
                    out.append(float(min(t - s, f.cap)))
                else:
                    out.append(float(f.cap))
            else:  # MonthsSinceDeparture, Withdrawal: only once a month without the force has passed
                ended = [r.end_at for r in rows if r.start_at < t] if not covered(t) else []
                if ended:
                    since = t - max(ended)
                    out.append(
                        float(min(since, f.cap))
                        if name == "MonthsSinceDeparture"
                        else 2 ** (-since / f.halflife)
                    )
                else:
                    out.append(float(f.cap) if name == "MonthsSinceDeparture" else 0.0)
        return out

    # shocks: per placed shock (one per shock and unit it applies to)
    def _shock_feature(self, f, name: str, u: int) -> list[float]:
        kinds = None if f.kind is None else ((f.kind,) if isinstance(f.kind, str) else tuple(f.kind))
        rows = [
            r
            for r in self._shocks.get(u, [])
            if (kinds is None or r.kind in kinds)
            and (f.scope == "any" or bool(r.national) == (f.scope == "national"))
        ]
        out = []
        for t in range(self.n_m):
            past = [r.month_ix for r in rows if r.month_ix <= t]
            last = max(past) if past else None
            if name == "MonthsSinceShock":
                out.append(float(min(t - last, f.cap)) if last is not None else float(f.cap))
            elif name == "ShockDecay":
                out.append(2 ** (-(t - last) / f.halflife) if last is not None else 0.0)
            elif name == "PostShock":
                out.append(1.0 if any(t - f.months < m <= t for m in past) else 0.0)
            else:  # ShockCount
                out.append(float(sum(1 for m in past if t - f.window < m <= t)))
        return out


def reference_features(features: list, ctx: FeatureContext, units: list[int]) -> dict[str, np.ndarray]:
    """Every feature for the given unit indices: name -> len(units) x months array."""
    ref = Reference(ctx)
    return {f.name: np.array([ref.compute(f, u) for u in units], dtype=float) for f in features}
