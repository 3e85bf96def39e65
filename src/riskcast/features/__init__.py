"""Region-month features: history, spatial spill-over, troop presence, political shocks, calendar.

Every feature is a small class (see :mod:`.base`); feature sets are declared in
``features/*.toml`` and loaded by :mod:`.spec`.
"""

from riskcast.features.base import Feature, FeatureContext, FeatureError, compute_features
from riskcast.features.calendar import MonthOfYear, RainySeason
from riskcast.features.history import (
    AllEvents,
    Change,
    Decay,
    Escalation,
    Events,
    Fatalities,
    Indicator,
    Interaction,
    Lag,
    Onset,
    Rolling,
    TimeSince,
)
from riskcast.features.presence import (
    Bases,
    MonthsSinceArrival,
    MonthsSinceDeparture,
    Present,
    Troops,
    Withdrawal,
)
from riskcast.features.shocks import MonthsSinceShock, PostShock, ShockCount, ShockDecay
from riskcast.features.spatial import AcrossBorder, CountryTotal, NearestEventDistance, SpatialLag

__all__ = [
    "Feature",
    "FeatureContext",
    "FeatureError",
    "compute_features",
    "Events",
    "Fatalities",
    "AllEvents",
    "Indicator",
    "Lag",
    "Rolling",
    "TimeSince",
    "Decay",
    "Onset",
    "Change",
    "Escalation",
    "Interaction",
    "SpatialLag",
    "CountryTotal",
    "AcrossBorder",
    "NearestEventDistance",
    "Troops",
    "Present",
    "Bases",
    "MonthsSinceArrival",
    "MonthsSinceDeparture",
    "Withdrawal",
    "MonthsSinceShock",
    "ShockDecay",
    "PostShock",
    "ShockCount",
    "MonthOfYear",
    "RainySeason",
]
