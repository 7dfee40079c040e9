"""Hard rack awareness: replicas of a partition spread over racks as evenly as the racks allow.

With at least as many racks as replicas this is Cruise Control's rule (no two replicas share a rack);
with fewer racks it degrades to at most ceil(RF / racks) replicas in any one rack. Brokers without a
rack count as racks of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kafka_medic.goals.base import Goal, GoalResult, describe
from kafka_medic.goals.bounded import holding_brokers
from kafka_medic.goals.leader import partition_name
from kafka_medic.model.placement import Placement

if TYPE_CHECKING:
    from kafka_medic.optimizer.search import Search


class RackAwareGoal(Goal):
    name, hard = "rack_aware", True

    def limits(self, placement: Placement) -> np.ndarray:
        """(P,) most replicas of each partition that one rack may hold."""
        racks = len(np.unique(placement.arrays.rack[holding_brokers(placement)]))
        if racks == 0:
            return np.full(len(placement.rf), np.iinfo(np.int64).max)
        return -(-placement.rf // racks)

    def check(self, placement: Placement) -> GoalResult:
        """Violation: number of replicas that share a rack beyond the limit, over all partitions."""
        excess = most_in_one_rack(placement, np.arange(len(placement.rf))) - self.limits(placement)
        bad = np.flatnonzero(excess > 0)
        names = [partition_name(placement, p) for p in bad[:1000]]
        detail = ""
        if len(bad):
            detail = f"{len(bad)} partitions with too many replicas in one rack: {describe(names)}"
        return GoalResult(
            self.name, self.hard, len(bad) == 0, float(excess[bad].sum()), partitions=names, detail=detail
        )

    def optimize(self, search: Search) -> None:
        search.spread_racks(self)


def most_in_one_rack(placement: Placement, partitions: np.ndarray) -> np.ndarray:
    """(n,) largest number of replicas of each partition that share a rack."""
    brokers = placement.partition_brokers(partitions)
    if brokers.shape[1] == 0:
        return np.zeros(len(partitions), dtype=np.int64)
    pad = -1 - np.arange(brokers.shape[1])
    racks = np.where(brokers >= 0, placement.arrays.rack[np.maximum(brokers, 0)], pad[None, :])
    return (racks[:, :, None] == racks[:, None, :]).sum(axis=2).max(axis=1)
