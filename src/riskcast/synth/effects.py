"""The known effect sizes of the synthetic process (:class:`Effects`) and their table.

The meaning of every field is documented in the :mod:`riskcast.synth` docstring and in the
field's ``meaning`` metadata, which :func:`effects_table` lists.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Effects", "effects_table"]

_DEFAULT_BASE_RATES = (
    ("Mopti", 2.0),
    ("Gao", 1.75),
    ("Tombouctou", 1.4),
    ("Kidal", 1.25),
    ("Ménaka", 1.1),
    ("Ségou", 0.6),
    ("Taoudénit", 0.4),
    ("Koulikoro", 0.2),
    ("Sikasso", 0.1),
    ("Kayes", 0.08),
    ("Bamako", 0.1),
)


def _f(default, meaning: str):
    return field(default=default, metadata={"meaning": meaning})


@dataclass(frozen=True)
class Effects:
    """The known effect sizes of the synthetic process (see the :mod:`riskcast.synth` docstring)."""

    base_rates: tuple[tuple[str, float], ...] = _f(
        _DEFAULT_BASE_RATES, "events per month in Jan 2012 before feedback, per admin-1 region name"
    )
    base_rate_default: float = _f(0.3, "base rate of a region not in base_rates")
    trend_per_year: float = _f(0.08, "added to the log-rate per calendar year")
    trend_ref_year: float = _f(2012.0, "calendar year (fractional) at which the trend term is 0")
    season_months: tuple[int, ...] = _f((7, 8, 9), "rainy-season months (1-12)")
    season_mult: float = _f(0.8, "rate multiplier in the rainy season")
    self_excitation: float = _f(0.25, "coefficient of log1p(own count last month) on the log-rate")
    spillover: float = _f(0.15, "coefficient of log1p(mean neighbour count last month) on the log-rate")
    dispersion: float = _f(3.0, "negative-binomial size: Var = mu + mu^2/dispersion")
    max_rate: float = _f(300.0, "cap on the expected events per unit-month")
    protective_forces: tuple[str, ...] = _f(
        ("France", "MINUSMA", "Takuba"),
        "forces whose presence lowers the rate and whose withdrawal raises it",
    )
    presence_mult: float = _f(0.7, "rate multiplier while a protective force is present in the unit")
    attack_on_force_share: float = _f(
        0.30, "share of non-state Battles/Explosions where a protective force is present that target it"
    )
    wagner_forces: tuple[str, ...] = _f(("Wagner", "Africa Corps"), "forces treated as Wagner")
    wagner_mult: float = _f(1.2, "rate multiplier while Wagner is present in the unit")
    vac_share: float = _f(0.40, "share of violence against civilians among target events")
    wagner_vac_share: float = _f(0.55, "same, where Wagner is present")
    battles_share: float = _f(0.40, "share of Battles among target events (Explosions get the rest)")
    withdrawal_peak: float = _f(
        2.0, "rate multiplier in month 1 after a protective force's presence in a unit ends"
    )
    withdrawal_half_life: float = _f(6.0, "half-life (months) of the log withdrawal effect")
    withdrawal_months: int = _f(24, "months after a withdrawal during which the effect applies")
    coup_peak: float = _f(1.5, "national rate multiplier in month 1 after a coup")
    coup_attempt_peak: float = _f(1.2, "national rate multiplier in month 1 after a coup attempt")
    coup_half_life: float = _f(2.0, "half-life (months) of the log coup / coup-attempt effect")
    coup_months: int = _f(6, "months after a coup (attempt) during which the effect applies")
    peace_accord_mult: float = _f(0.7, "rate multiplier after a peace accord (northern regions if national)")
    peace_accord_months: int = _f(12, "months the peace-accord effect lasts")
    northern_regions: tuple[str, ...] = _f(
        ("Tombouctou", "Gao", "Kidal", "Ménaka", "Taoudénit"), "regions a national peace accord applies to"
    )
    ceasefire_mult: float = _f(0.85, "rate multiplier after a ceasefire")
    ceasefire_months: int = _f(3, "months the ceasefire effect lasts")
    election_mult: float = _f(1.2, "rate multiplier in the month of an election")
    non_target_share: float = _f(0.20, "share of Protests / Riots / Strategic developments among all events")
    alias_share: float = _f(0.10, "share of events whose admin1 is spelled with one of the unit's aliases")
    week_precision_share: float = _f(0.03, "share of events with date precision 2 (week)")
    month_precision_share: float = _f(0.02, "share of events with date precision 3 (month)")
    geo2_share: float = _f(0.25, "share of events with geo_precision 2")
    geo3_share: float = _f(0.05, "share of events with geo_precision 3 (placed on the centroid)")
    jitter_sd_deg: float = _f(0.3, "sd (degrees) of the coordinates around an admin-1 centroid")
    jitter_sd_deg_admin2: float = _f(0.1, "sd (degrees) of the coordinates around an admin-2 centroid")
    admin2_heterogeneity: float = _f(0.5, "sd of the log-normal factor on a cercle's base rate")
    burn_in_months: int = _f(12, "months simulated before start and dropped")

    def base_rate(self, name: str) -> float | None:
        key = _key(name)
        for n, r in self.base_rates:
            if _key(n) == key:
                return float(r)
        return None


def _key(name: object) -> str:
    """A name without accents, case or punctuation: 'Ségou' -> 'segou'."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    s = unicodedata.normalize("NFKD", str(name))
    s = "".join(c for c in s if not unicodedata.combining(c)).casefold()
    return re.sub(r"[^a-z0-9]+", " ", s).strip()


def effects_table(effects: Effects = Effects()) -> pd.DataFrame:
    """The effect sizes as a table (name, value, meaning) for the README and reports."""
    rows = []
    for f in dataclasses.fields(effects):
        v = getattr(effects, f.name)
        if f.name == "base_rates":
            for n, r in v:
                rows.append((f"base_rates[{n}]", r, f"{f.metadata['meaning']} ({n})"))
            continue
        if isinstance(v, tuple):
            v = ", ".join(str(x) for x in v)
        rows.append((f.name, v, f.metadata["meaning"]))
    return pd.DataFrame(rows, columns=["name", "value", "meaning"])
