"""Leadership goals: leader counts, leader bytes-in and preferred leaders.

They are fixed by moving leadership between existing replicas, which moves no data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kafka_medic.goals.base import Goal, GoalResult, describe
from kafka_medic.goals.bounded import holding_brokers
from kafka_medic.goals.constraint import Constraint
from kafka_medic.goals.distribution import CountDistributionGoal, unconstrained
from kafka_medic.model.placement import LEADER_NW_IN, LEADERS, Placement

if TYPE_CHECKING:
    from kafka_medic.optimizer.search import Search


class LeaderReplicaDistributionGoal(CountDistributionGoal):
    name, metric = "leader_replica_distribution", LEADERS
    uses_leadership, uses_replicas = True, False


class LeaderBytesInDistributionGoal(CountDistributionGoal):
    """Bytes in of the partitions each broker leads, within [0.9, 1.1] x the mean (absolute, as in CC)."""

    name, metric = "leader_bytes_in_distribution", LEADER_NW_IN
    uses_leadership, uses_replicas = True, False

    def limits(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        lower, upper = unconstrained(placement)
        holds = holding_brokers(placement)
        if holds.any():
            mean = placement.shared_total(LEADER_NW_IN) / holds.sum()
            lower[holds] = self.thresholds.balance_lower * mean
            upper[holds] = self.thresholds.balance_upper * mean
        return lower, upper

    label = "leader bytes in"

    def quantity(self, placement: Placement, broker: int, value: float) -> str:
        return f"{self.label} {self.format(placement, broker, value)}"

    def format(self, placement: Placement, broker: int, value: float) -> str:
        return f"{value:.0f} KB/s"


class LeadersFixed(Constraint):
    """Once preferred leaders are elected no later goal moves leadership: Kafka's preferred-leader
    election would undo it, unless the new leader is made its partition's first replica too."""

    kept_by_leader_first = True

    def optimized(self, goal: Goal) -> None:
        self.leadership_fixed = True


class PreferredLeaderElectionGoal(Goal):
    """Every online partition led by its first replica, so Kafka's own preferred-leader election
    (auto.leader.rebalance) keeps the planned leadership instead of undoing it."""

    name, hard = "preferred_leader_election", False
    constraint = LeadersFixed

    def check(self, placement: Placement) -> GoalResult:
        """Violation: number of online partitions not led by their preferred replica."""
        bad = not_preferred(placement)
        names = [partition_name(placement, p) for p in bad[:1000]]
        detail = (
            f"{len(bad)} partitions not led by their first replica: {describe(names)}" if len(bad) else ""
        )
        return GoalResult(
            self.name, self.hard, len(bad) == 0, float(len(bad)), partitions=names, detail=detail
        )

    def optimize(self, search: Search) -> None:
        search.prefer_leaders(self)


def not_preferred(placement: Placement) -> np.ndarray:
    slots = placement.leader_slot
    return np.flatnonzero((slots >= 0) & (slots != placement.start[:-1]))


def partition_name(placement: Placement, partition: int | np.integer) -> str:
    a = placement.arrays
    return f"{a.topics[a.partition_topic[partition]]}-{a.partition_number[partition]}"
