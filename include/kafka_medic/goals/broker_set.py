"""Hard broker-set awareness: every replica of a pinned topic on a broker of its topic's set.

Cruise Control's BrokerSetAwareGoal. The pins come from the model's optional `broker_sets` key (or
`kafka-medic plan --broker-sets FILE`, see `model.broker_sets`); topics not pinned are unconstrained,
and a model without broker sets meets the goal as it is, so listing the goal costs nothing there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kafka_medic.goals.base import Goal, GoalResult, describe
from kafka_medic.goals.bounded import alive_racks, holding_brokers
from kafka_medic.goals.constraint import Constraint, ForcedLoad
from kafka_medic.goals.leader import partition_name
from kafka_medic.model.placement import Placement

if TYPE_CHECKING:
    from kafka_medic.optimizer.search import Search


class BrokerSetConstraint(Constraint["BrokerSetAwareGoal"]):
    """No replica of a pinned topic moves from a broker of its set to one outside it; one already
    outside may move anywhere (no worse), and strict (the goal's own step) only into its set."""

    def homes(self, part: int, src: int, holders: np.ndarray, strict: bool) -> np.ndarray:
        allowed = allowed_brokers(self.placement, np.array([part]))[0]
        return allowed if strict or allowed[src] else np.ones(len(allowed), dtype=bool)

    def placeable(self, slots, src, parts, holders, dst, topic_counts) -> np.ndarray:
        allowed = allowed_brokers(self.placement, parts)
        return allowed[:, dst] | ~allowed[np.arange(len(parts)), src]

    def forced_loads(self, metric: int) -> list[ForcedLoad]:
        """Every replica of a pinned topic lives in its topic's set: a set holds at least all of its
        topics' load (and any other topic's besides)."""
        p = self.placement
        a = p.arrays
        if a.topic_set is None or a.set_brokers is None or not len(a.set_brokers):
            return []
        pinned = a.topic_set[a.partition_topic]
        load = p.leader_vec[:, metric] + (p.rf - 1) * p.follower_vec[:, metric]
        least = np.bincount(pinned[pinned >= 0], weights=load[pinned >= 0], minlength=len(a.set_brokers))
        holds = holding_brokers(p)
        sets = [np.flatnonzero(members & holds) for members in a.set_brokers]
        ids = a.broker_ids
        return [
            ForcedLoad(f"the broker set of brokers {describe([str(ids[b]) for b in s])}", s, float(n), np.inf)
            for s, n in zip(sets, least, strict=True)
        ]


class BrokerSetAwareGoal(Goal):
    name, hard = "broker_set_aware", True
    constraint = BrokerSetConstraint

    def check(self, placement: Placement) -> GoalResult:
        """Violation: replicas of pinned topics on brokers outside their topic's set."""
        outside = outside_slots(placement)
        parts = np.unique(placement.slot_partition[outside])
        names = [partition_name(placement, p) for p in parts[:1000]]
        brokers = sorted(int(b) for b in np.unique(placement.arrays.broker_ids[placement.slot_broker[outside]]))
        detail = (
            f"{len(outside)} replicas outside their topic's broker set, of {describe(names)} "
            f"on brokers {describe(brokers)}"
            if len(outside)
            else ""
        )
        return GoalResult(
            self.name, self.hard, not len(outside), float(len(outside)), brokers, names, detail
        )

    def optimize(self, search: Search) -> None:
        """Move each replica outside its set into it: followers first (leadership stays put)."""
        p = search.p
        slots = outside_slots(p)
        slots = slots[search.movable[p.slot_partition[slots]]]
        for slot in slots[np.argsort(p.leader_slot[p.slot_partition[slots]] == slots, kind="stable")]:
            search.move_anywhere(int(slot), strict=True)

    def why_unmet(self, placement: Placement, movable: np.ndarray) -> str | None:
        """Partitions that may not move, or a set with fewer brokers able to receive than a topic's RF."""
        parts = np.unique(placement.slot_partition[outside_slots(placement)])
        stuck = [partition_name(placement, part) for part in parts[~movable[parts]]]
        if stuck:
            return f"they are offline or their topics are excluded from moves: {describe(stuck)}"
        a = placement.arrays
        receiving = allowed_brokers(placement, parts) & (a.holds_data & ~a.excluded)[None, :]
        short = np.flatnonzero(receiving.sum(axis=1) < placement.rf[parts])
        if len(short):
            part = parts[short[0]]
            return (
                f"the broker set of {partition_name(placement, part)} has {int(receiving[short[0]].sum())} "
                f"brokers that can receive, fewer than its {int(placement.rf[part])} replicas"
            )
        return None


def allowed_brokers(placement: Placement, parts: np.ndarray) -> np.ndarray:
    """(n, B) brokers each partition's replicas may live on: its topic's set, or every broker."""
    a = placement.arrays
    if a.topic_set is None or a.set_brokers is None or not len(a.set_brokers):
        return np.ones((len(parts), placement.num_brokers), dtype=bool)
    pinned = a.topic_set[a.partition_topic[parts]]
    allowed = a.set_brokers[np.maximum(pinned, 0)]  # a copy: fancy indexing
    allowed[pinned < 0] = True
    return allowed


def set_room(placement: Placement, most: np.ndarray, least: np.ndarray | None = None) -> tuple[int, int, int] | None:
    """For a rack goal accepted before this one: the first partition outside its topic's set whose set
    cannot hold it within the rack goal's bounds (`most` replicas per rack, and with `least`, at least
    that many in every rack that keeps data; per partition). Returns (partition, racks the set's
    receiving brokers are in, replicas that fit), or None. A set pinned to brokers of too few racks is
    the operator's to fix, and the plan's error should say so."""
    parts = np.unique(placement.slot_partition[outside_slots(placement)])
    if not len(parts):
        return None
    a = placement.arrays
    receiving = allowed_brokers(placement, parts) & (a.holds_data & ~a.excluded)[None, :]
    kept = alive_racks(placement)
    in_rack = np.zeros((placement.num_brokers, len(kept)), dtype=np.int64)
    in_rack[np.arange(placement.num_brokers), a.rack] = 1
    per_rack = receiving.astype(np.int64) @ in_rack  # (n, racks) receiving set brokers in each rack
    fit = np.minimum(per_rack, most[parts, None]).sum(axis=1)
    short = fit < placement.rf[parts]
    if least is not None:
        short |= ((per_rack < least[parts, None]) & kept[None, :]).any(axis=1)
    if not short.any():
        return None
    i = int(np.flatnonzero(short)[0])
    return int(parts[i]), int((per_rack[i] > 0).sum()), int(fit[i])


def outside_slots(placement: Placement) -> np.ndarray:
    """Slots of pinned topics on brokers outside their topic's set."""
    a = placement.arrays
    if a.topic_set is None or a.set_brokers is None or not len(a.set_brokers):
        return np.zeros(0, dtype=np.int64)
    pinned = a.topic_set[a.partition_topic[placement.slot_partition]]
    inside = a.set_brokers[np.maximum(pinned, 0), placement.slot_broker]
    return np.flatnonzero((pinned >= 0) & ~inside)
