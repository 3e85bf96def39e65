"""Drivers in plain words: why the model moved a unit's risk up or down this month.

``scores.csv`` lists, per unit, the top feature contributions on the model's link scale
(``"rolling_window3 +0.41; present_force_minusma -0.22"``). This module turns each into a
sentence that states the feature's actual value as an analyst would say it ("12 attacks in
the last 3 months", "France left 4 months ago").

Columns are resolved to their :class:`~riskcast.features.base.Feature` objects (names are
derived from class and parameters, so the feature set is the parser) and each feature says
its own value in words (:meth:`~riskcast.features.base.Feature.explain`, next to its
``describe()``): the report asks the feature and never needs to know it. A column that no
known feature names gets a generic "<definition>: <value>" sentence.

What the report shows (:func:`shown`): every sentence once (two features that say the same
thing keep the stronger), and no "nothing there" value offered as a reason the risk rose.
Strings from data pass through unchanged: the report's Jinja template escapes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

import pandas as pd

from riskcast.features import Feature
from riskcast.features.spec import load_feature_set
from riskcast.features.words import ExplainContext, num
from riskcast.paths import project_file

__all__ = [
    "Driver",
    "explain",
    "shown",
    "parse_top_features",
    "feature_index",
    "drivers_table",
    "explain_change_row",
]


@dataclass(frozen=True)
class Driver:
    """One feature's push on a unit's risk: ``contribution`` > 0 pushes it up.

    ``absent`` is True when the value says the thing measured is not there (no attacks, the
    force absent, no shock on record: :meth:`Feature.absent <riskcast.features.base.Feature.absent>`).
    """

    column: str
    contribution: float
    direction: str
    value: float
    sentence: str
    absent: bool = False


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
    feats: list[Feature] = []
    for path in sorted(project_file("features").glob("*.toml")):
        try:
            feats += load_feature_set(path).features
        except Exception:  # noqa: BLE001 - a non-set file (actor_groups.toml) or a broken set: skip it
            continue
    return tuple(feature_index(feats).items())


def _say(
    column: str,
    values: Mapping[str, float],
    feature: Feature | None,
    definitions: Mapping[str, str],
    context: ExplainContext,
) -> tuple[float, str, bool]:
    """(value, sentence, absent) of one column: the feature's own words, else "<definition>: <value>"."""
    raw = values.get(column)
    value = float("nan") if raw is None or pd.isna(raw) else float(raw)
    if feature is not None and not math.isnan(value):
        try:
            return value, feature.explain(value, context), feature.absent(value)
        except (ValueError, OverflowError, ZeroDivisionError):  # an impossible value: say it plainly
            pass
    shown_value = (
        "n/a" if math.isnan(value) else num(value) if abs(value) >= 1 or value == 0 else f"{value:.2f}"
    )
    return value, f"{definitions.get(column, column.replace('_', ' '))}: {shown_value}", False


def explain(
    top_features: str,
    values: Mapping[str, float],
    definitions: Mapping[str, str],
    unit_word: str = "region",
    features: Mapping[str, Feature] | Iterable[Feature] | None = None,
    *,
    before: Mapping[str, float] | None = None,
    country: str = "",
    as_of: str = "",
) -> list[Driver]:
    """The drivers of one score, one per listed column, in the order ``top_features`` lists them.

    Args:
        top_features: the ``top_features`` cell of ``scores.csv``.
        values: the unit's feature values at the as-of month (a panel row, as a mapping).
        definitions: column -> plain-words definition (``run.json["feature_definitions"]``),
            used by the generic sentence of a column no feature names.
        unit_word: what a unit is called ("region", "cercle", "cell").
        features: column -> Feature, or features to index; None: the project's feature sets.
        before: the unit's values a month before, when known (a national count says whether
            it rose or fell).
        country: the unit's country, when known (a national feature names it).
        as_of: the month of ``values`` ("2019-06"), when known: sentences then name months
            ("4 attacks in May 2019") instead of counting back from it.

    Returns:
        One :class:`Driver` per listed column; direction "up" when the contribution is > 0.
        :func:`shown` picks the ones worth printing.
    """
    index = features if isinstance(features, Mapping) else feature_index(features)
    out = []
    for column, contribution in parse_top_features(top_features):
        direction = "up" if contribution > 0 else "down"
        context = ExplainContext(unit_word, values, before, direction, country, as_of=as_of)
        value, sentence, absent = _say(column, values, index.get(column), definitions, context)
        out.append(Driver(column, contribution, direction, value, sentence, absent))
    return out


def shown(drivers: list[Driver], key: Callable[[Driver], Hashable] | None = None) -> list[Driver]:
    """The drivers worth printing, in their order: what an analyst can read as a reason.

    - A driver whose value says "nothing there" (``absent``: no attacks, the force absent, no
      shock on record) is left out when it *raised* the risk. A contribution compares the
      unit-month with an average one, so "↑ no attacks 2 months ago" does not mean the quiet
      raised the risk: it is the model's reference point, or a correlated feature (the same
      attacks counted by a rolling window) taking the other side. An ↑ line reads as a cause
      for concern, and an absence is none. The same value that *lowered* the risk stays
      ("↓ no attacks in the last 6 months" is what an analyst expects).
    - Two drivers with the same sentence (``key``: the sentence) are shown once: the stronger,
      by absolute contribution. A sentence that another one repeats with more words is left
      out ("last attack in Jun 2019" beside "last attack in Jun 2019, its weight halving every
      3 months": a months-since and a decay of the same attack).
    """
    key = key or (lambda d: d.sentence)
    kept = [d for d in drivers if not (d.absent and d.direction == "up")]
    strongest: dict[Hashable, Driver] = {}
    for d in kept:
        k = key(d)
        if k not in strongest or abs(d.contribution) > abs(strongest[k].contribution):
            strongest[k] = d
    kept = [d for d in kept if strongest[key(d)] is d]

    # the shorter of two sentences of one fact says nothing the longer does not
    return [d for d in kept if not any(o.sentence.startswith(d.sentence + ",") for o in kept)]


def explain_change_row(
    changes: str,
    now: Mapping[str, float],
    before: Mapping[str, float],
    definitions: Mapping[str, str],
    unit_word: str = "region",
    features: Mapping[str, Feature] | Iterable[Feature] | None = None,
    as_of: str = "",
) -> list[tuple[Driver, str]]:
    """The features that moved a forecast since last month, in words: ``(driver now, sentence a month before)``.

    ``changes`` is the ``changes`` cell of ``changes.csv`` (:func:`riskcast.scoring.explain_change`):
    contribution differences, so the direction says whether the feature's *change* raised or
    lowered the risk. The moves are picked as in :func:`shown`, except that a list is never
    emptied: the report reads an empty list as "no feature changed", which would be untrue.
    With ``as_of`` (the month of ``now``) both sentences name their months.
    """
    index = features if isinstance(features, Mapping) else feature_index(features)
    country = now.get("country")
    country = country if isinstance(country, str) else ""
    now_d = explain(changes, now, definitions, unit_word, index, before=before, country=country, as_of=as_of)
    # The month before is a plain value beside the move, not a push of its own; its months
    # count from its own month.
    earlier = str(pd.Period(as_of[:7], "M") - 1) if as_of else ""
    plain = ExplainContext(unit_word, before, country=country, as_of=earlier)
    said = {d.column: _say(d.column, before, index.get(d.column), definitions, plain) for d in now_d}
    was = {c: x[1] for c, x in said.items()}
    picked = shown(now_d, key=lambda d: (d.sentence, was[d.column])) or now_d[:1]
    return [(_against_the_grain(d, said[d.column][0], index.get(d.column)), was[d.column]) for d in picked]


def _against_the_grain(d: Driver, before: float, feature: Feature | None) -> Driver:
    """The move with a word of warning when the feature fell and that raised the risk, or rose
    and that lowered it: "↑ 1 attack involving JNIM (a month before: 3)" reads as a mistake
    unless it says that in this model fewer of them go with a higher risk (most often because
    a correlated feature, total attacks, carries the rise). It is the model's arithmetic: the
    change of the contribution has the sign of the change of the value times the model's
    response to it. A yes/no feature (the rainy season began) needs no such word."""
    if (
        getattr(feature, "yes_no", False)
        or math.isnan(d.value)
        or math.isnan(before)
        or num(d.value) == num(before)
    ):
        return d
    rose = d.value > before
    if rose == (d.direction == "up"):
        return d
    note = (
        " (its fall raised the risk in this model)"
        if not rose
        else " (its rise lowered the risk in this model)"
    )
    return replace(d, sentence=d.sentence + note)


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
    unit's values are read at its score's ``as_of`` month (and the month before, for national
    counts that say whether they rose or fell).

    Returns:
        ``unit_id``, ``unit_name``, ``country``, ``as_of``, ``p``, ``drivers`` (the
        :class:`Driver` objects :func:`shown` keeps), ``skipped`` (how many listed drivers it
        left out), then ``driver_i`` / ``direction_i`` for i = 1..k (k = the most any unit has;
        empty strings where a unit has fewer).
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
        month = pd.Period(str(s.as_of), "M")
        values, before = (
            rows.loc[key].to_dict() if key in rows.index else {}
            for key in ((s.unit_id, month), (s.unit_id, month - 1))
        )
        country = getattr(s, "country", "")
        every = explain(
            s.top_features,
            values,
            definitions,
            unit_word,
            index,
            before=before or None,
            country=country if isinstance(country, str) else "",
            as_of=str(month),
        )
        kept = shown(every)
        records.append(
            {
                "unit_id": s.unit_id,
                "unit_name": s.unit_name,
                "country": country,
                "as_of": s.as_of,
                "p": float(s.p),
                "drivers": kept,
                "skipped": len(every) - len(kept),
            }
        )
    k = max((len(r["drivers"]) for r in records), default=0)
    for r in records:
        for i in range(k):
            d = r["drivers"][i] if i < len(r["drivers"]) else None
            r[f"driver_{i + 1}"] = d.sentence if d else ""
            r[f"direction_{i + 1}"] = d.direction if d else ""
    cols = ["unit_id", "unit_name", "country", "as_of", "p", "drivers", "skipped"] + [
        f"{c}_{i + 1}" for i in range(k) for c in ("driver", "direction")
    ]
    return pd.DataFrame(records, columns=cols)
