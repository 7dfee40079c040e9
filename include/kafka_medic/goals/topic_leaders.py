"""Hard minimum of leaders per broker for chosen topics: the "monitoring topic" case.

Cruise Control's MinTopicLeadersPerBrokerGoal. A monitoring or canary topic is only useful when every
broker leads some of its partitions (a produce to it then probes every broker), so each topic whose
name matches `Thresholds.min_leaders_topics` (a regex, full match) leads at least
`Thresholds.min_topic_leaders` partitions on every broker that keeps data and is not excluded. With no
regex (the default) no topic matches and the goal is met as it is.

It is met by moving leadership first (no data moves), then by moving a leader replica of the topic
from a broker with leaders to spare. Later goals may not take such a broker below the minimum: a move
of a leader replica is checked per partition (`homes`, `placeable`). Leadership moves, though, reach
a constraint as load changes only, without their partition, so once this goal is met and a topic
matches, no later goal moves leadership (as after `preferred_leader_election`, whose goal then only
makes each leader its partition's first replica). List it after the leadership goals
(`leader_replica_distribution`, `leader_bytes_in_distribution`) so they keep their leadership moves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kafka_medic.errors import MedicError
from kafka_medic.goals.base import Goal, GoalResult, Thresholds, describe
from kafka_medic.goals.constraint import Constraint
from kafka_medic.limits import InvalidRegex, topic_regex
from kafka_medic.model.placement import Placement

if TYPE_CHECKING:
    from kafka_medic.optimizer.search import Search


class TopicLeadersConstraint(Constraint["MinTopicLeadersPerBrokerGoal"]):
    """No leader replica of a matched topic leaves a broker at (or below) the minimum for it."""

    def add(self, goal: MinTopicLeadersPerBrokerGoal) -> None:
        self.floor = goal.thresholds.min_topic_leaders
        self.matched = goal.matched_topics(self.placement)
        self.eligible = eligible_brokers(self.placement)

    def optimized(self, goal: Goal) -> None:
        self.leadership_fixed = bool(self.matched.any())  # see the module's docstring

    def homes(self, part: int, src: int, holders: np.ndarray, strict: bool) -> np.ndarray:
        keeps = self._kept(np.array([part]), np.array([src]))[0]
        return np.full(self.placement.num_brokers, not keeps)

    def placeable(self, slots, src, parts, holders, dst, topic_counts) -> np.ndarray:
        return ~self._kept(parts, src)

    def _kept(self, parts: np.ndarray, src: np.ndarray) -> np.ndarray:
        """(n,) whether each partition's replica on `src` leads a matched topic that `src` may not lose."""
        p = self.placement
        topics = p.arrays.partition_topic[parts]
        leader_slot = p.leader_slot[parts]
        leads = (leader_slot >= 0) & (p.slot_broker[leader_slot] == src)
        kept = leads & self.matched[topics] & self.eligible[src]
        for i in np.flatnonzero(kept):
            kept[i] = topic_leaders(p, p.topic_partitions[topics[i]])[src[i]] <= self.floor
        return kept


class MinTopicLeadersPerBrokerGoal(Goal):
    name, hard = "min_topic_leaders_per_broker", True
    constraint = TopicLeadersConstraint

    def __init__(self, thresholds: Thresholds):
        super().__init__(thresholds)
        pattern = thresholds.min_leaders_topics
        try:
            self.pattern = topic_regex(pattern) if pattern is not None else None
        except InvalidRegex as exc:
            raise MedicError(f"min leaders topics: invalid regex {pattern!r}: {exc.reason}") from exc
        if thresholds.min_topic_leaders < 1:
            raise MedicError(f"min topic leaders: {thresholds.min_topic_leaders} must be 1 or more")

    def matched_topics(self, placement: Placement) -> np.ndarray:
        """(T,) whether each topic's name matches the regex."""
        pattern = self.pattern
        topics = placement.arrays.topics
        if pattern is None:
            return np.zeros(len(topics), dtype=bool)
        return np.array([pattern.fullmatch(t) is not None for t in topics], dtype=bool)

    def deficits(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        """(matched topics, missing[topics, B]): leaders each eligible broker lacks of each matched topic."""
        topics = np.flatnonzero(self.matched_topics(placement))
        missing = np.zeros((len(topics), placement.num_brokers), dtype=np.int64)
        eligible = eligible_brokers(placement)
        for row, t in enumerate(topics):
            leaders = topic_leaders(placement, placement.topic_partitions[t])
            missing[row] = np.where(eligible, np.maximum(self.thresholds.min_topic_leaders - leaders, 0), 0)
        return topics, missing

    def check(self, placement: Placement) -> GoalResult:
        """Violation: leaders of matched topics missing below the minimum, over brokers and topics."""
        topics, missing = self.deficits(placement)
        bad = topics[missing.sum(axis=1) > 0]
        names = [placement.arrays.topics[t] for t in bad]
        brokers = [int(b) for b in placement.arrays.broker_ids[missing.sum(axis=0) > 0]]
        detail = ""
        if len(bad):
            detail = (
                f"{int(missing.sum())} leaders missing below {self.thresholds.min_topic_leaders} per broker "
                f"of topics {describe(names)} on brokers {describe(brokers)}"
            )
        return GoalResult(self.name, self.hard, not len(bad), float(missing.sum()), brokers, names, detail)

    def optimize(self, search: Search) -> None:
        p = search.p
        topics, missing = self.deficits(p)
        for row, t in enumerate(topics):
            parts = p.topic_partitions[t]
            parts = parts[search.movable[parts] & (p.leader_slot[parts] >= 0)]
            for broker in np.flatnonzero((missing[row] > 0) & search.can_receive):
                while topic_leaders(p, parts)[broker] < self.thresholds.min_topic_leaders:
                    if not (self._elect(search, parts, int(broker)) or self._bring(search, parts, int(broker))):
                        break

    def _spare(self, placement: Placement, parts: np.ndarray) -> np.ndarray:
        """(n,) whether each partition's leader broker may give its leadership away: above the minimum,
        or not counted (dead, decommissioned, excluded)."""
        leaders = topic_leaders(placement, parts)
        lead = placement.slot_broker[placement.leader_slot[parts]]
        return (leaders[lead] > self.thresholds.min_topic_leaders) | ~eligible_brokers(placement)[lead]

    def _elect(self, search: Search, parts: np.ndarray, broker: int) -> bool:
        """Hand `broker` the leadership of a partition it follows; whether one was accepted."""
        p = search.p
        holders = p.partition_brokers(parts)
        follows = (holders == broker).any(axis=1) & self._spare(p, parts)
        candidates = parts[follows]
        old = p.slot_broker[p.leader_slot[candidates]]
        ok = search.acceptance.leadership_ok(
            p.leadership_delta(candidates), old, np.full(len(candidates), broker)
        )
        if not ok.any():
            return False
        part = int(candidates[np.argmax(ok)])
        slots = p.part_slots[part]
        search.lead(part, int(slots[(slots >= 0) & (p.slot_broker[np.maximum(slots, 0)] == broker)][0]))
        return True

    def _bring(self, search: Search, parts: np.ndarray, broker: int) -> bool:
        """Move a spare leader replica onto `broker`, the smallest accepted; whether one moved."""
        p = search.p
        slots = p.leader_slot[parts[self._spare(p, parts)]]
        slots = slots[np.argsort(p.arrays.leader_load[p.slot_partition[slots], 0], kind="stable")]
        ok = search.acceptance.moves_to(slots, p.slot_vectors(slots), broker)
        only = np.zeros(p.num_brokers, dtype=bool)
        only[broker] = True
        return bool(ok.any()) and search.move_anywhere(int(slots[np.argmax(ok)]), prefer=only) == broker

    def why_unmet(self, placement: Placement, movable: np.ndarray) -> str | None:
        """A matched topic with fewer online partitions than the minimum times the brokers that count."""
        brokers = int(eligible_brokers(placement).sum())
        need = self.thresholds.min_topic_leaders * brokers
        topics, missing = self.deficits(placement)
        for t in topics[missing.sum(axis=1) > 0]:
            parts = placement.topic_partitions[t]
            online = int((movable[parts] & (placement.leader_slot[parts] >= 0)).sum())
            if online < need:
                return (
                    f"topic {placement.arrays.topics[t]} has {online} movable online partitions, fewer than "
                    f"{self.thresholds.min_topic_leaders} leaders x {brokers} brokers"
                )
        return None


def eligible_brokers(placement: Placement) -> np.ndarray:
    """(B,) brokers that must lead the matched topics: they keep data and are not excluded."""
    a = placement.arrays
    return a.holds_data & ~a.excluded


def topic_leaders(placement: Placement, parts: np.ndarray) -> np.ndarray:
    """(B,) leaders of `parts` on each broker."""
    slots = placement.leader_slot[parts]
    return np.bincount(placement.slot_broker[slots[slots >= 0]], minlength=placement.num_brokers)
