"""A lower bound on the data any plan must move, to judge how much more a plan moves than needed.

Every MB above a broker's disk limit must leave it, and everything on a dead or decommissioned broker
must leave; every MB a broker lacks below the disk-distribution band must arrive. Each MB moved leaves
one broker and arrives at another, so

    lower bound = max(sum over brokers of max(0, disk - upper),
                      sum over receiving brokers of max(0, lower - disk))

where upper is the smallest of the disk limits in the goal list (0 for brokers that must end empty)
and lower is disk_usage_distribution's lower limit (when that goal is in the list). Goals on other
resources can force more data to move, so this bound is not always reachable; it is reachable when disk
is the binding resource, which is what the skew benchmarks measure.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.goals.base import Goal
from kafka_medic.goals.bounded import BoundedGoal
from kafka_medic.model.arrays import DISK
from kafka_medic.model.placement import Placement


def data_lower_bound_mb(placement: Placement, goals: list[Goal], can_receive: np.ndarray) -> float:
    disk = placement.metrics[:, DISK]
    holds = placement.arrays.holds_data
    upper = np.where(holds, np.inf, 0.0)
    lower = np.zeros(placement.num_brokers)
    for goal in goals:
        if isinstance(goal, BoundedGoal) and goal.metric == DISK:
            goal_lower, goal_upper = goal.limits(placement)
            upper = np.minimum(upper, goal_upper)
            lower = np.maximum(lower, np.where(can_receive, goal_lower, 0.0))
    must_leave = np.maximum(disk - upper, 0.0).sum()
    must_arrive = np.maximum(lower - disk, 0.0).sum()
    return float(max(must_leave, must_arrive))
