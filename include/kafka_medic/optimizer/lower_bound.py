"""A lower bound on the data any plan must move, to judge how much more a plan moves than needed.

For each broker, take the largest of what the goals in the list force off it (each goal says, in its
`forced_data`; the built-in goals force):
  - disk above its smallest disk limit (capacity or distribution band; everything on a dead or
    decommissioned broker but offline partitions, which cannot move; replicas on a failed disk),
  - replicas above its replica-count limit, counted as its smallest replicas,
  - replicas of a topic above that topic's per-broker limit, counted as that topic's smallest replicas
    on the broker;
and likewise the largest of what they force onto it (disk below the band, missing replicas counted as
the cluster's smallest partitions, missing replicas of a topic as that topic's smallest partitions).
Each MB moved leaves one broker and arrives at another, so

    lower bound = max(sum over brokers of what must leave, sum over brokers of what must arrive).

It is a true bound (every plan meeting those goals moves at least this much) but not always a
reachable one, since goals on other resources can force more.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.goals.base import Goal
from kafka_medic.model.arrays import DISK
from kafka_medic.model.placement import Placement


def data_lower_bound_mb(placement: Placement, goals: list[Goal], can_receive: np.ndarray) -> float:
    data = ForcedData(placement, can_receive)
    p, brokers = placement, placement.num_brokers
    # a replica on a failed disk of a live broker must leave it, and everything movable on a broker
    # that must end empty
    failed = p.arrays.replica_offline & (p.arrays.leader[p.slot_partition] >= 0)
    leave = np.where(
        p.arrays.holds_data,
        np.bincount(p.slot_broker, weights=data.slot_disk * failed, minlength=brokers),
        data.disk,
    )
    arrive = np.zeros(brokers)
    for goal in goals:
        forced = goal.forced_data(data)
        if forced is not None:
            leave = np.maximum(leave, forced[0])
            arrive = np.maximum(arrive, forced[1])
    return float(max(np.maximum(leave, 0.0).sum(), np.maximum(arrive, 0.0).sum()))


class ForcedData:
    """What the goals' shares of the bound (`Goal.forced_data`) are computed from."""

    def __init__(self, placement: Placement, can_receive: np.ndarray):
        p = self.placement = placement
        self.can_receive = can_receive
        self.slot_disk = p.arrays.leader_load[p.slot_partition, DISK]  # (S,) MB a move of each slot copies
        # offline partitions cannot move (see plan._movable): what they keep on a broker that must end
        # empty stays there
        self.stranded = p.stranded_slots()
        # (B,) disk that may leave each broker
        self.disk = p.metrics[:, DISK] - np.bincount(
            p.slot_broker, weights=self.slot_disk * self.stranded, minlength=p.num_brokers
        )
        self.movable_disk = np.where(self.stranded, np.inf, self.slot_disk)  # never among the smallest to leave
        # [k]: MB of the cluster's k smallest partitions
        self.smallest = np.concatenate([[0.0], np.cumsum(np.sort(p.arrays.leader_load[:, DISK]))])

    @staticmethod
    def smallest_per_group(group: np.ndarray, size: np.ndarray, take: np.ndarray, groups: int) -> np.ndarray:
        """(groups,) sum of the take[g] smallest `size` of the items in each group g."""
        order = np.lexsort((size, group))
        sorted_group = group[order]
        first = np.searchsorted(sorted_group, sorted_group)  # index of each item's group start
        rank = np.arange(len(order)) - first
        chosen = rank < take[sorted_group]
        return np.bincount(sorted_group[chosen], weights=size[order][chosen], minlength=groups)
