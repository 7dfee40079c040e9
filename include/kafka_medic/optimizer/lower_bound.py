"""A lower bound on the data any plan must move, to judge how much more a plan moves than needed.

For each broker, take the largest of what the goals in the list force off it:
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
from kafka_medic.goals.bounded import BoundedGoal
from kafka_medic.goals.topic import TopicReplicaDistributionGoal
from kafka_medic.model.arrays import DISK
from kafka_medic.model.placement import REPLICAS, Placement


def data_lower_bound_mb(placement: Placement, goals: list[Goal], can_receive: np.ndarray) -> float:
    p = placement
    brokers = p.num_brokers
    slot_disk = p.arrays.leader_load[p.slot_partition, DISK]
    holds = p.arrays.holds_data
    # offline partitions cannot move (see plan._movable): what they keep on a broker that must end
    # empty stays there
    stranded = p.stranded_slots()
    disk = p.metrics[:, DISK] - np.bincount(p.slot_broker, weights=slot_disk * stranded, minlength=brokers)
    movable_disk = np.where(stranded, np.inf, slot_disk)  # never among the smallest that must leave
    # a replica on a failed disk of a live broker must leave it too
    failed = p.arrays.replica_offline & (p.arrays.leader[p.slot_partition] >= 0)
    leave = np.where(holds, np.bincount(p.slot_broker, weights=slot_disk * failed, minlength=brokers), disk)
    arrive = np.zeros(brokers)
    smallest = np.concatenate([[0.0], np.cumsum(np.sort(p.arrays.leader_load[:, DISK]))])
    for goal in goals:
        if isinstance(goal, BoundedGoal) and goal.metric == DISK:
            lower, upper = goal.limits(p)
            leave = np.maximum(leave, disk - upper)
            arrive = np.maximum(arrive, np.where(can_receive, lower - disk, 0.0))
        elif isinstance(goal, BoundedGoal) and goal.metric == REPLICAS:
            lower, upper = goal.limits(p)
            count = p.metrics[:, REPLICAS] - np.bincount(p.slot_broker, weights=stranded, minlength=brokers)
            excess = np.where(np.isfinite(upper), np.maximum(count - upper, 0), 0).astype(np.int64)
            leave = np.maximum(leave, _smallest_per_group(p.slot_broker, movable_disk, excess, brokers))
            missing = np.where(can_receive & np.isfinite(lower), np.maximum(lower - count, 0), 0).astype(
                np.int64
            )
            arrive = np.maximum(arrive, smallest[np.minimum(missing, len(smallest) - 1)])
        elif isinstance(goal, TopicReplicaDistributionGoal):
            topic_leave, topic_arrive = _topic_bounds(p, goal, slot_disk, can_receive)
            leave = np.maximum(leave, topic_leave)
            arrive = np.maximum(arrive, topic_arrive)
    return float(max(np.maximum(leave, 0.0).sum(), np.maximum(arrive, 0.0).sum()))


def _smallest_per_group(group: np.ndarray, size: np.ndarray, take: np.ndarray, groups: int) -> np.ndarray:
    """(groups,) sum of the take[g] smallest `size` of the items in each group g."""
    order = np.lexsort((size, group))
    sorted_group = group[order]
    first = np.searchsorted(sorted_group, sorted_group)  # index of each item's group start
    rank = np.arange(len(order)) - first
    chosen = rank < take[sorted_group]
    return np.bincount(sorted_group[chosen], weights=size[order][chosen], minlength=groups)


def _topic_bounds(
    p: Placement, goal: TopicReplicaDistributionGoal, slot_disk: np.ndarray, can_receive: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    brokers = p.num_brokers
    lower, upper = goal.limits(p)
    topic = p.arrays.partition_topic[p.slot_partition]
    key = topic * brokers + p.slot_broker
    pairs, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
    pair_topic, pair_broker = pairs // brokers, pairs % brokers
    excess = np.where(p.arrays.holds_data[pair_broker], np.maximum(count - upper[pair_topic], 0), 0)
    per_pair = _smallest_per_group(inverse, slot_disk, excess.astype(np.int64), len(pairs))
    leave = np.bincount(pair_broker, weights=per_pair, minlength=brokers)
    arrive = np.zeros(brokers)
    for t in np.flatnonzero(lower >= 1):
        counts = p.topic_counts(int(t))
        missing = np.where(can_receive, np.maximum(lower[t] - counts, 0), 0).astype(np.int64)
        sizes = np.sort(p.arrays.leader_load[p.topic_partitions[t], DISK])
        smallest = np.concatenate([[0.0], np.cumsum(sizes)])
        arrive += smallest[np.minimum(missing, len(sizes))]
    return leave, arrive
