"""Which feature family each column of a feature set belongs to (for ablation by family).

Families name the *data source* a column draws on: ``history`` (attacks in the unit),
``actors`` (attacks by one actor group: JNIM, IS Sahel, militias, state forces), ``sub_events``
(one sub-event type: IEDs, abductions, territory taken), ``spatial`` (attacks around it),
``cross_border`` (attacks in other countries' units nearby), ``presence`` (foreign troops),
``shocks`` (political shocks) and ``calendar``. A composed feature belongs to the most specific
source anywhere in its composition, in the precedence presence > shocks > calendar >
cross_border > spatial > sub_events > actors > history:

- ``Lag`` / ``Rolling`` / ``Decay`` ... of X carry X's information, so they inherit X's family
  (``Lag(of=SpatialLag())`` is spatial).
- ``SpatialLag(of=Withdrawal(...))`` is presence, not spatial: it is troop information,
  averaged over neighbours; ``SpatialLag(of=Events())`` stays spatial.
- ``Interaction(of=Present(...), by=PostShock(...))`` is presence (the more specific of its
  two sides): an interaction with a presence side is presence, else with a shock side shocks.

Why "most specific source wins": dropping a family in an ablation must remove every column
that needs that data, so "without presence" really means "without any troop data"; the
history family (attack counts) is the base that nearly every column also uses.
"""

from __future__ import annotations

from collections.abc import Iterable

from riskcast.features.base import Feature

__all__ = ["FAMILIES", "feature_family", "column_families", "columns_by_family"]

#: In increasing precedence: a composed column takes the last of these that it touches.
FAMILIES: tuple[str, ...] = (
    "history",
    "actors",
    "sub_events",
    "spatial",
    "cross_border",
    "presence",
    "shocks",
    "calendar",
)
_PRECEDENCE = ("history", "actors", "sub_events", "spatial", "cross_border", "calendar", "shocks", "presence")


def _own_family(feature: Feature) -> str:
    # A count of one actor group's or one sub-event type's events is its own source of information.
    params = feature.params()
    if type(feature).family == "history" and params.get("sub_event_type"):
        return "sub_events"
    if type(feature).family == "history" and params.get("actor_group"):
        return "actors"
    return type(feature).family


def feature_family(feature: Feature) -> str:
    """The family of one (possibly composed) feature; see the module docstring for the rule."""
    own = _own_family(feature)
    if own not in FAMILIES:
        raise ValueError(f"{type(feature).__name__}.family is {own!r}; expected one of {', '.join(FAMILIES)}")
    found = [own] + [feature_family(v) for v in feature.params().values() if isinstance(v, Feature)]
    return max(found, key=_PRECEDENCE.index)


def column_families(features: Iterable[Feature]) -> dict[str, str]:
    """Column name -> family, in column order; ``features``: a FeatureSet or a list of features."""
    return {f.name: feature_family(f) for f in getattr(features, "features", features)}


def columns_by_family(features: Iterable[Feature]) -> dict[str, list[str]]:
    """Family -> its column names (every family present as a key, possibly with no columns)."""
    out: dict[str, list[str]] = {fam: [] for fam in FAMILIES}
    for name, fam in column_families(features).items():
        out[fam].append(name)
    return out
