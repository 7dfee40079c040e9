"""Spreading partitions over racks and topics over brokers, and preferred leaders: the optimize steps
of the rack, topic and preferred-leader goals (a mixin of `Search`)."""

from __future__ import annotations

import numpy as np

from kafka_medic.goals.leader import PreferredLeaderElectionGoal, not_preferred
from kafka_medic.goals.rack import RackAwareGoal, most_in_one_rack
from kafka_medic.goals.topic import TopicReplicaDistributionGoal, topic_broker_counts
from kafka_medic.model.arrays import CPU, DISK, NW_IN, NW_OUT
from kafka_medic.model.placement import LEADER_NW_IN, POTENTIAL_NW_OUT
from kafka_medic.optimizer.balance import MAX_FAILED_TRIES
from kafka_medic.optimizer.partners import Partners
from kafka_medic.optimizer.state import SearchState

TOPIC_ROUNDS = 3  # passes over the topics (see `spread_topics`)
SWAPPED = [DISK, NW_IN, NW_OUT, CPU, POTENTIAL_NW_OUT, LEADER_NW_IN]  # what differs between two replicas
PLACEABLE_CHUNK = 64  # cheapest swap partners checked for rack and topic spread at once
SWAP_TRIES = 8  # replicas of a topic tried for a swap onto one broker short of it


class Spreading(SearchState):
    _partners: Partners | None = None  # while topics are spread: where `_swap_out` finds partners
    _topic_upper: np.ndarray | None = None  # while topics are spread: (T,) most replicas per broker
    # while topics are spread: (slot, dst or -1) -> the versions of the brokers a swap of it could
    # involve when it last found no partner (see `_swap_out`)
    _no_partner: dict[tuple[int, int], int] | None = None

    def spread_racks(self, goal: RackAwareGoal) -> None:
        p = self.p
        limit = goal.limits(p)
        rack = p.arrays.rack
        for part in np.flatnonzero(most_in_one_rack(p, np.arange(len(limit))) > limit):
            if not self.movable[part]:
                continue
            for _ in range(int(p.rf[part])):
                holders = p.brokers_of(int(part))
                counts = np.bincount(rack[holders])
                if counts.max() <= limit[part]:
                    break
                slots = np.arange(p.start[part], p.start[part + 1])
                crowded = slots[counts[rack[holders]] > limit[part]]
                # followers first (leadership stays put), then the cheapest to move
                order = np.lexsort((self._cost(crowded), p.leader_slot[part] == crowded))
                if all(self.move_anywhere(int(s), strict=True) is None for s in crowded[order]):
                    break

    def spread_topics(self, goal: TopicReplicaDistributionGoal) -> None:
        """Topics with the most excess first; later rounds retry what the swaps of later topics have
        since made room for. Swap partners come from an index of every replica's load, built once:
        moves and swaps here keep each replica's role, so its load stays what the index says."""
        p = self.p
        lower, upper = goal.limits(p)
        self._partners, self._topic_upper, self._no_partner = Partners(p, SWAPPED), upper, {}
        try:
            self._spread_all(lower, upper)
        finally:
            self._partners = self._topic_upper = self._no_partner = None

    def _spread_all(self, lower: np.ndarray, upper: np.ndarray) -> None:
        p = self.p
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
        slots = self._within_budget(slots)
        for src in np.flatnonzero((counts > upper) & p.arrays.holds_data):
            here = slots[p.slot_broker[slots] == src]
            here = here[np.lexsort((self._cost(here), p.leader_slot[p.slot_partition[here]] == here))]
            failures = 0
            for slot in here:
                if counts[src] <= upper or failures >= MAX_FAILED_TRIES:
                    break
                to = self.move_anywhere(int(slot), prefer=counts < lower)
                if to is None:
                    to = self._swap_out(int(slot))
                if to is None:
                    failures += 1
                    continue
                counts[src] -= 1
                counts[to] += 1
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
        nearly the same load on a broker with room for its topic (on `dst` if given); the partner
        broker's index, or None.

        Once every broker's loads sit in tight bands no single move is accepted, but an exchange of two
        similar replicas changes the loads hardly at all while it moves one replica of the topic off.
        """
        p, partners, upper = self.p, self._partners, self._topic_upper
        assert partners is not None and upper is not None  # set while topics are spread
        if not self._budget_allows_all(np.array([slot]), moves=2)[0]:
            return None
        src = int(p.slot_broker[slot])
        homes = self.acceptance.homes(slot)
        # a search that found nothing finds nothing again while no broker it could involve has changed:
        # later rounds over the topics (`spread_topics`) ask mostly the same (on 25 brokers in 3 racks,
        # RF 3: 227 of 6,059 found a partner, 25 of them in the second and third rounds)
        key = (slot, -1 if dst is None else dst)
        stamp = int(p.version[src]) + int(p.version[homes].sum() if dst is None else p.version[dst])
        no_partner = self._no_partner
        assert no_partner is not None  # set while topics are spread
        if no_partner.get(key) == stamp:
            return None
        if dst is None:  # partners whose load differs from the slot's by less than src's headroom
            down, up = self.acceptance.room(src)
            load = partners.vectors[slot]
            chunks = partners.near(load, load - down, load + up)
        else:
            chunks = iter([p.slots_on(dst)])
        for similar in chunks:
            other = self._partner(slot, similar, homes)
            if other is not None:
                dst = int(p.slot_broker[other])
                self._move(slot, dst)
                self._move(other, src)
                return dst
        no_partner[key] = stamp
        return None

    def _partner(self, slot: int, similar: np.ndarray, homes: np.ndarray) -> int | None:
        """The cheapest of `similar` that may swap places with `slot`: on a broker in `homes`, of a topic
        with room for one more replica on slot's broker, of the same role, and accepted by every goal
        on both brokers."""
        p = self.p
        src = int(p.slot_broker[slot])
        parts = p.slot_partition[similar]
        keep = homes[p.slot_broker[similar]] & self.movable[parts]
        # leader for leader and follower for follower, so leader counts stay as they are
        keep &= (p.leader_slot[parts] == similar) == (p.leader_slot[p.slot_partition[slot]] == slot)
        similar = similar[keep]
        topics = p.arrays.partition_topic[p.slot_partition[similar]]
        upper = self._topic_upper
        assert upper is not None  # set while topics are spread
        similar = similar[p.topic_counts_at(topics, np.full(len(similar), src)) + 1 <= upper[topics]]
        similar = similar[self._budget_allows_all(similar, moves=2)]
        partners = self._partners
        assert partners is not None  # set while topics are spread
        delta = partners.vectors[slot] - partners.vectors[similar]  # src loses, partners gain
        ok = self.acceptance.change_ok(src, -delta) & self.acceptance.change_ok(p.slot_broker[similar], delta)
        return self._cheapest_placeable(similar[ok], src)

    def _cheapest_placeable(self, slots: np.ndarray, broker: int) -> int | None:
        """The cheapest of `slots` whose partition `broker` may hold; checked a chunk at a time, since
        looking up topic counts is what costs here."""
        slots = slots[np.argsort(self._cost(slots), kind="stable")]
        for chunk in range(0, len(slots), PLACEABLE_CHUNK):
            some = slots[chunk : chunk + PLACEABLE_CHUNK]
            ok = self.acceptance.placeable(some, broker)
            if ok.any():
                return int(some[np.argmax(ok)])
        return None

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
