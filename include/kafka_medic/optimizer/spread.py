"""Spreading partitions over racks and topics over brokers, and preferred leaders: the optimize steps
of the rack, topic and preferred-leader goals (a mixin of `Search`)."""

from __future__ import annotations

import numpy as np

from kafka_medic.goals.leader import PreferredLeaderElectionGoal, not_preferred
from kafka_medic.goals.rack import RackAwareGoal, most_in_one_rack
from kafka_medic.goals.topic import TopicReplicaDistributionGoal, topic_broker_counts
from kafka_medic.model.arrays import DISK
from kafka_medic.model.placement import REPLICAS
from kafka_medic.optimizer.balance import MAX_FAILED_TRIES

SIMILAR = 256  # replicas either side in size that a crowded replica may be swapped with
TOPIC_ROUNDS = 2  # passes over the topics (see `spread_topics`)
SWAP_TRIES = 8  # replicas of a topic tried for a swap onto one broker short of it


class Spreading:
    _by_size: np.ndarray | None = None  # all slots by size, and their sizes: partners for `_swap_out`
    _sizes: np.ndarray

    def spread_racks(self, goal: RackAwareGoal) -> None:
        p = self.p
        limit = goal.limits(p)
        rack = p.arrays.rack
        for part in np.flatnonzero(most_in_one_rack(p, np.arange(len(limit))) > limit):
            if not self.movable[part]:
                continue
            for _ in range(int(p.rf[part])):
                holders = p.brokers_of(part)
                counts = np.bincount(rack[holders])
                if counts.max() <= limit[part]:
                    break
                slots = np.arange(p.start[part], p.start[part + 1])
                crowded = slots[counts[rack[holders]] > limit[part]]
                # followers first (leadership stays put), then the cheapest to move
                order = np.lexsort((self._cost(crowded), p.leader_slot[part] == crowded))
                if all(self._move_anywhere(int(s), strict_rack=True) is None for s in crowded[order]):
                    break

    def spread_topics(self, goal: TopicReplicaDistributionGoal) -> None:
        """Topics with the most excess first; a second round retries what the swaps of later topics
        have since made room for."""
        p = self.p
        lower, upper = goal.limits(p)
        for _ in range(TOPIC_ROUNDS):
            topic, broker, count = topic_broker_counts(p)
            excess = np.where(p.arrays.holds_data[broker], count - upper[topic], 0)
            by_topic = np.bincount(topic[excess > 0], weights=excess[excess > 0], minlength=len(upper))
            todo = np.flatnonzero((by_topic > 0) | (lower >= 1))
            for t in todo[np.argsort(-by_topic[todo], kind="stable")]:
                self._spread_topic(int(t), lower[t], upper[t])

    def _spread_topic(self, topic: int, lower: float, upper: float) -> None:
        """Move replicas of one topic off brokers above its band, then onto brokers below it."""
        p = self.p
        counts = p.topic_counts(topic)
        parts = p.topic_partitions[topic]
        slots = p.part_slots[parts[self.movable[parts]]].ravel()
        slots = slots[slots >= 0]
        for src in np.flatnonzero((counts > upper) & p.arrays.holds_data):
            here = slots[p.slot_broker[slots] == src]
            here = here[np.lexsort((self._cost(here), p.leader_slot[p.slot_partition[here]] == here))]
            failures = 0
            for slot in here:
                if counts[src] <= upper or failures >= MAX_FAILED_TRIES:
                    break
                dst = self._move_anywhere(int(slot), prefer=counts < lower)
                if dst is None:
                    dst = self._swap_out(int(slot))
                if dst is None:
                    failures += 1
                    continue
                counts[src] -= 1
                counts[dst] += 1
        if lower < 1:
            return
        for dst in np.flatnonzero((counts < lower) & self.can_receive):
            while counts[dst] < lower:
                spare = slots[counts[p.slot_broker[slots]] > lower]
                spare = spare[np.argsort(self._cost(spare), kind="stable")]
                ok = self._budget_allows_all(spare)
                ok[ok] = self.acceptance.moves_to(spare[ok], p.slot_vectors(spare[ok]), int(dst), counts)
                if ok.any():
                    slot = int(spare[np.argmax(ok)])
                    counts[p.slot_broker[slot]] -= 1
                    counts[dst] += 1
                    self._move(slot, int(dst))
                elif any(self._swap_out(int(s), int(dst)) is not None for s in spare[:SWAP_TRIES]):
                    counts = p.topic_counts(topic)  # swapped for a replica of another topic on dst
                else:
                    break

    def _swap_out(self, slot: int, dst: int | None = None) -> int | None:
        """Swap `slot` (a replica of a topic crowded on its broker) for a replica of another topic of
        nearly the same size on a broker with room for its topic (on `dst` if given); the partner
        broker's index, or None.

        Once every broker's loads sit in tight bands no single move is accepted, but an exchange of two
        similar replicas changes the loads hardly at all while it moves one replica of the topic off.
        """
        p = self.p
        if not self._budget_allows_all(np.array([slot]), moves=2)[0]:
            return None
        similar = self._similar_in_size(slot) if dst is None else p.slots_on(dst)
        similar = similar[self.acceptance.homes(slot)[p.slot_broker[similar]]]
        similar = similar[self.movable[p.slot_partition[similar]] & self._budget_allows_all(similar, moves=2)]
        # leader for leader and follower for follower, so leader counts stay as they are
        leads = p.leader_slot[p.slot_partition[slot]] == slot
        similar = similar[(p.leader_slot[p.slot_partition[similar]] == similar) == leads]
        src = int(p.slot_broker[slot])
        similar = similar[self.acceptance.placeable(similar, src)]
        if not len(similar):
            return None
        delta = p.slot_vector(slot) - p.slot_vectors(similar)  # what src loses and each partner gains
        partner = p.slot_broker[similar]
        ok = self.acceptance.change_ok(src, -delta) & self.acceptance.change_ok(partner, delta)
        if not ok.any():
            return None
        other = int(similar[ok][np.argmin(self._cost(similar[ok]))])
        dst = int(p.slot_broker[other])
        self._move(slot, dst)
        self._move(other, src)
        return dst

    def _similar_in_size(self, slot: int) -> np.ndarray:
        """The SIMILAR slots either side of `slot` in size (disk), over the whole cluster."""
        p = self.p
        if self._by_size is None:  # replica sizes never change: sort them once
            disk = p.arrays.leader_load[p.slot_partition, DISK]
            self._by_size = np.argsort(disk, kind="stable")
            self._sizes = disk[self._by_size]
        at = int(np.searchsorted(self._sizes, p.arrays.leader_load[p.slot_partition[slot], DISK]))
        return self._by_size[max(at - SIMILAR, 0) : at + SIMILAR]

    def prefer_leaders(self, goal: PreferredLeaderElectionGoal) -> None:
        """Elect the preferred replica where every earlier goal accepts it, else make the leader first."""
        p = self.p
        bad = not_preferred(p)
        bad = bad[self.movable[bad]]
        first = p.start[bad]
        old = p.slot_broker[p.leader_slot[bad]]
        new = p.slot_broker[first]
        delta = p.leadership_delta(bad)
        for i in np.flatnonzero(self.acceptance.leadership_ok(delta, old, new)):
            # re-check: earlier elections in this loop changed the headroom of these brokers
            if self.acceptance.leadership_ok(delta[i : i + 1], old[i : i + 1], new[i : i + 1])[0]:
                self._lead(int(bad[i]), int(first[i]))
        rest = not_preferred(p)
        rest = rest[self.movable[rest]]
        p.make_leader_first(rest)
        self.reason[rest[self.reason[rest] < 0]] = len(self.reasons) - 1
        self.acceptance.leaders_fixed = True

    def _move_anywhere(
        self, slot: int, strict_rack: bool = False, prefer: np.ndarray | None = None
    ) -> int | None:
        """Move `slot` to the best broker that accepts it (among `prefer` when any does); its index."""
        if not self._budget_allows(slot):
            return None
        vector = self.p.slot_vector(slot)
        mask = self.acceptance.destinations(slot, vector, strict_rack=strict_rack)
        if not mask.any():
            return None
        if prefer is not None and (mask & prefer).any():
            mask &= prefer
        dst = self._pick(mask, REPLICAS, vector)
        self._move(slot, dst)
        return dst
