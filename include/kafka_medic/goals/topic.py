"""Soft topic replica distribution: each topic's replicas spread evenly over the brokers.

Per topic the band is [floor(0.9 mean), ceil(1.1 mean)] replicas per broker that keeps data, widened
to at least mean +- `topic_min_gap` (as Cruise Control does), so a hot topic does not pile onto a few
brokers even when their totals look balanced, and a small topic on a big cluster is not shuffled
for nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kafka_medic.goals.base import Goal, GoalResult, describe
from kafka_medic.goals.bounded import holding_brokers
from kafka_medic.goals.constraint import Constraint
from kafka_medic.model.arrays import DISK
from kafka_medic.model.placement import Placement

if TYPE_CHECKING:
    from kafka_medic.optimizer.lower_bound import ForcedData
    from kafka_medic.optimizer.search import Search


class TopicConstraint(Constraint["TopicReplicaDistributionGoal"]):
    """No move takes a topic below its band on the source or above it on the destination."""

    couples_topic = True

    def add(self, goal: TopicReplicaDistributionGoal) -> None:
        self.lower, self.upper = goal.limits(self.placement)

    def homes(self, part: int, src: int, holders: np.ndarray, strict: bool) -> np.ndarray:
        topic = self.placement.arrays.partition_topic[part]
        counts = self.placement.topic_counts(topic)
        if counts[src] - 1 < self.lower[topic]:
            return np.zeros(len(counts), dtype=bool)
        return counts + 1 <= self.upper[topic]

    def placeable(self, slots, src, parts, holders, dst, topic_counts) -> np.ndarray:
        p = self.placement
        topics = p.arrays.partition_topic[parts]
        if topic_counts is None:
            on_src = p.topic_counts_at(topics, src)
            on_dst = p.topic_counts_at(topics, np.full(len(slots), dst))
        else:
            on_src, on_dst = topic_counts[src], topic_counts[dst]
        return (on_src - 1 >= self.lower[topics]) & (on_dst + 1 <= self.upper[topics])


class TopicReplicaDistributionGoal(Goal):
    name, hard = "topic_replica_distribution", False
    constraint = TopicConstraint

    def limits(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        """(lower[T], upper[T]) replicas of each topic per broker that keeps data."""
        a = placement.arrays
        kept = ~placement.stranded_slots()
        replicas = np.bincount(a.partition_topic[placement.slot_partition[kept]], minlength=len(a.topics))
        holders = max(int(holding_brokers(placement).sum()), 1)
        mean = replicas / holders
        gap = self.thresholds.topic_min_gap
        lower = np.minimum(np.floor(self.thresholds.balance_lower * mean + 1e-9), np.ceil(mean - gap - 1e-9))
        upper = np.maximum(np.ceil(self.thresholds.balance_upper * mean - 1e-9), np.floor(mean + gap + 1e-9))
        return np.maximum(lower, 0), upper

    def check(self, placement: Placement) -> GoalResult:
        """Violation: replicas above each topic's upper limit plus replicas missing below its lower limit."""
        lower, upper = self.limits(placement)
        topic, broker, count = topic_broker_counts(placement)
        holds = holding_brokers(placement)
        kept = holds[broker]
        excess = np.where(kept, np.maximum(count - upper[topic], 0), 0)
        # a broker holding none of a topic is absent from the sparse counts, so count what is present
        present = np.bincount(
            topic[kept], weights=np.minimum(count, lower[topic])[kept], minlength=len(lower)
        )
        missing = lower * holds.sum() - present
        topics = placement.arrays.topics
        bad_topics = sorted(
            {topics[t] for t in topic[excess > 0]} | {topics[t] for t in np.flatnonzero(missing > 0)}
        )
        deficit = missing.sum()
        violation = float(excess.sum() + deficit)
        detail = f"{len(bad_topics)} topics unevenly spread: {describe(bad_topics)}" if bad_topics else ""
        return GoalResult(
            self.name, self.hard, violation == 0, violation, partitions=bad_topics, detail=detail
        )

    def optimize(self, search: Search) -> None:
        search.spread_topics(self)

    def forced_data(self, data: ForcedData) -> tuple[np.ndarray, np.ndarray]:
        """Replicas of a topic above its limit on a broker leave as the topic's smallest there; those
        missing below its lower limit arrive as the topic's smallest partitions."""
        p = data.placement
        brokers = p.num_brokers
        lower, upper = self.limits(p)
        topic = p.arrays.partition_topic[p.slot_partition]
        key = topic * brokers + p.slot_broker
        pairs, inverse, count = np.unique(key, return_inverse=True, return_counts=True)
        pair_topic, pair_broker = pairs // brokers, pairs % brokers
        excess = np.where(p.arrays.holds_data[pair_broker], np.maximum(count - upper[pair_topic], 0), 0)
        per_pair = data.smallest_per_group(inverse, data.slot_disk, excess.astype(np.int64), len(pairs))
        leave = np.bincount(pair_broker, weights=per_pair, minlength=brokers)
        arrive = np.zeros(brokers)
        for t in np.flatnonzero(lower >= 1):
            counts = p.topic_counts(int(t))
            missing = np.where(data.can_receive, np.maximum(lower[t] - counts, 0), 0).astype(np.int64)
            sizes = np.sort(p.arrays.leader_load[p.topic_partitions[t], DISK])
            smallest = np.concatenate([[0.0], np.cumsum(sizes)])
            arrive += smallest[np.minimum(missing, len(sizes))]
        return leave, arrive


def topic_broker_counts(placement: Placement) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse (topic, broker, count) for every pair holding at least one replica."""
    brokers = placement.num_brokers
    key = placement.arrays.partition_topic[placement.slot_partition] * brokers + placement.slot_broker
    pairs, count = np.unique(key, return_counts=True)
    return pairs // brokers, pairs % brokers, count
