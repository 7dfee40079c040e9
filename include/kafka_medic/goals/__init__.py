"""Goals: what a balanced, healthy cluster looks like, each with a check and an optimize step."""

from __future__ import annotations

from collections.abc import Sequence

from kafka_medic.goals.base import Goal, GoalResult, Thresholds
from kafka_medic.goals.catalog import (
    DEFAULT_GOALS,
    GOAL_CLASSES,
    HARD_GOALS,
    check_goal_names,
    goal_names,
    make_goals,
)
from kafka_medic.goals.constraint import Constraint
from kafka_medic.model.cluster import ClusterModel
from kafka_medic.model.placement import Placement

__all__ = [
    "DEFAULT_GOALS",
    "GOAL_CLASSES",
    "HARD_GOALS",
    "Constraint",
    "Goal",
    "GoalResult",
    "Thresholds",
    "check",
    "check_goal_names",
    "goal_names",
    "make_goals",
]


def check(
    model: ClusterModel | Placement,
    goals: Sequence[str] | None = None,
    thresholds: Thresholds | None = None,
) -> list[GoalResult]:
    """Check every goal (default: all sixteen) against a model, in priority order."""
    placement = model if isinstance(model, Placement) else Placement.from_model(model)
    return [goal.check(placement) for goal in make_goals(goals, thresholds)]
