"""Hard rack awareness: replicas of a partition spread over racks as evenly as the racks allow.

With at least as many racks as replicas this is Cruise Control's rule (no two replicas share a rack);
with fewer racks it degrades to at most ceil(RF / racks) replicas in any one rack. Brokers without a
rack count as racks of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kafka_medic.goals.base import Goal, GoalResult, describe
from kafka_medic.goals.bounded import BoundedGoal, holding_brokers
from kafka_medic.goals.broker_set import BrokerSetAwareGoal, set_room
from kafka_medic.goals.constraint import Constraint, ForcedLoad
from kafka_medic.goals.leader import partition_name
from kafka_medic.model.placement import METRICS, Placement

if TYPE_CHECKING:
    from kafka_medic.optimizer.search import Search


class RackConstraint(Constraint["RackAwareGoal"]):
    """No move puts more replicas of a partition in one rack than the limit allows, or than its
    source's rack held before (a partition already over the limit may not get worse)."""

    def __init__(self, placement: Placement, can_receive: np.ndarray):
        super().__init__(placement, can_receive)
        self.limit = np.zeros(0, dtype=np.int64)
        self.rack = placement.arrays.rack
        self.racks = int(self.rack.max()) + 1 if len(self.rack) else 0

    def add(self, goal: RackAwareGoal) -> None:
        self.limit = goal.limits(self.placement)

    def homes(self, part: int, src: int, holders: np.ndarray, strict: bool) -> np.ndarray:
        racks = self.rack[holders]
        same_as_src = int((racks == self.rack[src]).sum())
        others = racks[holders != src]
        in_dst_rack = np.bincount(others, minlength=self.racks)[self.rack]
        allowed = self.limit[part] if strict else max(self.limit[part], same_as_src)
        return in_dst_rack + 1 <= allowed

    def forced_loads(self, metric: int) -> list[ForcedLoad]:
        """Each rack holds at most `limit` replicas of a partition, so at least RF - (racks - 1) x limit
        of them: with as many replicas as racks, one in each. The same amounts for every rack; a rack
        with less capacity than its share may not reach a band the others can."""
        p = self.placement
        holds = holding_brokers(p)
        racks = np.unique(self.rack[holds])
        if len(racks) < 2 or not len(self.limit):
            return []
        least_replicas = np.maximum(p.rf - (len(racks) - 1) * self.limit, 0)
        most_replicas = np.minimum(self.limit, p.rf)
        lightest = np.minimum(p.leader_vec[:, metric], p.follower_vec[:, metric])
        heaviest = np.maximum(p.leader_vec[:, metric], p.follower_vec[:, metric])
        least, most = float(least_replicas @ lightest), float(most_replicas @ heaviest)
        ids = p.arrays.broker_ids
        sets = [np.flatnonzero(holds & (self.rack == r)) for r in racks]
        return [ForcedLoad(f"the rack of brokers {describe([str(ids[b]) for b in s])}", s, least, most) for s in sets]

    def placeable(self, slots, src, parts, holders, dst, topic_counts) -> np.ndarray:
        racks = self.placement.racks_of(holders)
        src_rack = self.rack[src]
        same_as_src = (racks == src_rack[:, None]).sum(axis=1)
        in_dst_rack = (racks == self.rack[dst]).sum(axis=1) - (src_rack == self.rack[dst])
        return in_dst_rack + 1 <= np.maximum(self.limit[parts], same_as_src)


class RackAwareGoal(Goal):
    name, hard = "rack_aware", True
    constraint = RackConstraint

    def limits(self, placement: Placement) -> np.ndarray:
        """(P,) most replicas of each partition that one rack may hold."""
        racks = len(np.unique(placement.arrays.rack[holding_brokers(placement)]))
        if racks == 0:
            return np.full(len(placement.rf), np.iinfo(np.int64).max)
        return -(-placement.rf // racks)

    def check(self, placement: Placement) -> GoalResult:
        """Violation: number of replicas that share a rack beyond the limit, over all partitions."""
        excess = most_in_one_rack(placement, np.arange(len(placement.rf))) - self.limits(placement)
        bad = np.flatnonzero(excess > 0)
        names = [partition_name(placement, p) for p in bad[:1000]]
        detail = ""
        if len(bad):
            detail = f"{len(bad)} partitions with too many replicas in one rack: {describe(names)}"
        return GoalResult(
            self.name, self.hard, len(bad) == 0, float(excess[bad].sum()), partitions=names, detail=detail
        )

    def optimize(self, search: Search) -> None:
        search.spread_racks(self)

    def why_unmet(self, placement: Placement, movable: np.ndarray) -> str | None:
        """When partitions over the limit may not move."""
        bad = np.flatnonzero(most_in_one_rack(placement, np.arange(len(placement.rf))) > self.limits(placement))
        stuck = [partition_name(placement, part) for part in bad[~movable[bad]]]
        return f"they are offline or their topics are excluded from moves: {describe(stuck)}" if stuck else None

    def why_blocks(self, placement: Placement, goal: Goal) -> str | None:
        """A rack that cannot hold what rack awareness keeps in it (e.g. RF 3 on 3 racks: a dead
        broker's replicas can only go to its rack-mates), for a bounded goal after this one; a broker
        set in too few racks for its topic's replicas, for broker_set_aware."""
        if isinstance(goal, BrokerSetAwareGoal):
            limit = self.limits(placement)
            found = set_room(placement, limit)
            if found is None:
                return None
            part, in_racks, fit = found
            return (
                f"rack awareness allows {limit[part]} replica(s) of {partition_name(placement, part)} per rack, "
                f"and its broker set's brokers able to receive are in {in_racks} rack(s): {fit} of its "
                f"{placement.rf[part]} replicas fit"
            )
        if not isinstance(goal, BoundedGoal):
            return None
        p, a = placement, placement.arrays
        limit = self.limits(p)
        racks = np.unique(a.rack[a.holds_data])
        pinned = p.rf == limit * len(racks)  # at most `limit` per rack leaves exactly `limit` in each
        least = np.minimum(p.leader_vec[pinned, goal.metric], p.follower_vec[pinned, goal.metric])
        need = float((least * limit[pinned]).sum())
        upper = goal.limits(p)[1]
        for rack in racks:
            members = a.holds_data & (a.rack == rack)
            allowed = float(upper[members].sum())
            if need > allowed:
                brokers = ", ".join(str(b) for b in a.broker_ids[members])
                return (
                    f"rack awareness keeps {need:.6g} {METRICS[goal.metric]} in every rack, but the rack of "
                    f"brokers {brokers} allows {allowed:.6g}"
                )
        return None


def most_in_one_rack(placement: Placement, partitions: np.ndarray) -> np.ndarray:
    """(n,) largest number of replicas of each partition that share a rack."""
    brokers = placement.partition_brokers(partitions)
    if brokers.shape[1] == 0:
        return np.zeros(len(partitions), dtype=np.int64)
    pad = -1 - np.arange(brokers.shape[1])
    racks = np.where(brokers >= 0, placement.arrays.rack[np.maximum(brokers, 0)], pad[None, :])
    return (racks[:, :, None] == racks[:, None, :]).sum(axis=2).max(axis=1)
