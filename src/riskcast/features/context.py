"""Canonical tables -> the FeatureContext features read: everything placed on the panel's grid.

Events get integer ``unit_ix`` / ``month_ix`` and an ``is_target`` flag; presence and shock
rows are placed on units and months by :func:`.presence.place_presence` and :func:`.shocks.place_shocks`.
Rows outside the grid are kept out of the context, never silently: the counts go in
``ctx.notes``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from riskcast.errors import ConfigError
from riskcast.features.base import FeatureContext
from riskcast.features.presence import place_presence
from riskcast.features.shocks import place_shocks
from riskcast.panel import target_mask, to_month
from riskcast.paths import project_file

__all__ = ["build_context", "load_actor_groups"]


def load_actor_groups(name_or_path: str | Path) -> dict[str, tuple[str, ...]]:
    """Actor groups from a TOML file: ``[groups] jnim = ["JNIM", "Katiba Macina", ...]``."""
    p = Path(name_or_path)
    if not p.exists():
        try:
            p = project_file("features", f"{name_or_path}.toml")
        except FileNotFoundError:
            raise ConfigError(
                "actor group file not found", file=str(name_or_path), key="features.actor_groups"
            ) from None
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", file=str(p)) from None
    groups = data.get("groups")
    if not isinstance(groups, dict):
        raise ConfigError("expected a [groups] table of name = [substrings]", file=str(p), key="groups")
    for name, patterns in groups.items():
        if (
            not isinstance(patterns, list)
            or not patterns
            or not all(isinstance(x, str) and x for x in patterns)
        ):
            raise ConfigError(
                "expected a non-empty list of actor-name substrings", file=str(p), key=f"groups.{name}"
            )
    return {k: tuple(v) for k, v in groups.items()}


def _place_events(events: pd.DataFrame, unit_ix: pd.Index, months: pd.DatetimeIndex, target) -> pd.DataFrame:
    ev = events.assign(
        unit_ix=unit_ix.get_indexer(events["unit_id"].astype(str)),
        month_ix=months.get_indexer(to_month(events["date"])),
    )
    ev = ev[(ev["unit_ix"] >= 0) & (ev["month_ix"] >= 0)].copy()
    ev["is_target"] = target_mask(ev, target).to_numpy() if target is not None else True
    return ev.reset_index(drop=True)


def build_context(
    *,
    units: pd.DataFrame,
    months: pd.DatetimeIndex,
    neighbours: sp.csr_matrix,
    arrays: dict[str, np.ndarray],
    events: pd.DataFrame,
    presence: pd.DataFrame | None = None,
    shocks: pd.DataFrame | None = None,
    target=None,
    actor_groups: dict[str, tuple[str, ...]] | None = None,
    rainy_season: dict[str, tuple[int, ...]] | None = None,
) -> FeatureContext:
    """Place every table on the grid and return the context the features compute from."""
    unit_ix = pd.Index(units["unit_id"].astype(str))
    placed_presence = place_presence(presence, units, months) if presence is not None else None
    placed_shocks = place_shocks(shocks, units, months) if shocks is not None else None
    return FeatureContext(
        units=units.reset_index(drop=True),
        months=months,
        neighbours=neighbours,
        arrays=arrays,
        events=_place_events(events, unit_ix, months, target),
        presence=placed_presence,
        shocks=placed_shocks,
        target=target,
        actor_groups=dict(actor_groups or {}),
        rainy_season=dict(rainy_season or {}),
    )
