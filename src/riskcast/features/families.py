"""Which feature family each column of a feature set belongs to (for ablation by family).

Families name the *data source* a column draws on: ``history`` (attacks in the unit),
``spatial`` (attacks around it), ``presence`` (foreign troops), ``shocks`` (political shocks)
and ``calendar``. A composed feature belongs to the most specific source anywhere in its
composition, in the precedence presence > shocks > calendar > spatial > history:

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
FAMILIES: tuple[str, ...] = ("history", "spatial", "presence", "shocks", "calendar")
_PRECEDENCE = ("history", "spatial", "calendar", "shocks", "presence")


def feature_family(feature: Feature) -> str:
    """The family of one (possibly composed) feature; see the module docstring for the rule."""
    own = type(feature).family
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
