"""Which moves the goals optimized so far (and the one being optimized) accept.

A move is accepted when it makes no broker, partition or topic violate an accepted goal more than
before, Cruise Control's rule. For bounded goals that reduces to headroom: `room_up[b, k]` is how much
metric k may still grow on broker b and `room_down[b, k]` how much it may shrink; a replica move adds
a non-negative metric vector to the destination and takes it from the source, so one comparison of
that vector with the headroom rows checks every bounded goal at once, for every broker at once.
Headroom is refreshed only for the two brokers a move touches.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.goals.base import Goal
from kafka_medic.goals.bounded import BoundedGoal, slack
from kafka_medic.goals.catalog import GOAL_CLASSES
from kafka_medic.goals.rack import RackAwareGoal
from kafka_medic.goals.topic import TopicReplicaDistributionGoal
from kafka_medic.model.placement import Placement


class Acceptance:
    def __init__(self, placement: Placement, can_receive: np.ndarray):
        self.placement = placement
        self.can_receive = can_receive
        brokers = placement.num_brokers
        self.columns = np.zeros(len(GOAL_CLASSES), dtype=np.int64)  # metric of each bounded goal
        self.lower = np.zeros((brokers, len(self.columns)))
        self.upper = np.zeros((brokers, len(self.columns)))
        self.room_up = np.zeros((brokers, len(self.columns)))
        self.room_down = np.zeros((brokers, len(self.columns)))
        self.k = 0  # bounded goals accepted so far: columns [0, k)
        self.rack_limit: np.ndarray | None = None
        self.topic_limits: tuple[np.ndarray, np.ndarray] | None = None
        self.leaders_fixed = False  # set once preferred leaders are optimized: no more leadership moves
        self._rack = placement.arrays.rack
        self._racks = int(self._rack.max()) + 1 if len(self._rack) else 0

    def add(self, goal: Goal) -> None:
        if isinstance(goal, BoundedGoal):
            lower, upper = goal.limits(self.placement)
            k = self.k
            self.columns[k] = goal.metric
            self.lower[:, k] = lower
            self.upper[:, k] = upper
            self.k += 1
            self.refresh(np.arange(self.placement.num_brokers))
        elif isinstance(goal, RackAwareGoal):
            self.rack_limit = goal.limits(self.placement)
        elif isinstance(goal, TopicReplicaDistributionGoal):
            self.topic_limits = goal.limits(self.placement)

    def refresh(self, brokers) -> None:
        k = self.k
        value = self.placement.metrics[np.asarray(brokers)[:, None], self.columns[None, :k]]
        upper, lower = self.upper[brokers, :k], self.lower[brokers, :k]
        self.room_up[brokers, :k] = np.maximum(upper - value, 0.0) + slack(upper)
        self.room_down[brokers, :k] = np.maximum(value - lower, 0.0) + slack(lower)

    # ---- one replica to any broker -------------------------------------------------------------

    def destinations(self, slot: int, vector: np.ndarray, strict_rack: bool = False) -> np.ndarray:
        """(B,) brokers that may receive `slot` (whose metric vector is `vector`) from its broker."""
        p = self.placement
        src = int(p.slot_broker[slot])
        part = int(p.slot_partition[slot])
        need = vector[self.columns[: self.k]]
        if (need > self.room_down[src, : self.k]).any():
            return np.zeros(p.num_brokers, dtype=bool)
        ok = self.can_receive.copy()
        grows = need > 0
        if grows.any():
            ok &= (self.room_up[:, : self.k][:, grows] >= need[grows]).all(axis=1)
        holders = p.brokers_of(part)
        ok[holders] = False
        if self.rack_limit is not None:
            ok &= self._rack_ok_to_all(part, src, holders, strict_rack)
        if self.topic_limits is not None:
            ok &= self._topic_ok_to_all(part, src)
        return ok

    def _rack_ok_to_all(self, part: int, src: int, holders: np.ndarray, strict: bool) -> np.ndarray:
        racks = self._rack[holders]
        same_as_src = int((racks == self._rack[src]).sum())
        others = racks[holders != src]
        in_dst_rack = np.bincount(others, minlength=self._racks)[self._rack]
        allowed = self.rack_limit[part] if strict else max(self.rack_limit[part], same_as_src)
        return in_dst_rack + 1 <= allowed

    def _topic_ok_to_all(self, part: int, src: int) -> np.ndarray:
        lower, upper = self.topic_limits
        topic = self.placement.arrays.partition_topic[part]
        counts = self.placement.topic_counts(topic)
        if counts[src] - 1 < lower[topic]:
            return np.zeros(len(counts), dtype=bool)
        return counts + 1 <= upper[topic]

    # ---- many replicas from one broker to another -----------------------------------------------

    def movable_to(self, slots: np.ndarray, vectors: np.ndarray, src: int, dst: int) -> np.ndarray:
        """(n,) which of `slots` (all on `src`, metric vectors `vectors`) may move to `dst`."""
        p = self.placement
        if not self.can_receive[dst]:
            return np.zeros(len(slots), dtype=bool)
        need = vectors[:, self.columns[: self.k]]
        ok = (need <= self.room_up[dst, : self.k]).all(axis=1) & (need <= self.room_down[src, : self.k]).all(
            axis=1
        )
        parts = p.slot_partition[slots]
        holders = p.partition_brokers(parts)
        ok &= ~(holders == dst).any(axis=1)
        if self.rack_limit is not None:
            racks = np.where(holders >= 0, self._rack[np.maximum(holders, 0)], -1)
            same_as_src = (racks == self._rack[src]).sum(axis=1)
            in_dst_rack = (racks == self._rack[dst]).sum(axis=1) - int(self._rack[dst] == self._rack[src])
            ok &= in_dst_rack + 1 <= np.maximum(self.rack_limit[parts], same_as_src)
        if self.topic_limits is not None:
            lower, upper = self.topic_limits
            topics = p.arrays.partition_topic[parts]
            on_src = self._topic_counts_on(src, len(lower))[topics]
            on_dst = self._topic_counts_on(dst, len(lower))[topics]
            ok &= (on_src - 1 >= lower[topics]) & (on_dst + 1 <= upper[topics])
        return ok

    def _topic_counts_on(self, broker: int, topics: int) -> np.ndarray:
        p = self.placement
        return np.bincount(p.arrays.partition_topic[p.slot_partition[p.slots_on(broker)]], minlength=topics)

    # ---- leadership ----------------------------------------------------------------------------

    def leadership_ok(self, delta: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        """(n,) whether leadership may pass from brokers `old` to brokers `new`, adding `delta` to `new`."""
        if self.leaders_fixed:
            return np.zeros(len(new), dtype=bool)
        need = delta[:, self.columns[: self.k]]
        return (
            self.can_receive[new]
            & (need <= self.room_up[new, : self.k]).all(axis=1)
            & (need <= self.room_down[old, : self.k]).all(axis=1)
        )
