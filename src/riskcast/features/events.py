"""Event counts per unit and month: attacks (the target events), deaths, events of any type,
each optionally of one event type, sub-event type or actor group.

These are the sources the history transforms (:mod:`.history`) wrap. Each says what it counts
(:meth:`~riskcast.features.base.Feature.counts`), so a wrapper can say "12 attacks involving
JNIM in the last 3 months" without knowing the count.
"""

from __future__ import annotations

import numpy as np

from riskcast.features.base import PLAIN, ExplainContext, Feature, FeatureContext
from riskcast.features.selection import event_counts, event_mask
from riskcast.features.words import EVENT_NOUNS, SUB_EVENT_NOUNS, Count

__all__ = ["Events", "Fatalities", "AllEvents"]


def _what(f: Events | Fatalities) -> str:
    """The events a count reads, as ``describe()`` names them (the raw type names)."""
    what = (
        f"{f.sub_event_type} events"
        if f.sub_event_type
        else f"{f.event_type} events"
        if f.event_type
        else "attacks"
    )
    return what + (f" involving {f.actor_group}" if f.actor_group else "")


def _nouns(f: Events | Fatalities, context: ExplainContext) -> tuple[str, str, str]:
    """(singular, plural, " involving <actor group>") of the events a count reads, for sentences."""
    if f.sub_event_type:
        sub = f.sub_event_type
        one, many = SUB_EVENT_NOUNS.get(sub.casefold(), (f"{sub} event", f"{sub} events"))
    elif f.event_type:
        one, many = EVENT_NOUNS.get(
            f.event_type.casefold(), (f"{f.event_type} event", f"{f.event_type} events")
        )
    else:
        one, many = "attack", "attacks"
    return one, many, f" involving {context.actor(f.actor_group)}" if f.actor_group else ""


class Events(Feature):
    """Number of events in month t: target events by default, or one event type, sub-event type
    (e.g. ACLED's "Remote explosive/landmine/IED", "Abduction/forced disappearance") or actor group."""

    family = "history"
    description = "number of {event_type} events involving {actor_group} in the month"
    name_prefix = {"event_type": "type", "actor_group": "actor", "sub_event_type": "sub"}

    def __init__(
        self, event_type: str | None = None, actor_group: str | None = None, sub_event_type: str | None = None
    ) -> None:
        self.event_type, self.actor_group, self.sub_event_type = event_type, actor_group, sub_event_type

    def describe(self) -> str:
        return _what(self)

    def counts(self, context: ExplainContext = PLAIN) -> Count:
        one, many, actor = _nouns(self, context)
        return Count((one + actor, many + actor), when=context.ago(0))

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        return self.say_count(value, context)  # "4 attacks involving JNIM last month"

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        if self.event_type is None and self.actor_group is None and self.sub_event_type is None:
            return ctx.array("n_target")
        return event_counts(ctx, event_mask(ctx, self.event_type, self.actor_group, self.sub_event_type))


class Fatalities(Feature):
    """Fatalities of target events in month t (or of one event type, sub-event type or actor group)."""

    family = "history"
    name_prefix = {"event_type": "type", "actor_group": "actor", "sub_event_type": "sub"}

    def __init__(
        self, event_type: str | None = None, actor_group: str | None = None, sub_event_type: str | None = None
    ) -> None:
        self.event_type, self.actor_group, self.sub_event_type = event_type, actor_group, sub_event_type

    def describe(self) -> str:
        return f"deaths in {_what(self)}"

    def counts(self, context: ExplainContext = PLAIN) -> Count:
        _, many, actor = _nouns(self, context)
        return Count((f"death in {many}{actor}", f"deaths in {many}{actor}"), when=context.ago(0))

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        return self.say_count(value, context)  # "40 deaths in battles last month"

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        if self.event_type is None and self.actor_group is None and self.sub_event_type is None:
            return ctx.array("n_fatalities")
        mask = event_mask(ctx, self.event_type, self.actor_group, self.sub_event_type)
        return event_counts(ctx, mask, ctx.events["fatalities"].to_numpy(dtype=float))


class AllEvents(Feature):
    """Number of events of any type in month t (protests and riots included)."""

    family = "history"
    description = "events of any type (protests and riots included)"

    def __init__(self) -> None:
        pass

    def counts(self, context: ExplainContext = PLAIN) -> Count:
        return Count(("event of any type", "events of any type"), when=context.ago(0))

    def explain(self, value: float, context: ExplainContext = PLAIN) -> str:
        return self.say_count(value, context)  # "32 events of any type last month"

    def compute(self, ctx: FeatureContext) -> np.ndarray:
        return ctx.array("n_all")
