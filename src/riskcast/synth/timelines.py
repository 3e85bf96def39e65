"""The curated timelines as log-rate grids: presence, withdrawal and shock terms per unit-month."""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskcast.synth.effects import Effects, _key
from riskcast.synth.units import _admin1_match

# private helpers of riskcast.synth (imported by name); nothing public
__all__: list[str] = []


def _force_kind(force: str, effects: Effects) -> str:
    f = _key(force)
    if any(_key(p) in f for p in effects.wagner_forces):
        return "wagner"
    if any(_key(p) in f for p in effects.protective_forces):
        return "protective"
    return "other"


def _presence_grids(units, presence, months_ord, effects):
    """Coverage per (force, unit) over months_ord -> protective / wagner flags, withdrawal term."""
    U, T = len(units), len(months_ord)
    protective = np.zeros((U, T), bool)
    wagner = np.zeros((U, T), bool)
    withdrawal = np.zeros((U, T))
    present_by_force: dict[str, np.ndarray] = {}
    if presence is None or len(presence) == 0:
        return protective, wagner, withdrawal, present_by_force
    coverage: dict[str, np.ndarray] = {}
    lat, lon = units["lat"].to_numpy(), units["lon"].to_numpy()
    level = units["level"].iloc[0]
    for row in presence.itertuples(index=False):
        in_country = (units["country"].map(_key) == _key(row.country)).to_numpy()
        if not in_country.any():
            continue
        region = getattr(row, "region", None)
        mask = _admin1_match(units, region) & in_country if _key(region) else np.zeros(U, bool)
        has_xy = not (pd.isna(getattr(row, "latitude", np.nan)) or pd.isna(getattr(row, "longitude", np.nan)))
        if has_xy and (level == "admin2" or not mask.any()):
            cand = mask if mask.any() else in_country
            d = (lat - row.latitude) ** 2 + ((lon - row.longitude) * np.cos(np.radians(row.latitude))) ** 2
            d = np.where(cand, d, np.inf)
            mask = np.zeros(U, bool)
            mask[int(np.argmin(d))] = True
        if not mask.any():
            continue
        s = pd.Timestamp(row.start_month).to_period("M").ordinal
        e = np.inf if pd.isna(row.end_month) else pd.Timestamp(row.end_month).to_period("M").ordinal
        on = (months_ord >= s) & (months_ord <= e)
        force = str(row.force)
        cov = coverage.setdefault(force, np.zeros((U, T), bool))
        cov[mask] |= on
    m_after = np.arange(1, effects.withdrawal_months + 1)
    w_curve = np.log(effects.withdrawal_peak) * 0.5 ** ((m_after - 1) / effects.withdrawal_half_life)
    for force, cov in sorted(coverage.items()):
        kind = _force_kind(force, effects)
        if kind == "protective":
            protective |= cov
            present_by_force[force] = cov
        elif kind == "wagner":
            wagner |= cov
        if kind != "protective":
            continue  # only the withdrawal of a protective force has an effect
        ends = cov[:, :-1] & ~cov[:, 1:]  # present at t, absent at t+1
        for u, t in zip(*np.nonzero(ends)):
            stop = min(T, t + 1 + len(w_curve))
            withdrawal[u, t + 1 : stop] += w_curve[: stop - t - 1]
    return protective, wagner, withdrawal, present_by_force


def _shock_grid(units, shocks, months_ord, effects):
    U, T = len(units), len(months_ord)
    out = np.zeros((U, T))
    if shocks is None or len(shocks) == 0:
        return out
    north = units["north"].to_numpy()
    by_kind: dict[str, np.ndarray] = {}
    order = np.argsort(pd.to_datetime(shocks["date"]).to_numpy(), kind="stable")
    for row in shocks.iloc[order].itertuples(index=False):
        kind = str(row.kind)
        in_country = (units["country"].map(_key) == _key(row.country)).to_numpy()
        if not in_country.any():
            continue
        national = not _key(getattr(row, "region", None))
        mask = in_country if national else in_country & _admin1_match(units, row.region)
        s = pd.Timestamp(row.date).to_period("M").ordinal
        m = months_ord - s
        if kind in ("coup", "coup_attempt"):
            peak = effects.coup_peak if kind == "coup" else effects.coup_attempt_peak
            on = (m >= 1) & (m <= effects.coup_months)
            curve = np.log(peak) * 0.5 ** ((m - 1) / effects.coup_half_life)
        elif kind == "peace_accord":
            if national:
                mask = mask & north
            on = (m >= 1) & (m <= effects.peace_accord_months)
            curve = np.full(T, np.log(effects.peace_accord_mult))
        elif kind == "ceasefire":
            on = (m >= 1) & (m <= effects.ceasefire_months)
            curve = np.full(T, np.log(effects.ceasefire_mult))
        elif kind == "election":
            on = m == 0
            curve = np.full(T, np.log(effects.election_mult))
        else:
            continue
        grid = by_kind.setdefault(kind, np.zeros((U, T)))
        # a later shock of the same kind replaces the earlier one's effect (no compounding)
        grid[np.ix_(mask, on)] = curve[on][None, :]
    for kind in sorted(by_kind):
        out += by_kind[kind]
    return out
