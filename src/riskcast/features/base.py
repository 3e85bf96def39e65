"""The feature protocol: a small class whose parameters name the column it makes.

A feature returns one dense units x months array. Column ``t`` of the result may use only
information dated at or before month ``t``: features are causal by construction, and the
leakage tests check it. Features compose by wrapping (``Lag(Decay(Events(), 12), 1)``), never
by subclassing; the inner feature is the parameter ``of``.

Names are derived, never written by hand: the snake-case class name, then each parameter
that differs from its default (``decay_halflife12``), then ``_of_`` and the inner feature's
name when it is not the default one (``lag_k1_of_fatalities``).

A feature also says its value in words: :meth:`Feature.explain` sits next to
:meth:`Feature.describe` on every class ("12 attacks in the last 3 months"), so the report asks
the feature and a new feature cannot be forgotten by it; the words the sentences share are in
:mod:`.words`.
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
import scipy.sparse as sp

from riskcast.features.words import Count, ExplainContext, num

__all__ = ["Feature", "FeatureContext", "ExplainContext", "compute_features", "slug", "FeatureError"]

#: The context of a sentence that needs nothing beyond the value (frozen: safe as a default).
PLAIN = ExplainContext()


class FeatureError(ValueError):
    """A feature declared with a parameter it cannot take (e.g. a half-life <= 0)."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        self.param = param
        super().__init__(message)


def slug(value: object) -> str:
    """A column-name-safe rendering of a parameter value: ``"Remote violence/Explosions"`` -> ``remote_violence_explosions``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = (
        str(value).lower().replace(".", "p").replace("-", "m")
        if isinstance(value, (int, float))
        else str(value).lower()
    )
    return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


@dataclass
class FeatureContext:
    """Everything a feature may read, on the panel's grid of units x months.

    ``arrays`` holds named dense arrays (``n_target`` ...); ``events``, ``presence`` and
    ``shocks`` are the canonical tables with integer ``unit_ix`` / ``month_ix`` columns added
    by :mod:`riskcast.features.context`; ``cache`` holds computed features by name so that a
    shared inner feature is computed once.
    """

    units: pd.DataFrame
    months: pd.DatetimeIndex
    neighbours: sp.csr_matrix
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    events: pd.DataFrame | None = None
    presence: pd.DataFrame | None = None
    shocks: pd.DataFrame | None = None
    target: object | None = None
    actor_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    rainy_season: dict[str, tuple[int, ...]] = field(default_factory=dict)
    cache: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.units), len(self.months)

    def array(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            raise KeyError(f"no panel array {name!r}; have {sorted(self.arrays)}")
        return self.arrays[name]

    def get(self, feature: "Feature", name: str | None = None) -> np.ndarray:
        """The feature's values, computed once per context (``name``: its name, when known)."""
        key = feature.name if name is None else name
        values = self.cache.get(key)
        if values is None:
            # C-contiguous, so that the panel's column is a view of it (compute_features), and a
            # padded array a feature sliced its months from is not kept alive by the cache.
            values = np.ascontiguousarray(feature.compute(self), dtype=float)
            if values.shape != self.shape:
                raise ValueError(f"feature {key} returned shape {values.shape}, expected {self.shape}")
            self.cache[key] = values
        return values

    def grid(self, table: pd.DataFrame, values: np.ndarray | float = 1.0) -> np.ndarray:
        """Sum ``values`` of the rows of ``table`` (with unit_ix, month_ix) into a units x months array."""
        n_u, n_m = self.shape
        if not len(table):
            return np.zeros((n_u, n_m))
        vals = np.broadcast_to(np.asarray(values, dtype=float), (len(table),))
        # One bincount over the flat (unit, month) index: the same sums, in the same row order,
        # as np.add.at, several times faster on millions of events.
        u, m = table["unit_ix"].to_numpy(dtype=np.int64), table["month_ix"].to_numpy(dtype=np.int64)
        if u.min() < 0 or m.min() < 0 or u.max() >= n_u or m.max() >= n_m:
            raise IndexError(f"rows outside the {n_u} x {n_m} grid (unit_ix / month_ix out of range)")
        return np.bincount(u * n_m + m, weights=vals, minlength=n_u * n_m).reshape(n_u, n_m)


@cache
def _signature(cls: type) -> tuple[tuple[str, object], ...]:
    """(parameter, default) of a feature class's ``__init__``, read once per class: names are
    derived on every lookup of a computed feature, and ``inspect.signature`` was most of that."""
    sig = inspect.signature(cls.__init__)
    return tuple((p, s.default) for p, s in sig.parameters.items() if p != "self")


@cache
def _base_name(cls: type) -> str:
    """The snake-case class name: ``SpatialLag`` -> ``spatial_lag``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


class Feature:
    """Base class. Subclasses store their parameters in ``__init__`` and implement ``compute``."""

    #: The data source the feature draws on: history, spatial, presence, shocks or calendar.
    #: A wrapper (``Lag(of=...)``) carries its inner feature's information, so the family of a
    #: composed column is resolved by :func:`riskcast.features.families.feature_family`.
    family: str = "history"
    description: str = ""
    #: Short prefixes for string parameters in the derived name (``type_battles``).
    name_prefix: dict[str, str] = {}
    #: True for a yes/no feature (values 0 and 1): a product of two reads as "both".
    yes_no: bool = False

    def params(self) -> dict:
        return {p: getattr(self, p) for p, _ in _signature(type(self))}

    def _defaults(self) -> dict:
        return dict(_signature(type(self)))

    @property
    def name(self) -> str:
        parts, inner = [_base_name(type(self))], None
        for p, default in self._defaults().items():
            value = getattr(self, p)
            if isinstance(value, Feature):
                if default is not inspect.Parameter.empty and value == default:
                    continue
                if p == "of":
                    inner = value.name
                else:  # a second inner feature (e.g. Interaction's `by`) is named in place
                    parts.append(f"{p}_{value.name}")
                continue
            if default is not inspect.Parameter.empty and value == default:
                continue
            if value is None:
                continue
            if isinstance(value, str):
                prefix = self.name_prefix.get(p)
                parts.append(f"{prefix}_{slug(value)}" if prefix else slug(value))
            elif isinstance(value, (tuple, list)):
                parts.append(f"{p}{'_'.join(slug(v) for v in value)}")
            else:
                parts.append(f"{p}{slug(value)}")
        name = "_".join(parts)
        return f"{name}_of_{inner}" if inner else name

    def describe(self) -> str:
        """The definition in plain words, for the report and ``riskcast features-list``."""
        inner = self.params().get("of") if isinstance(self.params().get("of"), Feature) else None
        text = self.description.format(
            **{k: (v.describe() if isinstance(v, Feature) else v) for k, v in self.params().items()}
        )
        return text if inner is None or "{of}" in self.description else f"{text} of {inner.describe()}"

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        """The value in words, as an analyst would say it: "12 attacks in the last 3 months".

        Every feature class overrides this next to its :meth:`describe` (a test checks that
        none is forgotten), so the report asks the feature and never needs to know it. This
        generic "<describe()>: <value>" is what an override falls back to when a value or a
        composition has no better words.
        """
        shown = num(value) if abs(value) >= 1 or value == 0 else f"{value:.2f}"
        return f"{self.describe()}: {shown}"

    def counts(self, context: ExplainContext = PLAIN) -> Count | None:
        """What the feature counts (noun, where, when), for wrappers that say "N <noun> <where>
        <when>"; None when its value is not a count."""
        return None

    def absent(self, value: float) -> bool:
        """True when ``value`` says the thing measured is not there: no attacks, the force
        absent, no shock on record. The report does not offer such a value as a reason the risk
        rose. A value of 0 is "none" for counts, flags and fading memories; features where 0 is
        a state like any other (the calendar) or where "none" is another value (a capped "months
        since") override this."""
        return value == 0

    @property
    def national(self) -> bool:
        """True when the value is the same for every unit of a country (a country-wide total)."""
        return False

    def say_count(self, value: float, context: ExplainContext = PLAIN) -> str:
        """``counts()`` in words at ``value`` ("no attacks in neighbouring regions last month"),
        and for a national count whether it rose or fell and what that does to every unit; the
        generic sentence when the feature is not a count."""
        c = self.counts(context)
        if c is None:
            return Feature.explain(self, value, context)
        trend = ""
        before = (context.before or {}).get(self.name)
        if self.national and before is not None and math.isfinite(before):
            trend = (
                f", down from {num(before)} the month before"
                if num(value) != num(before) and value < before
                else f", up from {num(before)} the month before"
                if num(value) != num(before)
                else ", as many as the month before"
            )
        return c.say(value) + trend + self.national_note(context)

    def national_note(self, context: ExplainContext = PLAIN) -> str:
        """For a national feature that pushed the risk: it pushes every unit of the country alike.

        The same value for every unit gives the same contribution in an additive model, so the
        sentence names the reach of the push ("lowers every region's risk"), not a cause in the
        unit itself. For tree models it is the typical push (contributions also depend on the
        unit's other features). Empty for other features or when no push is being explained.
        """
        if not self.national or context.direction not in ("up", "down"):
            return ""
        verb = "raises" if context.direction == "up" else "lowers"
        return f": the same across {context.country or 'the country'}, so it {verb} every {context.unit_word}'s risk"

    def compute(self, ctx: FeatureContext) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.params() == other.params()

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def compute_features(features: list[Feature], ctx: FeatureContext, dtype=np.float64) -> pd.DataFrame:
    """Compute each feature and flatten to panel order (unit-major, then month)."""
    cols: dict[str, np.ndarray] = {}
    for f in features:
        name = f.name
        if name in cols:
            raise ValueError(f"feature {name!r} is declared twice")
        # Views of the cached arrays (no copy for float64): the frame costs no second panel.
        cols[name] = ctx.get(f, name).astype(dtype, copy=False).reshape(-1)
    return pd.DataFrame(cols, copy=False)
