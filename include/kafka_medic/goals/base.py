"""The Goal interface, its thresholds and the result of checking one goal.

As in Cruise Control, a goal is a small object: a name, hard or soft, a check (is it satisfied and by
how much is it violated), an optimize step that asks the planner's search for moves, and what it
accepts of the moves of the goals after it: its `constraint` (see `goals.constraint`), which the
search asks about many candidate moves at once, as vectors. So a new goal is one class, built in or
installed through the `kafka_medic.goals` entry point group (see `goals.catalog`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from kafka_medic.model.placement import Placement

if TYPE_CHECKING:
    from kafka_medic.goals.constraint import Constraint
    from kafka_medic.optimizer.lower_bound import ForcedData
    from kafka_medic.optimizer.search import Search

DEFAULT_CAPACITY_THRESHOLDS = {"disk": 0.8, "nw_in": 0.8, "nw_out": 0.8, "cpu": 0.7}


@dataclass(frozen=True)
class Thresholds:
    """Goal limits; the defaults are the spec's."""

    capacity: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CAPACITY_THRESHOLDS))
    balance_lower: float = 0.9
    balance_upper: float = 1.1
    # usage-distribution goals aim at (and later goals keep) this share of the band around the mean:
    # 0.9 of [0.9, 1.1] is [0.91, 1.09] (Cruise Control's BALANCE_MARGIN). A plan then ends inside the
    # band with room to spare, so the next samples' noise does not cross 1.10 and ask for another plan.
    balance_margin: float = 0.9
    max_replicas_per_broker: int = 10000
    # topic_replica_distribution also allows mean +- this many replicas (Cruise Control's
    # topic.replica.count.balance.min.gap): +-10% of 0.2 replicas per broker means nothing
    topic_min_gap: int = 2
    # min_topic_leaders_per_broker: topics matching this regex (full match; None: no topic) lead at
    # least `min_topic_leaders` partitions on every broker that keeps data and is not excluded
    min_leaders_topics: str | None = None
    min_topic_leaders: int = 1


@dataclass
class GoalResult:
    goal: str
    hard: bool
    satisfied: bool
    violation: float  # 0 when satisfied; see each goal's `check` for its unit
    brokers: list[int] = field(default_factory=list)  # ids of brokers that violate it
    partitions: list[str] = field(default_factory=list)  # "topic-N" of partitions (or topics) that violate it
    detail: str = ""  # one line for people: where and by how much


class Goal:
    name: ClassVar[str]
    hard: ClassVar[bool]
    # what the goal asks of later moves once accepted; goals naming the same class share one object.
    # None: later goals may undo it
    constraint: ClassVar[type[Constraint] | None] = None

    def __init__(self, thresholds: Thresholds):
        self.thresholds = thresholds

    def check(self, placement: Placement) -> GoalResult:
        raise NotImplementedError

    def optimize(self, search: Search) -> None:
        raise NotImplementedError

    def forced_data(self, data: ForcedData) -> tuple[np.ndarray, np.ndarray] | None:
        """(leave[B], arrive[B]): MB every plan meeting this goal must move off and onto each broker, at
        least, for the lower bound on the data a plan moves; None if the goal forces none."""
        return None

    def infeasible(self, placement: Placement) -> str | None:
        """Why no plan can meet this goal on `placement` (once the brokers that must end empty are
        emptied), when that is cheap and certain to tell; None when it may hold. The planner asks before
        optimizing the goal: a hard goal that cannot hold fails the plan with this reason, a soft one
        is optimized as far as it goes and then only kept from getting worse (`Constraint.relax`)."""
        return None

    def why_unmet(self, placement: Placement, movable: np.ndarray) -> str | None:
        """Why the plan could not meet this (hard) goal, when the goal can tell; `movable` (P,) are the
        partitions the plan may change."""
        return None

    def why_blocks(self, placement: Placement, goal: Goal) -> str | None:
        """Why this goal, accepted before `goal`, kept the plan from meeting `goal`, when it can tell."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def describe(items: list, limit: int = 5) -> str:
    """'a, b, c and 7 more': keep one-line messages short on big clusters."""
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
