"""A synthetic, Africa-sized PRIO-GRID panel for the feature benchmark (seeded, vectorised).

Cells: a ``side x side`` block of 0.5-degree PRIO-GRID cells (default 100 x 100 = 10,000 cells,
lat -20..30, lon -10..40), split into three vertical bands labelled Mali, Burkina Faso and Niger
so that country totals, national shocks and the rainy season have several countries to work
on. (The labels are borrowed, not geography: on PRIO-GRID units the presence, shock and
calendar features map a cell to a country through riskcast's curated admin-1 gazetteer, which
knows only these three countries; a made-up country name would leave every shock unplaced.)
Months: 1990-01 onwards.

Events: Poisson counts per cell-month whose log-rate is a smooth spatial field of hotspots, a
slow continental trend and a per-cell AR(1) term (so events cluster in space and time), then
one row per event with event_type / actor1 / actor2 / fatalities / date / latitude / longitude
drawn from small vocabularies -- including actor names that the default actor groups match.
Strings are taken from small object arrays, so the table holds shared references and stays a
few hundred MB for ~2 M events.

Presence (a few hundred rows) and shocks (a few dozen) follow the canonical PRESENCE and SHOCKS
schemas. Everything is SYNTHETIC: no real event, place or force is described.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.config import DEFAULT_EVENT_TYPES
from riskcast.regions import priogrid_gazetteer, priogrid_gid

__all__ = ["grid_units", "grid_events", "grid_arrays", "grid_presence", "grid_shocks"]

LAT0, LON0 = -20.0, -10.0
COUNTRIES = ("Mali", "Burkina Faso", "Niger")

TARGET_TYPES = np.array(["Battles", "Violence against civilians", "Explosions/Remote violence"], dtype=object)
OTHER_TYPES = np.array(["Protests", "Riots", "Strategic developments"], dtype=object)
ACTORS = np.array(
    [
        "JNIM: Group for Support of Islam and Muslims",
        "Katiba Macina",
        "Ansarul Islam",
        "Islamic State (Greater Sahara)",
        "ISGS",
        "Military Forces of Synthland (1990-)",
        "Police Forces of Synthland (1990-)",
        "Dan Na Ambassagou",
        "Dozo Militia",
        "Koglweogo Militia",
        "Unidentified Armed Group (Synthland)",
        "Civilians (Synthland)",
        "Protesters (Synthland)",
        "Rioters (Synthland)",
        "CMA: Coordination of Azawad Movements",
    ],
    dtype=object,
)
#: Actor1 weights for target and other events; actor2 is drawn from the same list or missing.
_W_TARGET = np.array([8, 3, 2, 5, 2, 8, 2, 2, 2, 1, 10, 0, 0, 0, 2], dtype=float)
_W_OTHER = np.array([0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 0, 0, 10, 6, 0], dtype=float)


def grid_units(side: int = 100, *, lat0: float = LAT0, lon0: float = LON0) -> pd.DataFrame:
    """REGIONS rows of a ``side x side`` cell block from (``lat0``, ``lon0``) at its south-west corner, with
    queen neighbours and a country per band of columns (a block wider than 220 cells needs ``lat0`` below the
    default to stay under lat 90)."""
    rows, cols = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    lat = lat0 + 0.25 + 0.5 * rows.ravel()
    lon = lon0 + 0.25 + 0.5 * cols.ravel()
    units = priogrid_gazetteer(priogrid_gid(lat, lon))  # sorted by gid = row-major from the south-west
    r, c = np.divmod(np.arange(len(units)), side)
    band = np.minimum(c * len(COUNTRIES) // side, len(COUNTRIES) - 1)
    units["country"] = np.array(COUNTRIES, dtype=object)[band]
    return units


def _rates(
    n_units: int, side: int, n_months: int, rng: np.random.Generator, mean_target: float, hotspots: int = 12
) -> np.ndarray:
    """Expected target events per cell-month (n_units x n_months), clustered in space and time."""
    r, c = np.divmod(np.arange(n_units), side)
    field = np.full(n_units, -4.0)
    for _ in range(hotspots):
        cr, cc = rng.uniform(0, side, 2)
        width = rng.uniform(3, 12)
        field = np.logaddexp(field, rng.uniform(0.5, 2.5) - ((r - cr) ** 2 + (c - cc) ** 2) / (2 * width**2))
    t = np.arange(n_months) / max(n_months - 1, 1)
    trend = 1.2 * t + 0.3 * np.sin(2 * np.pi * t * 3)
    ar = np.empty((n_units, n_months), dtype=np.float32)
    state = np.zeros(n_units, dtype=np.float32)
    for m in range(n_months):
        state = 0.85 * state + rng.normal(0, 0.45, n_units).astype(np.float32)
        ar[:, m] = state
    log_rate = ar
    log_rate += field[:, None].astype(np.float32)
    log_rate += trend[None, :].astype(np.float32)
    rate = np.exp(log_rate, out=log_rate)
    rate *= mean_target / rate.mean()
    return rate


def grid_events(
    units: pd.DataFrame,
    months: pd.DatetimeIndex,
    *,
    side: int,
    seed: int = 0,
    mean_target: float = 0.35,
    mean_other: float = 0.1,
    hotspots: int = 12,
) -> pd.DataFrame:
    """One row per synthetic event (canonical EVENTS columns the features read, plus ``unit_id``).

    ``hotspots`` (12 for the 100 x 100 block) should grow with the area of a larger block: the rates
    are scaled to ``mean_target`` per cell-month, so too few hotspots concentrate the same events on
    fewer cells."""
    rng = np.random.default_rng(seed)
    n_u, n_m = len(units), len(months)
    rate = _rates(n_u, side, n_m, rng, mean_target, hotspots)
    n_target = rng.poisson(rate).astype(np.int64).ravel()
    del rate
    n_other = rng.poisson(mean_other, n_u * n_m).astype(np.int64)
    cell_month = np.concatenate(
        [np.repeat(np.arange(n_u * n_m), n_target), np.repeat(np.arange(n_u * n_m), n_other)]
    )
    is_target = np.concatenate([np.ones(n_target.sum(), bool), np.zeros(n_other.sum(), bool)])
    del n_target, n_other
    n = len(cell_month)
    u, m = np.divmod(cell_month, n_m)
    del cell_month
    etype = np.where(is_target, TARGET_TYPES[rng.integers(0, 3, n)], OTHER_TYPES[rng.integers(0, 3, n)])
    a1 = np.where(
        is_target,
        rng.choice(len(ACTORS), n, p=_W_TARGET / _W_TARGET.sum()),
        rng.choice(len(ACTORS), n, p=_W_OTHER / _W_OTHER.sum()),
    )
    a2 = rng.integers(-4, len(ACTORS), n)  # negative: no second actor
    actor2 = np.where(a2 >= 0, ACTORS[np.maximum(a2, 0)], None).astype(object)
    fatalities = np.where(is_target, rng.geometric(0.35, n) - 1, 0).astype(np.int64)
    month_start = months.to_numpy()[m]
    day = rng.integers(0, 28, n).astype("timedelta64[D]")
    lat = units["centroid_lat"].to_numpy()[u] + rng.uniform(-0.249, 0.249, n)
    lon = units["centroid_lon"].to_numpy()[u] + rng.uniform(-0.249, 0.249, n)
    ids = units["unit_id"].to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "date": (month_start + day).astype("datetime64[ns]"),
            "country": units["country"].to_numpy(dtype=object)[u],
            "latitude": lat,
            "longitude": lon,
            "event_type": etype,
            "actor1": ACTORS[a1],
            "actor2": actor2,
            "fatalities": fatalities,
            "source_dataset": "synthetic",
            "unit_id": ids[u],
        }
    )


def grid_arrays(events: pd.DataFrame, units: pd.DataFrame, months: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """n_target / n_fatalities / n_all on the grid, as :func:`riskcast.panel.build_panel` makes them
    (default target: the political-violence event types, no actor filter, no fatality floor)."""
    n_u, n_m = len(units), len(months)
    u = pd.Index(units["unit_id"]).get_indexer(events["unit_id"])
    m = months.get_indexer(events["date"].dt.to_period("M").dt.to_timestamp())
    flat = u * n_m + m
    types = {t.casefold() for t in DEFAULT_EVENT_TYPES}
    codes, uniq = pd.factorize(events["event_type"])
    target = np.array([str(x).casefold() in types for x in uniq], dtype=bool)[codes]

    def count(ix, w=None):
        return np.bincount(ix, weights=w, minlength=n_u * n_m).astype(float).reshape(n_u, n_m)

    return {
        "n_target": count(flat[target]),
        "n_fatalities": count(flat[target], events["fatalities"].to_numpy(dtype=float)[target]),
        "n_all": count(flat),
    }


def grid_presence(
    units: pd.DataFrame, months: pd.DatetimeIndex, *, n_rows: int = 300, seed: int = 1
) -> pd.DataFrame:
    """Synthetic foreign-force deployments (PRESENCE schema): bases at cell centres, month ranges."""
    rng = np.random.default_rng(seed)
    forces = np.array(["France", "MINUSMA", "Wagner", "Synthforce"], dtype=object)  # the default set's forces
    pick = rng.integers(0, len(units), n_rows)
    start = rng.integers(0, len(months) - 1, n_rows)
    length = rng.integers(1, 120, n_rows)
    end = np.minimum(start + length, len(months) - 1)
    open_ended = rng.random(n_rows) < 0.1
    lat = units["centroid_lat"].to_numpy()[pick] + rng.uniform(-0.2, 0.2, n_rows)
    lon = units["centroid_lon"].to_numpy()[pick] + rng.uniform(-0.2, 0.2, n_rows)
    return pd.DataFrame(
        {
            "force": forces[rng.integers(0, len(forces), n_rows)],
            "country": units["country"].to_numpy(dtype=object)[pick],
            "region": None,
            "location": [f"Synth base {i}" for i in range(n_rows)],
            "latitude": lat,
            "longitude": lon,
            "start_month": months[start].to_numpy(),
            "end_month": pd.Series(months[end].to_numpy()).where(~open_ended).to_numpy(),
            "troops": np.where(rng.random(n_rows) < 0.5, rng.integers(50, 3000, n_rows), np.nan),
            "source": "synthetic",
            "priogrid_gid": pd.array(
                units["unit_id"].str[2:].astype("int64").to_numpy()[pick], dtype="Int64"
            ),
        }
    )


def grid_shocks(months: pd.DatetimeIndex, *, n_rows: int = 48, seed: int = 2) -> pd.DataFrame:
    """Synthetic national political shocks (SHOCKS schema) spread over the countries."""
    from riskcast.schemas import SHOCK_KINDS

    rng = np.random.default_rng(seed)
    when = months[rng.integers(0, len(months), n_rows)] + pd.to_timedelta(
        rng.integers(0, 28, n_rows), unit="D"
    )
    return pd.DataFrame(
        {
            "date": pd.DatetimeIndex(when).astype("datetime64[ns]"),
            "country": np.array(COUNTRIES, dtype=object)[rng.integers(0, len(COUNTRIES), n_rows)],
            "region": None,
            "kind": np.array(SHOCK_KINDS, dtype=object)[rng.integers(0, len(SHOCK_KINDS), n_rows)],
            "actor": "synthetic actor",
            "description": "synthetic shock",
            "source": "synthetic",
        }
    ).sort_values("date", ignore_index=True)
