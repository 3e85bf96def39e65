"""Drivers in plain words: why the model moved a unit's risk up or down this month.

``scores.csv`` lists, per unit, the top feature contributions on the model's link scale
(``"rolling_window3 +0.41; present_force_minusma -0.22"``). This module turns each into a
sentence that states the feature's actual value as an analyst would say it ("12 attacks in
the last 3 months", "France left 4 months ago").

Columns are resolved to their :class:`~riskcast.features.base.Feature` objects (names are
derived from class and parameters, so the feature set is the parser) and sentences dispatch
on the feature's class and parameters, never on string patterns. A column that no known
feature names gets a generic "<definition>: <value>" sentence.

Time words: the as-of month (the last month of data) is "last month"; "N months ago" counts
from that month, the way the features count (a decay of 0.5 with half-life 3 is "3 months
ago"). Strings from data (forces, actor groups, unit words) pass through unchanged: the
report's Jinja template escapes them; nothing here is evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from riskcast.features import (
    AllEvents,
    Bases,
    Change,
    CountryTotal,
    Decay,
    Events,
    Fatalities,
    Feature,
    Indicator,
    Interaction,
    Lag,
    MonthOfYear,
    MonthsSinceArrival,
    MonthsSinceDeparture,
    MonthsSinceShock,
    NearestEventDistance,
    Onset,
    PostShock,
    Present,
    RainySeason,
    Rolling,
    ShockCount,
    ShockDecay,
    SpatialLag,
    TimeSince,
    Troops,
    Withdrawal,
)

__all__ = ["Driver", "explain", "parse_top_features", "feature_index", "drivers_table"]

#: Readable names of the actor groups declared in features/actor_groups.toml; others print as given.
ACTOR_NAMES = {"jnim": "JNIM", "is_sahel": "IS Sahel", "state_forces": "state forces", "militias": "militias"}
#: Nouns for ACLED event types (singular, plural); other types print as "<type> event(s)".
EVENT_NOUNS = {
    "battles": ("battle", "battles"),
    "violence against civilians": ("attack on civilians", "attacks on civilians"),
    "explosions/remote violence": ("explosion or remote attack", "explosions or remote attacks"),
}
#: Shock kinds (riskcast.schemas.SHOCK_KINDS) as an analyst names them.
SHOCK_WORDS = {
    "coup": "coup",
    "coup_attempt": "coup attempt",
    "withdrawal_announced": "withdrawal announcement",
    "withdrawal_completed": "completed troop withdrawal",
    "deployment": "troop deployment",
    "peace_accord": "peace accord",
    "ceasefire": "ceasefire",
    "election": "election",
    "sanctions": "sanctions",
    "other": "other shock",
}
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class Driver:
    """One feature's push on a unit's risk: ``contribution`` > 0 pushes it up."""

    column: str
    contribution: float
    direction: str
    value: float
    sentence: str


# --- numbers and nouns --------------------------------------------------------------------------


def _num(v: float) -> str:
    """Whole numbers as such, others with one decimal (counts are sums of whole events)."""
    return str(int(round(v))) if abs(v - round(v)) < 0.05 else f"{v:.1f}"


def _count(v: float, noun: tuple[str, str]) -> str:
    return f"{_num(v)} {noun[0] if _num(v) == '1' else noun[1]}"


def _ago(months: float) -> str:
    m = int(round(months))
    return "last month" if m <= 0 else "1 month ago" if m == 1 else f"{m} months ago"


def _since_decay(value: float, halflife: float) -> float:
    # value = 2^(-months / halflife), so months = -halflife * log2(value).
    return -halflife * math.log2(value)


def _noun(f: Feature) -> tuple[str, str] | None:
    """(singular, plural) of what a count feature counts, or None when it is not a count."""
    if isinstance(f, (Events, Fatalities)):
        actor = f" involving {ACTOR_NAMES.get(f.actor_group, f.actor_group)}" if f.actor_group else ""
        typed = (
            EVENT_NOUNS.get(f.event_type.casefold(), (f"{f.event_type} event", f"{f.event_type} events"))
            if f.event_type
            else None
        )
        if isinstance(f, Fatalities):
            what = typed[1] if typed else "attacks"
            return f"death in {what}{actor}", f"deaths in {what}{actor}"
        one, many = typed or ("attack", "attacks")
        return f"{one}{actor}", f"{many}{actor}"
    if isinstance(f, AllEvents):
        return "event of any type", "events of any type"
    return None


def _when(f: Feature) -> tuple[tuple[str, str], str] | None:
    """A count over a stretch of time: (noun, time phrase), e.g. (attacks, "in the last 3 months")."""
    noun = _noun(f)
    if noun:
        return noun, "last month"
    if isinstance(f, Rolling) and f.stat == "sum" and (inner := _noun(f.of)):
        return inner, f"in the last {f.window} months"
    if isinstance(f, Lag) and (inner := _when(f.of)) and inner[1] == "last month":
        return inner[0], _ago(f.k)
    return None


def _who(force: str | None) -> str:
    return "foreign forces" if force is None else force


def _kind(kind) -> str:
    if kind is None:
        return "shock"
    return " or ".join(
        SHOCK_WORDS.get(k, k.replace("_", " ")) for k in ((kind,) if isinstance(kind, str) else kind)
    )


def _shock(f: Feature) -> str:
    where = {"any": "", "national": " (national)", "unit": " (in the region)"}.get(f.scope, "")
    return _kind(f.kind) + where


# --- sentences ---------------------------------------------------------------------------------


def _month_of_year(values: Mapping[str, float]) -> str:
    sin, cos = values.get(MonthOfYear("sin").name), values.get(MonthOfYear("cos").name)
    if sin is None or cos is None or any(pd.isna(x) for x in (sin, cos)):
        return "time of year"
    month = int(round(math.atan2(sin, cos) / (2 * math.pi) * 12)) % 12 or 12
    return f"time of year ({_MONTHS[month - 1]})"


def _sentence(f: Feature, v: float, unit: str, values: Mapping[str, float]) -> str | None:
    """The sentence for feature ``f`` at value ``v``; None when no rule fits (generic fallback)."""
    if (counted := _when(f)) is not None:
        return f"{_count(v, counted[0])} {counted[1]}"
    if isinstance(f, Rolling):
        w, inner = f.window, f.of
        if f.stat == "mean" and isinstance(inner, Indicator) and (noun := _noun(inner.of)):
            what = noun[1] if inner.threshold == 1 else f"at least {_num(inner.threshold)} {noun[1]}"
            return f"{what} in {_num(v * w)} of the last {w} months"
        if (noun := _noun(inner)) is not None:
            if f.stat == "max":
                return f"up to {_count(v, noun)} in a month over the last {w} months"
            return f"{_num(v)} {noun[1]} a month on average over the last {w} months"
        return None
    if isinstance(f, Indicator) and (noun := _noun(f.of)):
        return f"{'at least' if v >= 0.5 else 'fewer than'} {_count(f.threshold, noun)} last month"
    if isinstance(f, TimeSince) and (noun := _noun(f.of)):
        return f"no {noun[1]} in the last {f.cap} months" if v >= f.cap else f"last {noun[0]} {_ago(v)}"
    if isinstance(f, Decay) and (noun := _noun(f.of)):
        return f"no {noun[1]} on record" if v <= 0 else f"last {noun[0]} {_ago(_since_decay(v, f.halflife))}"
    if isinstance(f, Onset) and (noun := _noun(f.of)):
        return (
            f"{noun[1]} resumed after {f.quiet} quiet months"
            if v >= 0.5
            else f"no resumption of {noun[1]} after {f.quiet} quiet months"
        )
    if isinstance(f, Change) and (noun := _noun(f.of)):
        ref = "the month before" if f.k == 1 else f"{f.k} months before"
        if abs(v) < 0.05:
            return f"{noun[1]} unchanged on {ref} (0 more)"
        return f"{_num(abs(v))} {noun[1] if _num(abs(v)) != '1' else noun[0]} {'more' if v > 0 else 'fewer'} than {ref}"
    if isinstance(f, SpatialLag) and (counted := _when(f.of)) is not None:
        noun, when = counted
        if f.weighting == "inverse_distance":
            where = f"in nearby {unit}s (distance-weighted, within {f.order} steps)"
        else:
            where = f"in neighbouring {unit}s" if f.order == 1 else f"in {unit}s {f.order} steps away"
        if f.stat == "mean":
            per = (
                (f"neighbouring {unit}" if f.order == 1 else f"{unit} {f.order} steps away")
                if f.weighting == "none"
                else f"nearby {unit} (distance-weighted, within {f.order} steps)"
            )
            return f"{_num(v)} {noun[1]} on average per {per} {when}"
        return f"{_count(v, noun)} {where} {when}"
    if isinstance(f, SpatialLag) and f.weighting == "none" and f.stat == "sum" and f.order == 1:
        if isinstance(f.of, Present):
            return f"{_who(f.of.force)} present in {_count(v, (f'neighbouring {unit}', f'neighbouring {unit}s'))}"
        if isinstance(f.of, Withdrawal):
            # A sum of decays over neighbours does not invert to one date; give the signal and its scale.
            return (
                f"{_who(f.of.force)} has not left any neighbouring {unit}"
                if v < 0.005
                else f"{_who(f.of.force)} left neighbouring {unit}s (signal {v:.2f}, summed over them; "
                f"halves every {_num(f.of.halflife)} months)"
            )
    if isinstance(f, CountryTotal) and (counted := _when(f.of)) is not None:
        return f"{_count(v, counted[0])} country-wide {counted[1]}"
    if isinstance(f, NearestEventDistance):
        window = "last month" if f.window == 1 else f"in the last {f.window} months"
        return (
            f"no attack within {_num(f.cap_km)} km {window}"
            if v >= f.cap_km
            else f"nearest attack {_num(round(v))} km away {window}"
        )
    if isinstance(f, Troops):
        return f"{_num(v)} troops of {_who(f.force)} reported in the {unit}"
    if isinstance(f, Present):
        return f"{_who(f.force)} {'present' if v >= 0.5 else 'not present'}"
    if isinstance(f, Bases):
        return f"{_count(v, ('base', 'bases'))} of {_who(f.force)} in the {unit}"
    if isinstance(f, MonthsSinceArrival):
        return f"{_who(f.force)} not present" if v >= f.cap else f"{_who(f.force)} arrived {_ago(v)}"
    if isinstance(f, MonthsSinceDeparture):
        return (
            f"{_who(f.force)} has not left (present, or never was)"
            if v >= f.cap
            else f"{_who(f.force)} left {_ago(v)}"
        )
    if isinstance(f, Withdrawal):
        return (
            f"{_who(f.force)} has not left (present, or never was)"
            if v <= 0
            else f"{_who(f.force)} left {_ago(_since_decay(v, f.halflife))}"
        )
    if isinstance(f, MonthsSinceShock):
        return f"no {_shock(f)} in the last {f.cap} months" if v >= f.cap else f"{_shock(f)} {_ago(v)}"
    if isinstance(f, ShockDecay):
        return f"no {_shock(f)} on record" if v <= 0 else f"{_shock(f)} {_ago(_since_decay(v, f.halflife))}"
    if isinstance(f, PostShock):
        return (
            f"{_shock(f)} within the last {f.months} months"
            if v >= 0.5
            else f"no {_shock(f)} in the last {f.months} months"
        )
    if isinstance(f, ShockCount):
        noun = (_shock(f), "shocks" if f.kind is None else f"{_shock(f)} events")
        return f"{_count(v, noun)} in the last {f.window} months"
    if isinstance(f, Interaction):
        a, b = _sentence(f.of, 1.0, unit, values), _sentence(f.by, 1.0, unit, values)
        if a is None or b is None or v not in (0.0, 1.0):
            return None  # only a product of two yes/no features reads as "both"
        return f"{a}, and {b}" if v == 1.0 else f"not both: {a}; {b}"
    if isinstance(f, RainySeason):
        return "rainy season" if v >= 0.5 else "dry season"
    if isinstance(f, MonthOfYear):
        return _month_of_year(values)
    return None


# --- public API --------------------------------------------------------------------------------


def parse_top_features(top_features: str) -> list[tuple[str, float]]:
    """``"a +0.41; b -0.22"`` -> ``[("a", 0.41), ("b", -0.22)]``; malformed entries are skipped."""
    out = []
    for part in str(top_features or "").split(";"):
        bits = part.strip().rsplit(None, 1)
        if len(bits) != 2:
            continue
        try:
            contribution = float(bits[1])
        except ValueError:
            continue
        if math.isfinite(contribution):
            out.append((bits[0], contribution))
    return out


def feature_index(features: Iterable[Feature] | None = None) -> dict[str, Feature]:
    """Column name -> Feature for ``features`` (a FeatureSet or a list) and every feature inside them.

    ``None``: the project's feature sets (``features/*.toml``), for callers that do not know
    the run's set; pass the run's own list (e.g. ``stages._feature_list(cfg)``) when you can.
    """
    if features is None:
        return dict(_project_index())
    out: dict[str, Feature] = {}
    stack = list(getattr(features, "features", features))
    while stack:
        f = stack.pop()
        out.setdefault(f.name, f)
        stack += [v for v in f.params().values() if isinstance(v, Feature)]
    return out


@lru_cache(maxsize=1)
def _project_index() -> tuple[tuple[str, Feature], ...]:
    from riskcast.features.spec import load_feature_set
    from riskcast.paths import project_file

    feats: list[Feature] = []
    for path in sorted(project_file("features").glob("*.toml")):
        try:
            feats += load_feature_set(path).features
        except Exception:  # noqa: BLE001 - a non-set file (actor_groups.toml) or a broken set: skip it
            continue
    return tuple(feature_index(feats).items())


def explain(
    top_features: str,
    values: Mapping[str, float],
    definitions: Mapping[str, str],
    unit_word: str = "region",
    features: Mapping[str, Feature] | Iterable[Feature] | None = None,
) -> list[Driver]:
    """The drivers of one score, in the order ``top_features`` lists them.

    Args:
        top_features: the ``top_features`` cell of ``scores.csv``.
        values: the unit's feature values at the as-of month (a panel row, as a mapping).
        definitions: column -> plain-words definition (``run.json["feature_definitions"]``),
            used by the generic sentence.
        unit_word: what a unit is called ("region", "cercle", "cell").
        features: column -> Feature, or features to index; None: the project's feature sets.

    Returns:
        One :class:`Driver` per listed column; direction "up" when the contribution is > 0.
    """
    index = features if isinstance(features, Mapping) else feature_index(features)
    out = []
    for column, contribution in parse_top_features(top_features):
        raw = values.get(column)
        value = float("nan") if raw is None or pd.isna(raw) else float(raw)
        feature = index.get(column)
        sentence = None
        if feature is not None and not math.isnan(value):
            try:
                sentence = _sentence(feature, value, unit_word, values)
            except (ValueError, OverflowError):  # e.g. log2 of a negative decay: say it plainly instead
                sentence = None
        if sentence is None:
            shown = (
                "n/a"
                if math.isnan(value)
                else _num(value)
                if abs(value) >= 1 or value == 0
                else f"{value:.2f}"
            )
            sentence = f"{definitions.get(column, column.replace('_', ' '))}: {shown}"
        out.append(Driver(column, contribution, "up" if contribution > 0 else "down", value, sentence))
    return out


def explain_change_row(
    changes: str,
    now: Mapping[str, float],
    before: Mapping[str, float],
    definitions: Mapping[str, str],
    unit_word: str = "region",
    features: Mapping[str, Feature] | Iterable[Feature] | None = None,
) -> list[tuple[Driver, str]]:
    """The features that moved a forecast since last month, in words: ``(driver now, sentence a month before)``.

    ``changes`` is the ``changes`` cell of ``changes.csv`` (:func:`riskcast.scoring.explain_change`):
    contribution differences, so the direction says whether the feature's *change* raised or
    lowered the risk.
    """
    index = features if isinstance(features, Mapping) else feature_index(features)
    now_d = explain(changes, now, definitions, unit_word, index)
    before_d = explain(changes, before, definitions, unit_word, index)
    return [(a, b.sentence) for a, b in zip(now_d, before_d)]


def drivers_table(
    scores: pd.DataFrame,
    panel: pd.DataFrame,
    definitions: Mapping[str, str],
    feature_set: Iterable[Feature] | None = None,
    horizon: int = 1,
    top_n: int = 10,
    unit_word: str = "region",
) -> pd.DataFrame:
    """Drivers of the ``top_n`` units by p at ``horizon``, one row per unit, highest p first.

    ``panel`` is ``features.parquet`` (``unit_id``, ``month`` and the feature columns); each
    unit's values are read at its score's ``as_of`` month.

    Returns:
        ``unit_id``, ``unit_name``, ``country``, ``as_of``, ``p``, ``drivers`` (list of
        :class:`Driver`), then ``driver_i`` / ``direction_i`` for i = 1..k (k = the most any
        unit has; empty strings where a unit has fewer).
    """
    index = feature_index(feature_set)
    top = (
        scores[scores["horizon"] == horizon]
        .sort_values(["p", "unit_id"], ascending=[False, True], kind="stable")
        .head(top_n)
    )
    months = pd.to_datetime(panel["month"]).dt.to_period("M")
    rows = (
        panel.assign(_period=months)
        .drop_duplicates(["unit_id", "_period"], keep="last")
        .set_index(["unit_id", "_period"])
    )
    records = []
    for s in top.itertuples(index=False):
        key = (s.unit_id, pd.Period(str(s.as_of), "M"))
        values = rows.loc[key].to_dict() if key in rows.index else {}
        records.append(
            {
                "unit_id": s.unit_id,
                "unit_name": s.unit_name,
                "country": getattr(s, "country", ""),
                "as_of": s.as_of,
                "p": float(s.p),
                "drivers": explain(s.top_features, values, definitions, unit_word, index),
            }
        )
    k = max((len(r["drivers"]) for r in records), default=0)
    for r in records:
        for i in range(k):
            d = r["drivers"][i] if i < len(r["drivers"]) else None
            r[f"driver_{i + 1}"] = d.sentence if d else ""
            r[f"direction_{i + 1}"] = d.direction if d else ""
    cols = ["unit_id", "unit_name", "country", "as_of", "p", "drivers"] + [
        f"{c}_{i + 1}" for i in range(k) for c in ("driver", "direction")
    ]
    return pd.DataFrame(records, columns=cols)
