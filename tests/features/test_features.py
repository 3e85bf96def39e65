"""History and spatial features against slow, obviously-correct loops; names; parameters; causality.

The oracle recurses through ``of`` with itself, so a nested composition such as
``Lag(1, of=Decay(12))`` is checked end to end against loops, never against the fast kernels.
Counts come from the events table row by row, so the array path of ``Events()`` is also
checked against the table it summarises.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from riskcast.features import FeatureContext, FeatureError
from riskcast.features.history import (
    AllEvents,
    Change,
    Decay,
    Events,
    Fatalities,
    Indicator,
    Lag,
    Onset,
    Rolling,
    TimeSince,
)
from riskcast.features.spatial import CountryTotal, NearestEventDistance, SpatialLag
from riskcast.features.spec import describe_registry, load_feature_set, registry
from tests.conftest import random_context

R_KM = 6371.0088


# --- the oracle ---------------------------------------------------------------------------


def _km(lat1, lon1, lat2, lon2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * R_KM * math.asin(math.sqrt(a))


def _hops(ctx, u: int) -> dict[int, int]:
    """Breadth-first search: steps from unit u to every unit it reaches."""
    adj = ctx.neighbours.toarray() != 0
    dist, frontier = {u: 0}, [u]
    while frontier:
        nxt = []
        for a in frontier:
            for b in range(len(adj)):
                if adj[a, b] and b not in dist:
                    dist[b] = dist[a] + 1
                    nxt.append(b)
        frontier = nxt
    return dist


def _counted(row, event_type, actor_group, groups) -> bool:
    ok = row.event_type.casefold() == event_type.casefold() if event_type is not None else bool(row.is_target)
    if actor_group is not None:
        actors = [str(a).casefold() for a in (row.actor1, row.actor2) if isinstance(a, str)]
        ok = ok and any(p.casefold() in a for p in groups[actor_group] for a in actors)
    return ok


def oracle(f, ctx) -> np.ndarray:
    n_u, n_m = ctx.shape
    out = np.zeros((n_u, n_m))
    name = type(f).__name__
    if name in ("Events", "Fatalities", "AllEvents"):
        for row in ctx.events.itertuples():
            if name == "AllEvents" or _counted(row, f.event_type, f.actor_group, ctx.actor_groups):
                out[row.unit_ix, row.month_ix] += row.fatalities if name == "Fatalities" else 1
        return out
    if name == "NearestEventDistance":
        lat, lon = ctx.units["centroid_lat"].to_numpy(), ctx.units["centroid_lon"].to_numpy()
        for u in range(n_u):
            for t in range(n_m):
                best = f.cap_km
                for row in ctx.events.itertuples():
                    if row.is_target and t - f.window < row.month_ix <= t:
                        elat, elon = (
                            (row.latitude, row.longitude)
                            if not (math.isnan(row.latitude) or math.isnan(row.longitude))
                            else (lat[row.unit_ix], lon[row.unit_ix])
                        )
                        best = min(best, _km(lat[u], lon[u], elat, elon))
                out[u, t] = best
        return out
    x = oracle(f.of, ctx)
    for u in range(n_u):
        hops = _hops(ctx, u) if name == "SpatialLag" else {}
        for t in range(n_m):
            past = [s for s in range(t + 1) if x[u, s] > 0]
            window = [x[u, s] for s in range(max(0, t - getattr(f, "window", 1) + 1), t + 1)]
            if name == "Indicator":
                out[u, t] = float(x[u, t] >= f.threshold)
            elif name == "Lag":
                out[u, t] = x[u, t - f.k] if t - f.k >= 0 else 0.0
            elif name == "Rolling":
                out[u, t] = {"sum": sum(window), "mean": sum(window) / f.window, "max": max(window)}[f.stat]
            elif name == "TimeSince":
                out[u, t] = min(t - past[-1], f.cap) if past else f.cap
            elif name == "Decay":
                out[u, t] = 2 ** (-(t - past[-1]) / f.halflife) if past else 0.0
            elif name == "Onset":
                out[u, t] = float(x[u, t] > 0 and all(x[u, s] == 0 for s in range(max(0, t - f.quiet), t)))
            elif name == "Change":
                out[u, t] = x[u, t] - (x[u, t - f.k] if t - f.k >= 0 else 0.0)
            elif name == "CountryTotal":
                country = ctx.units["country"].iloc[u]
                out[u, t] = sum(x[v, t] for v in range(n_u) if ctx.units["country"].iloc[v] == country)
            elif name == "SpatialLag" and f.weighting == "none":
                vals = [x[v, t] for v, d in hops.items() if d == f.order]
                out[u, t] = (sum(vals) / len(vals) if vals else 0.0) if f.stat == "mean" else sum(vals)
            elif name == "SpatialLag":
                lat, lon = ctx.units["centroid_lat"].to_numpy(), ctx.units["centroid_lon"].to_numpy()
                near = [v for v, d in hops.items() if 1 <= d <= f.order]
                w = {v: 1 / max(_km(lat[u], lon[u], lat[v], lon[v]), 1.0) for v in near}
                scale = (max(w.values()) if f.stat == "sum" else sum(w.values())) if w else 1.0
                out[u, t] = sum(w[v] / scale * x[v, t] for v in near)
            else:  # pragma: no cover - a feature without an oracle is a test bug
                raise AssertionError(f"no oracle for {name}")
    return out


# --- the features under test --------------------------------------------------------------

FEATURES = [
    Events(),
    Events(event_type="Battles"),
    Events(event_type="riots"),
    Events(actor_group="jnim"),
    Events(event_type="Violence against civilians", actor_group="militias"),
    Fatalities(),
    Fatalities(actor_group="state_forces"),
    AllEvents(),
    Indicator(),
    Indicator(2),
    Lag(1),
    Lag(3),
    Lag(2, of=Fatalities()),
    Rolling(1),
    Rolling(3),
    Rolling(12, "sum"),
    Rolling(6, "mean"),
    Rolling(12, "mean", Indicator()),
    Rolling(4, "max"),
    Rolling(100, "max", Change()),
    TimeSince(),
    TimeSince(cap=5),
    Decay(3.0),
    Decay(12),
    Onset(),
    Onset(quiet=3),
    Change(),
    Change(3, of=Fatalities()),
    SpatialLag(1),
    SpatialLag(1, "mean"),
    SpatialLag(2),
    SpatialLag(2, "mean"),
    SpatialLag(3),
    SpatialLag(3, "mean"),
    SpatialLag(1, weighting="inverse_distance"),
    SpatialLag(2, "mean", "inverse_distance"),
    SpatialLag(3, "sum", "inverse_distance"),
    CountryTotal(),
    CountryTotal(of=Fatalities()),
    NearestEventDistance(),
    NearestEventDistance(window=3),
    NearestEventDistance(window=12, cap_km=150.0),
    Lag(k=1, of=Decay(12)),
    SpatialLag(of=Rolling(3)),
    TimeSince(of=SpatialLag(2, of=Events(actor_group="jnim"))),
    Decay(6, of=CountryTotal(of=Indicator())),
    Rolling(3, "mean", SpatialLag(1, "mean", "inverse_distance", Fatalities())),
]
# (seed, units, months): larger graphs give non-empty rings of order 2 and 3.
PANELS = [(0, 7, 40), (1, 12, 30), (2, 15, 26), (3, 9, 36)]


@pytest.fixture(scope="module", params=PANELS, ids=lambda p: f"seed{p[0]}")
def panel(request):
    ctx = random_context(*request.param)
    return ctx, {}


@pytest.mark.parametrize("feature", FEATURES, ids=lambda f: f.name)
def test_feature_matches_oracle(feature, panel):
    ctx, _ = panel
    np.testing.assert_allclose(ctx.get(feature), oracle(feature, ctx), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_context_events_table_agrees_with_arrays(seed):
    ctx = random_context(seed)
    for array, feature in [
        ("n_target", Events(actor_group=None)),
        ("n_fatalities", Fatalities()),
        ("n_all", AllEvents()),
    ]:
        np.testing.assert_array_equal(oracle(feature, ctx), ctx.arrays[array], err_msg=array)
    every_group = Events(actor_group="jnim").compute(ctx) + Events(actor_group="state_forces").compute(ctx)
    assert every_group.sum() > 0
    assert not ctx.events["latitude"].notna().all(), "some events must lack coordinates (centroid fallback)"


def test_inverse_distance_sum_gives_the_nearest_neighbour_weight_one():
    ctx = random_context(1, 12, 30)
    ones = FeatureContext(
        units=ctx.units, months=ctx.months, neighbours=ctx.neighbours, arrays={"n_target": np.ones(ctx.shape)}
    )
    near = SpatialLag(1, weighting="inverse_distance").compute(ones)[:, 0]
    has = np.asarray(ctx.neighbours.sum(axis=1)).ravel() > 0
    assert np.all(near[has] >= 1.0) and np.all(near[~has] == 0.0)
    mean = SpatialLag(2, "mean", "inverse_distance").compute(ones)[:, 0]
    np.testing.assert_allclose(mean[has], 1.0)
    units = ctx.units.copy()
    units.loc[1, ["centroid_lat", "centroid_lon"]] = units.loc[0, ["centroid_lat", "centroid_lon"]].to_numpy()
    graph = ctx.neighbours.tolil()
    graph[0, 1] = graph[1, 0] = 1.0  # coincident centroids count as 1 km apart, not 0
    graph = graph.tocsr()
    same = FeatureContext(
        units=units, months=ctx.months, neighbours=graph, arrays={"n_target": np.ones(ctx.shape)}
    )
    values = SpatialLag(1, weighting="inverse_distance").compute(same)
    assert np.isfinite(values).all() and values[0, 0] == pytest.approx(
        1.0
        + sum(
            1.0
            / _km(units.centroid_lat[0], units.centroid_lon[0], units.centroid_lat[v], units.centroid_lon[v])
            for v in graph[0].indices
            if v != 1
        )
    )


def test_nearest_event_distance_is_zero_at_an_event_and_capped_without_one():
    ctx = random_context(0)
    lat, lon = ctx.units["centroid_lat"].to_numpy(), ctx.units["centroid_lon"].to_numpy()
    events = pd.DataFrame(
        {"unit_ix": [3], "month_ix": [5], "is_target": [True], "latitude": [lat[3]], "longitude": [lon[3]]}
    )
    one = FeatureContext(units=ctx.units, months=ctx.months, neighbours=ctx.neighbours, events=events)
    d = NearestEventDistance(window=2, cap_km=5000.0).compute(one)
    assert d[3, 5] == pytest.approx(0.0, abs=1e-6) and d[3, 6] == pytest.approx(0.0, abs=1e-6)
    assert np.all(d[:, [4, 7]] == 5000.0)
    assert d[0, 5] == pytest.approx(_km(lat[0], lon[0], lat[3], lon[3]), rel=1e-9)


def test_spatial_features_on_a_large_grid_stay_sparse():
    """A 100 x 100 rook grid (10,000 cells): no dense units x units matrix is ever needed."""
    import scipy.sparse as sp

    side = 100
    path = sp.diags([np.ones(side - 1), np.ones(side - 1)], [-1, 1])
    grid = (sp.kron(sp.identity(side), path) + sp.kron(path, sp.identity(side))).tocsr()
    ij = np.indices((side, side)).reshape(2, -1)
    units = pd.DataFrame(
        {
            "unit_id": np.arange(side * side).astype(str),
            "country": "A",
            "centroid_lat": 10 + 0.5 * ij[0],
            "centroid_lon": -10 + 0.5 * ij[1],
        }
    )
    x = np.zeros((side * side, 3))
    x[0, 1] = 1.0
    ctx = FeatureContext(
        units=units,
        months=pd.date_range("2020-01", periods=3, freq="MS"),
        neighbours=grid,
        arrays={"n_target": x},
    )
    ring = SpatialLag(3).compute(ctx)
    assert ring[:, 1].sum() == 4  # cells exactly 3 rook steps from a corner: (0,3) (1,2) (2,1) (3,0)
    idw = SpatialLag(3, weighting="inverse_distance").compute(ctx)
    assert np.count_nonzero(idw[:, 1]) == 9 and idw[1, 1] == pytest.approx(1.0)
    events = pd.DataFrame(
        {"unit_ix": [0], "month_ix": [1], "is_target": [True], "latitude": [np.nan], "longitude": [np.nan]}
    )
    ctx.events = events
    d = NearestEventDistance().compute(ctx)
    assert (
        d[0, 1] == 0.0 and d[1, 1] == pytest.approx(_km(10, -10, 10, -9.5)) and (d[:, [0, 2]] == 1000.0).all()
    )


# --- names, parameters, documentation -----------------------------------------------------


def test_names_say_how_a_feature_was_computed():
    assert Decay(12).name == "decay_halflife12"
    assert Lag(1, of=Fatalities()).name == "lag_k1_of_fatalities"
    assert Rolling(12, "mean", Indicator()).name == "rolling_window12_mean_of_indicator"
    assert Events(event_type="Explosions/Remote violence").name == "events_type_explosions_remote_violence"
    assert Events(actor_group="jnim").name == "events_actor_jnim"
    assert SpatialLag(2, stat="mean").name == "spatial_lag_order2_mean"
    assert SpatialLag(weighting="inverse_distance").name == "spatial_lag_inverse_distance"
    assert SpatialLag(of=Rolling(3)).name == "spatial_lag_of_rolling_window3"
    assert Lag(k=1, of=Decay(12)).name == "lag_k1_of_decay_halflife12"
    assert NearestEventDistance().name == "nearest_event_distance"
    assert NearestEventDistance(window=3, cap_km=250).name == "nearest_event_distance_window3_cap_km250"
    names = [f.name for f in FEATURES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Decay(0), r"halflife must be > 0, got 0"),
        (lambda: Decay(-3.0), r"halflife must be > 0, got -3.0"),
        (lambda: Rolling(0), r"window must be a whole number >= 1, got 0"),
        (lambda: Rolling(2.5), r"window must be a whole number >= 1, got 2.5"),
        (lambda: Rolling(3, "median"), r"stat must be 'sum', 'mean' or 'max', got 'median'"),
        (lambda: Lag(0), r"k must be a whole number >= 1, got 0"),
        (lambda: SpatialLag(0), r"order must be a whole number >= 1, got 0"),
        (lambda: SpatialLag(1, "max"), r"stat must be 'sum' or 'mean', got 'max'"),
        (
            lambda: SpatialLag(weighting="gaussian"),
            r"weighting must be 'none' or 'inverse_distance', got 'gaussian'",
        ),
        (lambda: NearestEventDistance(window=0), r"window must be a whole number >= 1, got 0"),
        (lambda: NearestEventDistance(cap_km=0.0), r"cap_km must be > 0, got 0.0"),
    ],
)
def test_bad_parameters_raise_feature_error(make, message):
    with pytest.raises(FeatureError, match=f"^{message}$"):
        make()


def test_unknown_actor_group_and_missing_centroids_are_named():
    ctx = random_context(0)
    with pytest.raises(
        FeatureError, match=r"unknown actor group 'wagner'; declared: \['jnim', 'militias', 'state_forces'\]"
    ):
        Events(actor_group="wagner").compute(ctx)
    ctx.units.loc[2, "centroid_lat"] = np.nan
    with pytest.raises(
        FeatureError, match=r"NearestEventDistance needs unit centroids; 1 unit\(s\) have none: U2"
    ):
        NearestEventDistance().compute(ctx)


def test_every_registered_feature_is_documented():
    for name, cls in registry().items():
        assert (cls.__doc__ or "").strip(), f"{name} has no docstring"
    assert {"SpatialLag", "CountryTotal", "NearestEventDistance"} <= set(registry())
    assert all(row["description"] for row in describe_registry())


def test_every_feature_of_the_default_set_describes_itself():
    for f in load_feature_set("default").features + FEATURES:
        assert f.describe().strip(), f.name
    assert (
        SpatialLag(2, "mean", "inverse_distance").describe()
        == f"inverse-distance weighted mean over neighbours within 2 step(s) of {Events().describe()}"
    )


# --- causality ----------------------------------------------------------------------------


def _scrambled_after(ctx, t: int, seed: int) -> FeatureContext:
    """A copy of ``ctx`` whose arrays and events after month t are replaced by other random ones."""
    rng = np.random.default_rng(seed)
    arrays = {k: v.copy() for k, v in ctx.arrays.items()}
    for v in arrays.values():
        v[:, t + 1 :] = rng.poisson(3.0, size=v[:, t + 1 :].shape)
    ev = ctx.events
    past, future = ev[ev["month_ix"] <= t], ev[ev["month_ix"] > t]
    future = future.sample(frac=0.5, random_state=seed)  # delete some rows ...
    fresh = ev.sample(n=len(ev), replace=True, random_state=seed + 1).reset_index(
        drop=True
    )  # ... and add others
    n_m = ctx.shape[1]
    if t + 1 < n_m:
        fresh["month_ix"] = rng.integers(t + 1, n_m, len(fresh))
        fresh["is_target"] = rng.random(len(fresh)) < 0.7
        fresh["latitude"] += rng.normal(0, 2, len(fresh))
        fresh["fatalities"] = rng.poisson(5, len(fresh))
        future = pd.concat([future, fresh], ignore_index=True)
    events = pd.concat([past, future], ignore_index=True)
    return FeatureContext(
        units=ctx.units,
        months=ctx.months,
        neighbours=ctx.neighbours,
        arrays=arrays,
        events=events,
        actor_groups=ctx.actor_groups,
    )


@pytest.mark.parametrize("t", [0, 7, 20, 38, 39])
def test_features_at_t_ignore_everything_after_t(t):
    """Scramble every month after t, arrays and events table: no value at months <= t may move."""
    ctx = random_context(5)
    ctx2 = _scrambled_after(ctx, t, seed=99 + t)
    for f in load_feature_set("history_only").features + FEATURES:
        a, b = ctx.get(f), ctx2.get(f)
        np.testing.assert_array_equal(a[:, : t + 1], b[:, : t + 1], err_msg=f.name)
