"""Words for features that explain their own value: numbers, nouns, time phrases.

Each feature class says what its value means next to its ``describe()``
(:meth:`riskcast.features.base.Feature.explain`); the report only asks. This module holds
what those sentences share: the context a sentence may need beyond the value
(:class:`ExplainContext`), what a count counts (:class:`Count`), readable names for actor
groups, event types and shock kinds, and small helpers for numbers and months.

Time words: with the as-of month known (``ExplainContext.as_of``, as the report gives it) a
month is named ("4 attacks in May 2019", "coup in Aug 2020"), so "last month" and "1 month
ago" cannot be read as the same month. Without it, the as-of month (the last month of data) is
"last month" and "N months ago" counts from that month, the way the features count. Strings from data (forces, actor groups, unit
words) pass through unchanged: the report's template escapes them; nothing here is evaluated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

__all__ = [
    "ExplainContext",
    "Count",
    "ACTOR_NAMES",
    "EVENT_NOUNS",
    "SUB_EVENT_NOUNS",
    "SHOCK_NOUNS",
    "MONTHS",
    "num",
    "count",
    "ago",
    "since_decay",
    "halving",
    "plural",
]

#: Readable names of the actor groups declared in features/actor_groups.toml; others print as given.
ACTOR_NAMES = {"jnim": "JNIM", "is_sahel": "IS Sahel", "state_forces": "state forces", "militias": "militias"}
#: Nouns for ACLED event types (singular, plural), keyed case-folded; others print as "<type> event(s)".
EVENT_NOUNS = {
    "battles": ("battle", "battles"),
    "violence against civilians": ("attack on civilians", "attacks on civilians"),
    "explosions/remote violence": ("explosion or remote attack", "explosions or remote attacks"),
}
#: Nouns for ACLED sub-event types, keyed case-folded; others print as "<sub-event type> event(s)".
SUB_EVENT_NOUNS = {
    "remote explosive/landmine/ied": ("IED or landmine attack", "IED or landmine attacks"),
    "abduction/forced disappearance": ("abduction", "abductions"),
    "non-state actor overtakes territory": (
        "seizure of territory by an armed group",
        "seizures of territory by armed groups",
    ),
    "suicide bomb": ("suicide bombing", "suicide bombings"),
}
#: Shock kinds (riskcast.schemas.SHOCK_KINDS) as an analyst names them, (singular, plural).
SHOCK_NOUNS = {
    "coup": ("coup", "coups"),
    "coup_attempt": ("coup attempt", "coup attempts"),
    "withdrawal_announced": ("withdrawal announcement", "withdrawal announcements"),
    "withdrawal_completed": ("completed troop withdrawal", "completed troop withdrawals"),
    "deployment": ("troop deployment", "troop deployments"),
    "peace_accord": ("peace accord", "peace accords"),
    "ceasefire": ("ceasefire", "ceasefires"),
    "election": ("election", "elections"),
    "sanctions": ("sanctions decision", "sanctions decisions"),
    "other": ("other shock", "other shocks"),
}
MONTHS = (
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
class ExplainContext:
    """What a sentence may need beyond the feature's own value.

    Attributes:
        unit_word: what a unit is called ("region", "cercle", "cell").
        values: the unit's feature values at the same month, by column (a panel row): a
            feature read with others (month of the year from its sin and cos) looks here.
        before: the same unit's values a month earlier, when known: a national figure says
            whether it rose or fell.
        direction: "up" or "down" when the sentence explains a push on the risk (a national
            feature then says it pushes every unit of the country); None for a plain value.
        country: the unit's country, when known.
        names: readable names that override the defaults (actor groups, forces, shock kinds).
        as_of: the as-of month ("2019-06"), when known: time words then name the month.
    """

    unit_word: str = "region"
    values: Mapping[str, float] = field(default_factory=dict)
    before: Mapping[str, float] | None = None
    direction: str | None = None
    country: str = ""
    names: Mapping[str, str] = field(default_factory=dict)
    as_of: str = ""

    def ago(self, months: float) -> str:
        """When ``months`` before the as-of month was: "in May 2019", else "2 months ago"."""
        return ago(months, self.as_of)

    def actor(self, group: str) -> str:
        return self.names.get(group, ACTOR_NAMES.get(group, group))

    def force(self, force: str | None) -> str:
        return "foreign forces" if force is None else self.names.get(force, force)

    def shock(self, kind: str) -> tuple[str, str]:
        if kind in self.names:
            return self.names[kind], self.names[kind]
        words = kind.replace("_", " ")
        return SHOCK_NOUNS.get(kind, (words, words))

    def plain(self) -> ExplainContext:
        """The same context for a sentence that explains no push (the inner sides of a product)."""
        return ExplainContext(self.unit_word, self.values, None, None, self.country, self.names, self.as_of)


@dataclass(frozen=True)
class Count:
    """What a count feature counts, in words: ``noun`` (singular, plural), ``where`` and ``when``.

    ``Events()`` is (attack, attacks), "", "last month"; ``Rolling(3, of=SpatialLag())`` is the
    same noun "in neighbouring regions" "in the last 3 months". Wrappers build on their inner
    feature's count; a count that no wrapper can say in these words has none.
    """

    noun: tuple[str, str]
    where: str = ""
    when: str = "last month"

    def say(self, value: float) -> str:
        """``"12 attacks in neighbouring regions last month"``; "no attacks ..." at 0."""
        amount = f"no {self.noun[1]}" if num(value) == "0" else count(value, self.noun)
        return " ".join(x for x in (amount, self.where, self.when) if x)


def num(v: float) -> str:
    """Whole numbers as such, others with one decimal (counts are sums of whole events)."""
    return str(int(round(v))) if abs(v - round(v)) < 0.05 else f"{v:.1f}"


def plural(v: float, noun: tuple[str, str]) -> str:
    """The singular for exactly 1, else the plural."""
    return noun[0] if num(v) == "1" else noun[1]


def count(v: float, noun: tuple[str, str]) -> str:
    """``"1 attack"``, ``"12 attacks"``, ``"1.5 attacks"``."""
    return f"{num(v)} {plural(v, noun)}"


def ago(months: float, as_of: str = "") -> str:
    """The month ``months`` before ``as_of`` named ("in May 2019"); without ``as_of``, the as-of
    month is "last month", one before it "1 month ago", and so on."""
    m = max(int(round(months)), 0)
    if as_of:
        return "in " + (pd.Period(str(as_of)[:7], "M") - m).strftime("%b %Y")
    return "last month" if m == 0 else "1 month ago" if m == 1 else f"{m} months ago"


def since_decay(value: float, halflife: float) -> float:
    """Months since the event of a decay feature: value = 2^(-months / halflife)."""
    return -halflife * math.log2(value)


def halving(halflife: float) -> str:
    """How a decay feature's memory fades, to tell it from a plain "months since" (and from a
    decay of another half-life): appended to its sentence."""
    return f", its weight halving every {num(halflife)} months"
