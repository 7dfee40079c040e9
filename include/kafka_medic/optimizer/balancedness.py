"""Balancedness: one number from 0 to 100 that says how many goals, weighted by importance, hold.

As in Cruise Control: goal i of n (0 = highest priority) weighs
    w_i = PRIORITY_WEIGHT ** (n - 1 - i) * (STRICTNESS_WEIGHT if hard else 1)
and balancedness = 100 * (1 - sum of w_i over violated goals / sum of all w_i).
So 100 means every goal holds, a violated hard or high-priority goal costs more than a late soft one,
and scores are only comparable between plans with the same goal list.
"""

from __future__ import annotations

from collections.abc import Sequence

from kafka_medic.goals.base import GoalResult

PRIORITY_WEIGHT = 1.1
STRICTNESS_WEIGHT = 1.5


def goal_weights(results: Sequence[GoalResult]) -> list[float]:
    n = len(results)
    return [
        PRIORITY_WEIGHT ** (n - 1 - i) * (STRICTNESS_WEIGHT if r.hard else 1.0) for i, r in enumerate(results)
    ]


def balancedness(results: Sequence[GoalResult]) -> float:
    weights = goal_weights(results)
    if not weights:
        return 100.0
    violated = sum(w for w, r in zip(weights, results, strict=True) if not r.satisfied)
    return round(100.0 * (1.0 - violated / sum(weights)), 2)
