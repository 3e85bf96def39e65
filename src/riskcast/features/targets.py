"""Intensity targets beside P(any attack), each defined by a feature of the month it names.

Where attacks are near-certain every month, P(any attack) ranks nothing; P(at least k attacks),
P(at least f deaths) and P(escalation) still do. Each target is the value, at month t + h, of an
indicator feature (the same kernels as every other feature, so its definition is written once):

- ``events``: ``Indicator(at_least, Events())``;
- ``fatalities``: ``Indicator(at_least, Fatalities())``;
- ``escalation``: ``Escalation(factor, 12, Events())``: at least one attack and more than
  ``factor`` x the unit's monthly mean of the 12 months before.

Each target has its own honest baselines, read from the panel like the main target's: the
climatology is the unit's share of the last k months in which the indicator was 1, persistence
reads the indicator in month t. A row at month t holds the target of month t + h only in its
``target_*`` columns, never in a feature.
"""

from __future__ import annotations

import numpy as np

from riskcast.config import IntensitySpec
from riskcast.features.base import Feature
from riskcast.features.history import Escalation, Events, Fatalities, Indicator, Rolling

__all__ = [
    "indicator_of",
    "quantity_of",
    "baseline_features_of",
    "target_column",
    "count_column",
    "shift_ahead",
    "describe_target",
]


def indicator_of(spec: IntensitySpec) -> Feature:
    """The feature that is 1 in a month that meets the target."""
    if spec.kind == "events":
        return Indicator(spec.at_least, Events())
    if spec.kind == "fatalities":
        return Indicator(spec.at_least, Fatalities())
    return Escalation(spec.factor, 12, Events())


def quantity_of(spec: IntensitySpec) -> Feature:
    """The count the target thresholds: deaths for a fatalities target, attacks otherwise."""
    return Fatalities() if spec.kind == "fatalities" else Events()


def baseline_features_of(spec: IntensitySpec, months: int) -> dict[str, Feature]:
    """The columns the target's climatology and persistence read: share, sum and current."""
    hit = indicator_of(spec)
    return {
        "share": Rolling(months, "mean", hit),
        "sum": Rolling(months, "sum", quantity_of(spec)),
        "current": hit,
    }


def describe_target(spec: IntensitySpec) -> str:
    """The target in plain words, e.g. "at least 5 attacks in the month"."""
    if spec.kind == "events":
        return f"at least {spec.at_least:g} attacks in the month"
    if spec.kind == "fatalities":
        return f"at least {spec.at_least:g} deaths in attacks in the month"
    return f"escalation: attacks above {spec.factor:g} times the unit's monthly mean of the 12 months before"


def target_column(name: str, h: int) -> str:
    """The 0/1 column of target ``name`` at horizon ``h`` (``any`` is P(any attack))."""
    return f"target_{name}_h{h}"


def count_column(name: str, h: int) -> str:
    """The count column a target's count heads learn from (attacks, or deaths for a fatalities target)."""
    return f"target_count_h{h}" if name == "any" else f"target_{name}_count_h{h}"


def shift_ahead(x: np.ndarray, h: int) -> np.ndarray:
    """Units x months array -> the value at month t + h in column t (NaN beyond the last month)."""
    out = np.full(x.shape, np.nan)
    if h < x.shape[1]:
        out[:, : x.shape[1] - h] = x[:, h:]
    return out
