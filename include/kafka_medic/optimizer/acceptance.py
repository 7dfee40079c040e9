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
from kafka_medic.model.placement import METRICS, Placement


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
        self.slack_up = np.zeros((brokers, len(self.columns)))
        self.slack_down = np.zeros((brokers, len(self.columns)))
        self.k = 0  # bounded goals accepted so far: columns [0, k)
        self.exempt = False  # whether column k - 1 (the goal being optimized) is exempt
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
            self.slack_up[:, k] = slack(upper)
            self.slack_down[:, k] = slack(lower)
            self.k += 1
            self._recompute(k)
        elif isinstance(goal, RackAwareGoal):
            self.rack_limit = goal.limits(self.placement)
        elif isinstance(goal, TopicReplicaDistributionGoal):
            self.topic_limits = goal.limits(self.placement)

    def exempt_last(self, exempt: bool) -> None:
        """While a bounded goal is being optimized its own per-broker "not worse" rule is lifted (the
        search asks instead that its total violation falls), so load can pass through a broker on its
        way from an over-loaded one to an under-loaded one."""
        self.exempt = exempt
        self._recompute(self.k - 1)

    def _recompute(self, k: int) -> None:
        if self.exempt and k == self.k - 1:
            self.room_up[:, k] = self.room_down[:, k] = np.inf
            return
        value = self.placement.metrics[:, self.columns[k]]
        self.room_up[:, k] = np.maximum(self.upper[:, k] - value, 0.0) + self.slack_up[:, k]
        self.room_down[:, k] = np.maximum(value - self.lower[:, k], 0.0) + self.slack_down[:, k]

    def refresh(self, brokers) -> None:
        """Recompute the headroom of `brokers` after their metrics changed."""
        k = self.k - 1 if self.exempt else self.k
        if not k:
            return
        columns = self.columns[:k]
        metrics = self.placement.metrics
        for b in brokers:
            value = metrics[b, columns]
            self.room_up[b, :k] = np.maximum(self.upper[b, :k] - value, 0.0) + self.slack_up[b, :k]
            self.room_down[b, :k] = np.maximum(value - self.lower[b, :k], 0.0) + self.slack_down[b, :k]

    # ---- one replica to any broker -------------------------------------------------------------

    def destinations(self, slot: int, vector: np.ndarray, strict_rack: bool = False) -> np.ndarray:
        """(B,) brokers that may receive `slot` (whose metric vector is `vector`) from its broker."""
        p = self.placement
        src = int(p.slot_broker[slot])
        need = vector[self.columns[: self.k]]
        if (need > self.room_down[src, : self.k]).any():
            return np.zeros(p.num_brokers, dtype=bool)
        ok = self.homes(slot, strict_rack)
        grows = need > 0
        if grows.any():
            ok &= (self.room_up[:, : self.k][:, grows] >= need[grows]).all(axis=1)
        return ok

    def homes(self, slot: int, strict_rack: bool = False) -> np.ndarray:
        """(B,) brokers that may hold `slot`'s partition instead of its broker, whatever the load:
        receiving brokers only, one replica per broker, rack spread and topic spread not worse."""
        p = self.placement
        src = int(p.slot_broker[slot])
        part = int(p.slot_partition[slot])
        ok = self.can_receive.copy()
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

    # ---- many replicas to one broker ----------------------------------------------------------

    def moves_to(
        self, slots: np.ndarray, vectors: np.ndarray, dst: int, topic_counts: np.ndarray | None = None
    ) -> np.ndarray:
        """(n,) which of `slots` (metric vectors `vectors`) may move from their brokers to `dst`."""
        ok = self.placeable(slots, dst, topic_counts)
        return ok & self.fits(vectors, self.placement.slot_broker[slots], dst)

    def fits(self, vectors: np.ndarray, src: np.ndarray, dst: int) -> np.ndarray:
        """(n,) whether moving load `vectors[i]` from broker `src[i]` to `dst` keeps every bounded goal."""
        need = vectors[:, self.columns[: self.k]]
        return (need <= self.room_up[dst, : self.k]).all(axis=1) & (
            need <= self.room_down[src, : self.k]
        ).all(axis=1)

    def placeable(self, slots: np.ndarray, dst: int, topic_counts: np.ndarray | None = None) -> np.ndarray:
        """(n,) whether `dst` may hold a replica of each slot's partition instead of the slot's broker:
        receiving brokers only, one replica per broker, rack spread and topic spread not worse.
        Unlike `fits`, this does not change when unrelated partitions move. `topic_counts` (per broker)
        saves looking counts up when every slot is of one topic."""
        p = self.placement
        if not self.can_receive[dst] or not len(slots):
            return np.zeros(len(slots), dtype=bool)
        src = p.slot_broker[slots]
        parts = p.slot_partition[slots]
        holders = p.partition_brokers(parts)
        ok = ~(holders == dst).any(axis=1)
        if self.rack_limit is not None:
            racks = np.where(holders >= 0, self._rack[np.maximum(holders, 0)], -1)
            src_rack = self._rack[src]
            same_as_src = (racks == src_rack[:, None]).sum(axis=1)
            in_dst_rack = (racks == self._rack[dst]).sum(axis=1) - (src_rack == self._rack[dst])
            ok &= in_dst_rack + 1 <= np.maximum(self.rack_limit[parts], same_as_src)
        if self.topic_limits is not None and ok.any():
            lower, upper = self.topic_limits
            topics = p.arrays.partition_topic[parts]
            if topic_counts is None:
                on_src = p.topic_counts_at(topics, src)
                on_dst = p.topic_counts_at(topics, np.full(len(slots), dst))
            else:
                on_src, on_dst = topic_counts[src], topic_counts[dst]
            ok &= (on_src - 1 >= lower[topics]) & (on_dst + 1 <= upper[topics])
        return ok

    def room(self, broker: int) -> tuple[np.ndarray, np.ndarray]:
        """(METRICS,) how far each metric may fall and grow on `broker` under every bounded goal so far
        (inf where none bounds it): the box a swap partner's load must lie in."""
        down, up = np.full(len(METRICS), np.inf), np.full(len(METRICS), np.inf)
        np.minimum.at(down, self.columns[: self.k], self.room_down[broker, : self.k])
        np.minimum.at(up, self.columns[: self.k], self.room_up[broker, : self.k])
        return down, up

    def change_ok(self, brokers, change: np.ndarray) -> np.ndarray:
        """Whether adding `change` (..., METRICS; negative to take load away) to `brokers` (one, or one
        per row) keeps every bounded goal: the check for swaps, where both brokers give and take."""
        d = change[..., self.columns[: self.k]]
        up, down = self.room_up[brokers, : self.k], self.room_down[brokers, : self.k]
        return (np.where(d > 0, d - up, -d - down) <= 0).all(axis=-1)

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
