"""The latent process: simulate the unit-month counts, then draw the marks of their events."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from riskcast import facts
from riskcast.atomic import atomic_path
from riskcast.errors import ConfigError
from riskcast.synth.effects import Effects
from riskcast.synth.marks import _marks
from riskcast.synth.timelines import _presence_grids, _shock_grid
from riskcast.synth.units import _units

__all__ = [
    "SynthResult",
    "simulate",
    "generate_events",
    "default_events",
    "default_simulation",
    "write_events",
]

# -- simulation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthResult:
    """The synthetic events and the latent panel that generated them.

    ``panel`` has one row per unit and month of ``start..end``: unit_id, name, admin1, month,
    ``log_rate`` (eta, before the cap), ``rate`` (mu), its parts (``base``, ``trend``,
    ``season``, ``self_term``, ``spill_term``, ``presence_term``, ``wagner_term``,
    ``withdrawal_term``, ``shock_term``, all on the log scale), the flags ``protective_present``
    and ``wagner_present``, and the drawn counts ``events`` (all types) and ``target_events``.
    """

    events: pd.DataFrame
    panel: pd.DataFrame


def _month(value, key: str) -> pd.Period:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value.strip()):
        raise ConfigError(f"synth: {key} {value!r} is not a month (YYYY-MM)", key=key)
    try:
        return pd.Period(value, "M")
    except (ValueError, TypeError):
        raise ConfigError(f"synth: {key} {value!r} is not a month (YYYY-MM)", key=key) from None


def _month_ordinals(start, end) -> tuple[int, int]:
    s, e = _month(start, "start"), _month(end, "end")
    if e < s:
        raise ConfigError(f"synth: end {end} is before start {start}", key="end")
    last_allowed = pd.Period(pd.Timestamp.today(), "M") - 1
    if e > last_allowed:
        raise ConfigError(
            f"synth: end {end} is not a complete past month; synthetic events must not be dated in the future",
            key="end",
        )
    return s.ordinal, e.ordinal


def simulate(
    regions: pd.DataFrame,
    shocks: pd.DataFrame | None,
    presence: pd.DataFrame | None,
    *,
    start: str = "2012-01",
    end: str = "2024-12",
    seed: int = 20240601,
    effects: Effects = Effects(),
    parents: pd.DataFrame | None = None,
) -> SynthResult:
    """Simulate the latent panel and the synthetic events (see the :mod:`riskcast.synth` docstring).

    Args:
        regions: REGIONS rows of the units (one level: admin1 or admin2).
        shocks: SHOCKS table (other countries' shocks are ignored).
        presence: PRESENCE table (other countries' rows are ignored).
        start, end: first and last month, "YYYY-MM"; ``end`` must be a complete past month.
        seed: seed of ``numpy.random.default_rng``.
        effects: the effect sizes.
        parents: for admin-2 units, the admin-1 REGIONS rows their ``parent`` refers to.
    """
    rng = np.random.default_rng(seed)
    s_ord, e_ord = _month_ordinals(start, end)
    units = _units(regions, parents, effects, rng)
    U = len(units)
    burn = int(effects.burn_in_months)
    ext_start = s_ord - burn - effects.withdrawal_months - 1  # presence history before the window
    months_all = np.arange(ext_start, e_ord + 1)
    protective, wagner, withdrawal, present_by_force = _presence_grids(units, presence, months_all, effects)
    shock = _shock_grid(units, shocks, months_all, effects)
    sim0 = s_ord - burn - ext_start  # index of the first simulated month in months_all
    months = months_all[sim0:]
    protective, wagner, withdrawal, shock = (a[:, sim0:] for a in (protective, wagner, withdrawal, shock))
    present_by_force = {k: v[:, sim0:] for k, v in present_by_force.items()}
    T = len(months)

    periods = pd.PeriodIndex.from_ordinals(months, freq="M")
    year_frac = periods.year.to_numpy() + (periods.month.to_numpy() - 1) / 12.0
    trend = effects.trend_per_year * (year_frac - effects.trend_ref_year)
    season = np.where(
        np.isin(periods.month.to_numpy(), effects.season_months), np.log(effects.season_mult), 0.0
    )
    log_base = np.log(units["base"].to_numpy())
    presence_term = np.log(effects.presence_mult) * protective
    wagner_term = np.log(effects.wagner_mult) * wagner
    static = (
        log_base[:, None]
        + trend[None, :]
        + season[None, :]
        + presence_term
        + wagner_term
        + withdrawal
        + shock
    )

    # neighbour-mean operator over in-panel neighbours
    ix = {u: i for i, u in enumerate(units["unit_id"])}
    A = np.zeros((U, U))
    for i, nb in enumerate(units["neighbours"]):
        js = [ix[n] for n in nb if n in ix and ix[n] != i]
        if js:
            A[i, js] = 1.0 / len(js)

    y = np.zeros((U, T), dtype=np.int64)
    eta = np.zeros((U, T))
    self_term = np.zeros((U, T))
    spill_term = np.zeros((U, T))
    prev = np.zeros(U)
    k = effects.dispersion
    for t in range(T):
        self_term[:, t] = effects.self_excitation * np.log1p(prev)
        spill_term[:, t] = effects.spillover * np.log1p(A @ prev)
        eta[:, t] = static[:, t] + self_term[:, t] + spill_term[:, t]
        mu = np.minimum(np.exp(eta[:, t]), effects.max_rate)
        g = rng.gamma(k, 1.0 / k, U)
        y[:, t] = rng.poisson(mu * g)
        prev = y[:, t].astype(float)

    keep = slice(burn, T)
    y, eta = y[:, keep], eta[:, keep]
    months = months[keep]
    T = len(months)
    grids = dict(
        trend=np.broadcast_to(trend[keep], (U, T)),
        season=np.broadcast_to(season[keep], (U, T)),
        self_term=self_term[:, keep],
        spill_term=spill_term[:, keep],
        presence_term=presence_term[:, keep],
        wagner_term=wagner_term[:, keep],
        withdrawal_term=withdrawal[:, keep],
        shock_term=shock[:, keep],
    )
    protective, wagner = protective[:, keep], wagner[:, keep]
    present_by_force = {f: v[:, keep] for f, v in present_by_force.items()}

    events, target_grid = _marks(rng, units, months, y, protective, wagner, present_by_force, effects)

    month_ts = pd.PeriodIndex.from_ordinals(months, freq="M").to_timestamp()
    panel = pd.DataFrame(
        {
            "unit_id": np.repeat(units["unit_id"].to_numpy(), T),
            "name": np.repeat(units["name"].to_numpy(), T),
            "admin1": np.repeat(units["admin1"].to_numpy(), T),
            "month": np.tile(month_ts.to_numpy(), U),
            "base": np.repeat(log_base, T),
            **{k2: v.reshape(-1) for k2, v in grids.items()},
            "log_rate": eta.reshape(-1),
            "rate": np.minimum(np.exp(eta), effects.max_rate).reshape(-1),
            "protective_present": protective.reshape(-1),
            "wagner_present": wagner.reshape(-1),
            "events": y.reshape(-1),
            "target_events": target_grid.reshape(-1),
        }
    )
    return SynthResult(events=events, panel=panel)


def generate_events(
    regions: pd.DataFrame,
    shocks: pd.DataFrame | None,
    presence: pd.DataFrame | None,
    *,
    start: str = "2012-01",
    end: str = "2024-12",
    seed: int = 20240601,
    effects: Effects = Effects(),
    parents: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A valid EVENTS table of synthetic events (see :func:`simulate` for the arguments)."""
    return simulate(
        regions, shocks, presence, start=start, end=end, seed=seed, effects=effects, parents=parents
    ).events


def _default_inputs(level: str):
    if level not in ("admin1", "admin2"):
        raise ConfigError(f"synth: level {level!r} is not supported (admin1 or admin2)", key="level")
    regions = facts.load_regions(level=level, countries=["Mali"])
    parents = facts.load_regions(level="admin1", countries=["Mali"]) if level == "admin2" else None
    return regions, facts.load_shocks(), facts.load_presence(), parents


@functools.lru_cache(maxsize=8)
def _default_simulation(seed: int, start: str, end: str, level: str) -> SynthResult:
    regions, shocks, presence, parents = _default_inputs(level)
    return simulate(regions, shocks, presence, start=start, end=end, seed=seed, parents=parents)


def default_simulation(
    seed: int = 20240601, start: str = "2012-01", end: str = "2024-12", level: str = "admin1"
) -> SynthResult:
    """:func:`simulate` on the curated Mali facts (regions, shocks, presence); copies."""
    res = _default_simulation(int(seed), str(start), str(end), str(level))
    return SynthResult(events=res.events.copy(), panel=res.panel.copy())


def default_events(
    seed: int = 20240601, start: str = "2012-01", end: str = "2024-12", level: str = "admin1"
) -> pd.DataFrame:
    """riskcast's default input: synthetic events on the curated Mali gazetteer and timelines."""
    return default_simulation(seed=seed, start=start, end=end, level=level).events


def write_events(df: pd.DataFrame, path: str | Path) -> Path:
    """Write an EVENTS table as CSV (dates as YYYY-MM-DD), atomically."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, date_format="%Y-%m-%d")
    return Path(path)
