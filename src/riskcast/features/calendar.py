"""The calendar: month of the year and the rainy season.

Both are known in advance for any month, so they cannot leak. The rainy season matters in the
Sahel because flooded roads and farm work change when and where armed groups move; its months
per country come from the curated table ``riskcast/facts/rainy_season.csv`` unless the
context overrides them (``ctx.rainy_season``: country -> months 1-12).
"""

from __future__ import annotations

import math

import numpy as np

from riskcast.facts import load_rainy_season
from riskcast.features import _places
from riskcast.features.base import PLAIN, ExplainContext, Feature, FeatureContext, FeatureError
from riskcast.features.words import MONTHS

__all__ = ["MonthOfYear", "RainySeason", "rainy_months"]


class MonthOfYear(Feature):
    """sin or cos of 2π·month/12: the month of the year as a point on a circle (December next to January)."""

    family = "calendar"

    def __init__(self, component: str = "sin") -> None:
        if component not in ("sin", "cos"):
            raise FeatureError(f"component must be 'sin' or 'cos', got {component!r}", param="component")
        self.component = component

    def describe(self) -> str:
        return f"month of the year as {self.component}(2π·month/12)"

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        # One component does not name the month (sin 0.5 is February or April): read both from the row.
        sin, cos = (context.values.get(MonthOfYear(c).name) for c in ("sin", "cos"))
        if sin is None or cos is None or not all(math.isfinite(float(x)) for x in (sin, cos)):
            return "time of year"
        month = int(round(math.atan2(sin, cos) / (2 * math.pi) * 12)) % 12 or 12
        return f"time of year ({MONTHS[month - 1]})"

    def absent(self, value: float) -> bool:
        return False  # every month is a month: 0 is June or December, not "none"

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        angle = 2 * np.pi * ctx.months.month.to_numpy() / 12
        row = np.sin(angle) if self.component == "sin" else np.cos(angle)
        return np.broadcast_to(row, ctx.shape).copy()


def rainy_months(ctx: FeatureContext) -> dict[str, tuple[int, ...]]:
    """Rainy months per country key: ``ctx.rainy_season`` where given, else the curated table."""
    table = load_rainy_season()
    out: dict[str, tuple[int, ...]] = {}
    for country, first, last in table[["country", "first_month", "last_month"]].itertuples(index=False):
        first, last = int(first), int(last)
        # A season may run across the new year (e.g. November to March).
        out[_places.country_key(country)] = (
            tuple(range(first, last + 1)) if first <= last else (*range(first, 13), *range(1, last + 1))
        )
    out.update({_places.country_key(c): tuple(int(m) for m in ms) for c, ms in ctx.rainy_season.items()})
    return out


class RainySeason(Feature):
    """1 in the rainy months of the unit's country (curated table, or ``ctx.rainy_season``)."""

    yes_no = True

    family = "calendar"

    def __init__(self) -> None:
        pass

    def describe(self) -> str:
        return "1 in the rainy season of the unit's country (about June-September in the Sahel)"

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        return "rainy season" if value >= 0.5 else "dry season"

    def absent(self, value: float) -> bool:
        return False  # the dry season is a season, not the absence of one

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        season = rainy_months(ctx)
        countries = _places.geography(ctx)["country"]
        missing = sorted(set(countries) - set(season))
        if missing:
            raise ValueError(
                f"RainySeason: no rainy-season months for {missing}; add them to "
                "riskcast/facts/rainy_season.csv or pass rainy_season= to build_context"
            )
        month = ctx.months.month.to_numpy()
        keys = countries.to_numpy(dtype=str)
        out = np.zeros(ctx.shape)
        for c in np.unique(keys):  # a few countries: whole row blocks at once
            out[keys == c] = np.isin(month, season[c])[None, :]
        return out
