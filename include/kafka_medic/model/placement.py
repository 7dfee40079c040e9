"""Where every replica is and what that puts on each broker, updated incrementally as replicas move.

Goals check a `Placement` and the planner mutates one. Every per-broker quantity a goal looks at is a
column of `metrics` (brokers x METRICS), kept current on each move in O(metrics) time, so checking a
candidate move against every goal is a handful of vector operations, not a pass over all replicas.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.model.arrays import NW_IN, NW_OUT, ClusterArrays
from kafka_medic.model.cluster import RESOURCES, ClusterModel

METRICS = (*RESOURCES, "replicas", "leaders", "potential_nw_out", "leader_nw_in")
REPLICAS, LEADERS, POTENTIAL_NW_OUT, LEADER_NW_IN = range(len(RESOURCES), len(METRICS))
DENSE_TOPIC_COUNTS = 32_000_000  # topics x brokers up to which topic counts are a matrix (128 MB)


class Placement:
    """Replica slots (see `ClusterArrays`) with their broker and leadership now, and per-broker metrics."""

    def __init__(self, arrays: ClusterArrays):
        self.arrays = arrays
        a = arrays
        self.num_brokers = a.num_brokers
        self.start = a.replica_start
        self.rf = np.diff(a.replica_start)
        self.slot_partition = a.replica_partition
        # -1 after the last slot, so that the -1 padding of `part_slots` reads as broker -1
        self._slot_broker_padded = np.append(a.replica_broker, -1)
        self._rack_padded = np.append(a.rack, -1)  # the same for `racks_of`
        self.slot_broker = self._slot_broker_padded[:-1]  # a view: moves write through it
        width = int(self.rf.max()) if len(self.rf) else 0
        column = np.arange(width)
        padded = a.replica_start[:-1, None] + column[None, :]
        self.part_slots = np.where(column[None, :] < self.rf[:, None], padded, -1)
        self.original_brokers = self.partition_brokers(np.arange(a.num_partitions))
        self._original = np.ones(len(self.slot_broker), dtype=bool)  # see `is_original`; kept on every move
        self.leader_slot = self._leader_slots(a)
        self.role_vec = self._role_vectors(a)  # (P, 2, METRICS): as a follower, as the leader
        self.follower_vec, self.leader_vec = self.role_vec[:, 0], self.role_vec[:, 1]
        self.metrics = np.zeros((self.num_brokers, len(METRICS)))
        vectors = self.slot_vectors(np.arange(len(self.slot_broker)))
        for m in range(len(METRICS)):
            self.metrics[:, m] = np.bincount(
                self.slot_broker, weights=vectors[:, m], minlength=self.num_brokers
            )
        order = np.argsort(a.partition_topic, kind="stable")
        self.topic_partitions = np.split(
            order, np.cumsum(np.bincount(a.partition_topic, minlength=len(a.topics)))[:-1]
        )
        self.replica_moves = 0
        self.moved_in = np.zeros(self.num_brokers, dtype=np.int64)  # per broker, replicas the plan moved there
        # per broker, bumped whenever a replica or leadership moves on or off it: what a caller derived
        # from a broker's slots and their roles is current while its version is
        self.version = np.zeros(self.num_brokers, dtype=np.int64)
        self._topic_broker: np.ndarray | dict[int, int] | None = None  # see `topic_counts_at`
        self._reindex()

    @classmethod
    def from_model(cls, model: ClusterModel) -> Placement:
        return cls(ClusterArrays.from_model(model))

    # ---- reading -------------------------------------------------------------------------------

    def partition_brokers(self, partitions: np.ndarray) -> np.ndarray:
        """(n, max RF) broker index of each replica of each partition, -1 past its replication factor."""
        return self._slot_broker_padded[self.part_slots[partitions]]

    def racks_of(self, brokers: np.ndarray) -> np.ndarray:
        """The rack index of each of `brokers` (any shape), -1 for broker -1 (padding)."""
        return self._rack_padded[brokers]

    def brokers_of(self, partition: int) -> np.ndarray:
        return self.slot_broker[self.start[partition] : self.start[partition + 1]]

    def slot_vectors(self, slots: np.ndarray) -> np.ndarray:
        """(n, METRICS) what each slot puts on its broker, by its current role."""
        part = self.slot_partition[slots]
        return self.role_vec[part, (self.leader_slot[part] == slots).astype(np.intp)]

    def stranded_slots(self) -> np.ndarray:
        """(R,) replicas of offline partitions (no leader to copy from) on brokers that must end
        empty: they cannot move, so they stay there and are no part of what the others share."""
        a = self.arrays
        return (a.leader[self.slot_partition] < 0) & ~a.holds_data[self.slot_broker]

    def shared_total(self, metric: int) -> float:
        """What the brokers that keep data will hold between them of `metric` once every movable
        replica has left the brokers that must end empty: the total but the stranded replicas."""
        stranded = np.flatnonzero(self.stranded_slots())
        return float(self.metrics[:, metric].sum() - self.slot_vectors(stranded)[:, metric].sum())

    def slot_vector(self, slot: int) -> np.ndarray:
        """What one slot puts on its broker (a fast path of `slot_vectors`)."""
        part = self.slot_partition[slot]
        return self.leader_vec[part] if self.leader_slot[part] == slot else self.follower_vec[part]

    def leadership_delta(self, partitions: np.ndarray) -> np.ndarray:
        """(n, METRICS) what moving leadership adds to the new leader's broker (and takes from the old)."""
        return self.leader_vec[partitions] - self.follower_vec[partitions]

    def slots_on(self, broker: int) -> np.ndarray:
        """Slots currently on `broker` (in no particular order), read-only: an array kept until a
        replica moves on or off the broker, since the search asks for the same broker many times
        between its moves (13,000 slots a broker at 2.8M replicas)."""
        slots = self._on_array[broker]
        if slots is None:
            slots = self._on_array[broker] = np.array(self._on[broker], dtype=np.int64)
            slots.flags.writeable = False
        return slots

    def last_on(self, broker: int) -> int:
        """The slot a move off `broker` puts in the moved slot's place in `slots_on(broker)`'s order
        (the list is kept by swap-remove), so a caller can update what it derived from that order."""
        return self._on[broker][-1]

    def is_original(self, slots: np.ndarray) -> np.ndarray:
        """Whether each slot's broker held the partition before planning (moving it costs data)."""
        return self._original[slots]

    def topic_counts(self, topic: int) -> np.ndarray:
        """(B,) replicas of `topic` on each broker."""
        if isinstance(self._topic_broker, np.ndarray):  # kept current (`topic_counts_at`): a row of it
            return self._topic_broker[topic * self.num_brokers : (topic + 1) * self.num_brokers].astype(np.int64)
        brokers = self.partition_brokers(self.topic_partitions[topic]).ravel()
        return np.bincount(brokers[brokers >= 0], minlength=self.num_brokers)

    def topic_counts_at(self, topics: np.ndarray, brokers: np.ndarray) -> np.ndarray:
        """(n,) replicas of topics[i] on brokers[i]; counts kept up to date once first asked for: a
        topics x brokers matrix when it is small (a vector lookup), else a sparse count (a Python
        lookup per pair: 100,000 one-partition topics on 1,000 brokers would be 400 MB dense)."""
        if self._topic_broker is None:
            key = self.arrays.partition_topic[self.slot_partition] * self.num_brokers + self.slot_broker
            size = len(self.arrays.topics) * self.num_brokers
            if size <= DENSE_TOPIC_COUNTS:
                self._topic_broker = np.bincount(key, minlength=size).astype(np.int32)
            else:
                keys, counts = np.unique(key, return_counts=True)
                self._topic_broker = dict(zip(keys.tolist(), counts.tolist(), strict=True))
        keys = topics * self.num_brokers + brokers
        if isinstance(self._topic_broker, np.ndarray):
            return self._topic_broker[keys].astype(np.int64)
        get = self._topic_broker.get
        return np.fromiter((get(k, 0) for k in keys.tolist()), dtype=np.int64, count=len(keys))

    def leaders(self) -> np.ndarray:
        """(P,) broker index of each partition's leader, -1 when offline."""
        return self._slot_broker_padded[self.leader_slot]

    # ---- changing ------------------------------------------------------------------------------

    def move_replica(self, slot: int, dst: int) -> None:
        src = int(self.slot_broker[slot])
        vector = self.slot_vector(slot)
        self.metrics[src] -= vector
        self.metrics[dst] += vector
        original = self.original_brokers[self.slot_partition[slot]].tolist()
        self.replica_moves += (dst not in original) - (src not in original)
        self.moved_in[src] -= src not in original
        self.moved_in[dst] += dst not in original
        self.slot_broker[slot] = dst
        self._original[slot] = dst in original
        if self._topic_broker is not None:
            key = int(self.arrays.partition_topic[self.slot_partition[slot]]) * self.num_brokers
            if isinstance(self._topic_broker, np.ndarray):
                self._topic_broker[key + src] -= 1
                self._topic_broker[key + dst] += 1
            else:
                self._topic_broker[key + src] -= 1
                self._topic_broker[key + dst] = self._topic_broker.get(key + dst, 0) + 1
        # keep the per-broker slot lists: swap-remove from the source, append to the destination
        on_src, at = self._on[src], int(self._at[slot])
        on_src[at] = last = on_src[-1]
        self._at[last] = at
        on_src.pop()
        self._at[slot] = len(self._on[dst])
        self._on[dst].append(slot)
        self._on_array[src] = self._on_array[dst] = None
        self.version[src] += 1
        self.version[dst] += 1

    def move_leadership(self, partition: int, slot: int) -> None:
        delta = self.leader_vec[partition] - self.follower_vec[partition]
        old, new = self.slot_broker[self.leader_slot[partition]], self.slot_broker[slot]
        self.metrics[old] -= delta
        self.metrics[new] += delta
        self.leader_slot[partition] = slot
        self.version[old] += 1
        self.version[new] += 1

    def make_leader_first(self, partitions: np.ndarray) -> None:
        """Reorder replica lists so the leader is the preferred (first) replica; no load changes."""
        first = self.start[partitions]
        lead = self.leader_slot[partitions]
        self.slot_broker[first], self.slot_broker[lead] = self.slot_broker[lead], self.slot_broker[first]
        self._original[first], self._original[lead] = self._original[lead], self._original[first]
        self.leader_slot[partitions] = first
        self._reindex()

    # ---- internals -----------------------------------------------------------------------------

    def _reindex(self) -> None:
        order = np.argsort(self.slot_broker, kind="stable")
        bounds = np.cumsum(np.bincount(self.slot_broker, minlength=self.num_brokers))[:-1]
        self._on: list[list[int]] = [part.tolist() for part in np.split(order, bounds)]
        self._at = np.empty(len(self.slot_broker), dtype=np.int64)  # position of each slot in its list
        for slots in self._on:
            self._at[slots] = np.arange(len(slots))
        self._on_array: list[np.ndarray | None] = [None] * self.num_brokers  # see `slots_on`
        self.version += 1

    def _leader_slots(self, a: ClusterArrays) -> np.ndarray:
        brokers = self.partition_brokers(np.arange(a.num_partitions))
        hit = brokers == a.leader[:, None]
        slots = self.part_slots[np.arange(a.num_partitions), hit.argmax(axis=1)] if len(hit) else a.leader
        return np.where((a.leader >= 0) & hit.any(axis=1), slots, -1)

    @staticmethod
    def _role_vectors(a: ClusterArrays) -> np.ndarray:
        n = a.num_partitions
        both = np.zeros((n, 2, len(METRICS)))
        follower, leader = both[:, 0], both[:, 1]
        leader[:, : len(RESOURCES)] = a.leader_load
        follower[:, : len(RESOURCES)] = a.follower_load
        leader[:, REPLICAS] = follower[:, REPLICAS] = 1.0
        leader[:, LEADERS] = 1.0
        leader[:, POTENTIAL_NW_OUT] = follower[:, POTENTIAL_NW_OUT] = a.leader_load[:, NW_OUT]
        leader[:, LEADER_NW_IN] = a.leader_load[:, NW_IN]
        return both
