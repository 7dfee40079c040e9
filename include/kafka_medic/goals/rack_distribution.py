"""Hard rack-aware distribution: each partition's replicas spread as evenly as possible over the racks.

Cruise Control's RackAwareDistributionGoal. Per partition, over the racks that have a broker able to
keep data ("alive racks", R of them), the replica counts per rack differ by at most one: every alive
rack holds floor(RF / R) or ceil(RF / R) replicas (RF <= R: no two replicas share a rack).

How it differs from `rack_aware` (`goals.rack`): that goal only caps each rack at ceil(RF / R)
replicas, which when RF > R still lets a rack go empty. RF 4 on 3 racks: `rack_aware` accepts 2-2-0
(a rack holds no copy), this goal wants 2-1-1; RF 6 on 4 racks: 2-2-2-0 versus 2-2-1-1. With RF <= R,
or RF a multiple of R, the two agree. Since a spread within [floor, ceil] is also within the cap, a
placement meeting this goal meets `rack_aware`; list this one (it is not in the default list) when a
rack must never be left without a copy of a partition while racks are fewer than replicas.
Brokers without a rack count as racks of their own, as in `rack_aware`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kafka_medic.goals.base import Goal, GoalResult, describe
from kafka_medic.goals.bounded import alive_racks
from kafka_medic.goals.broker_set import BrokerSetAwareGoal, set_room
from kafka_medic.goals.constraint import Constraint
from kafka_medic.goals.leader import partition_name
from kafka_medic.model.placement import Placement

if TYPE_CHECKING:
    from kafka_medic.optimizer.search import Search


class RackDistributionConstraint(Constraint["RackAwareDistributionGoal"]):
    """A move takes one replica from the source's rack and adds one to the destination's; it is
    accepted when the partition's distance from its band (replicas above ceil in any rack plus
    replicas missing below floor in alive racks) does not grow; strict (the goal's own step), when it
    shrinks and neither rack moves away from the band."""

    def __init__(self, placement: Placement, can_receive: np.ndarray):
        super().__init__(placement, can_receive)
        self.rack = placement.arrays.rack
        self.racks = int(self.rack.max()) + 1 if len(self.rack) else 0
        self.lower = self.upper = np.zeros(0, dtype=np.int64)
        self.alive_rack = np.zeros(self.racks, dtype=bool)

    def add(self, goal: RackAwareDistributionGoal) -> None:
        self.lower, self.upper = goal.limits(self.placement)
        self.alive_rack = alive_racks(self.placement)

    def _src_term(self, count: np.ndarray, rack: np.ndarray, lower, upper) -> np.ndarray:
        """+1 when a rack holding `count` replicas falls below its floor by losing one, -1 when it
        leaves its excess, else 0."""
        return (self.alive_rack[rack] & (count <= lower)).astype(np.int64) - (count > upper)

    def _dst_term(self, count: np.ndarray, rack: np.ndarray, lower, upper) -> np.ndarray:
        """+1 when a rack holding `count` (without the moving replica) goes over its ceiling by gaining
        one, -1 when it fills a missing replica, else 0."""
        return (count >= upper).astype(np.int64) - (self.alive_rack[rack] & (count < lower))

    def homes(self, part: int, src: int, holders: np.ndarray, strict: bool) -> np.ndarray:
        lower, upper = self.lower[part], self.upper[part]
        counts = np.bincount(self.rack[holders], minlength=self.racks)
        src_rack = self.rack[src]
        leave = self._src_term(counts[src_rack], src_rack, lower, upper)
        counts[src_rack] -= 1
        arrive = self._dst_term(counts[self.rack], self.rack, lower, upper)
        if strict:
            return (arrive <= 0) & (leave <= 0) & (arrive + leave < 0)
        return arrive + leave <= 0

    def placeable(self, slots, src, parts, holders, dst, topic_counts) -> np.ndarray:
        racks = self.placement.racks_of(holders)
        src_rack, dst_rack = self.rack[src], self.rack[dst]
        on_src = (racks == src_rack[:, None]).sum(axis=1)
        on_dst = (racks == dst_rack).sum(axis=1) - (src_rack == dst_rack)
        lower, upper = self.lower[parts], self.upper[parts]
        leave = self._src_term(on_src, src_rack, lower, upper)
        arrive = self._dst_term(on_dst, np.full(len(parts), dst_rack), lower, upper)
        return arrive + leave <= 0


class RackAwareDistributionGoal(Goal):
    name, hard = "rack_aware_distribution", True
    constraint = RackDistributionConstraint

    def limits(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        """(lower[P], upper[P]) replicas of each partition an alive rack holds at least and any rack at most."""
        racks = int(alive_racks(placement).sum())
        if racks == 0:
            return np.zeros(len(placement.rf), dtype=np.int64), np.full(len(placement.rf), np.iinfo(np.int64).max)
        return placement.rf // racks, -(-placement.rf // racks)

    def distance(self, placement: Placement, partitions: np.ndarray) -> np.ndarray:
        """(n,) replicas above the ceiling in any rack plus replicas missing below the floor in alive racks."""
        lower, upper = (limit[partitions] for limit in self.limits(placement))
        counts = rack_counts(placement, partitions)
        alive = alive_racks(placement)
        over = np.maximum(counts - upper[:, None], 0).sum(axis=1)
        under = np.where(alive[None, :], np.maximum(lower[:, None] - counts, 0), 0).sum(axis=1)
        return over + under

    def check(self, placement: Placement) -> GoalResult:
        """Violation: replicas above a rack's ceiling plus replicas missing below a rack's floor, summed
        over partitions."""
        distance = self.distance(placement, np.arange(len(placement.rf)))
        bad = np.flatnonzero(distance > 0)
        names = [partition_name(placement, p) for p in bad[:1000]]
        detail = f"{len(bad)} partitions unevenly spread over racks: {describe(names)}" if len(bad) else ""
        return GoalResult(
            self.name, self.hard, len(bad) == 0, float(distance.sum()), partitions=names, detail=detail
        )

    def optimize(self, search: Search) -> None:
        """Per uneven partition, move a replica from its fullest rack to a broker of its emptiest one,
        followers first (leadership stays put); until the partition is even or no
        broker accepts a move."""
        p, rack = search.p, search.p.arrays.rack
        alive = alive_racks(p)
        lower, upper = self.limits(p)
        for part in np.flatnonzero(self.distance(p, np.arange(len(p.rf))) > 0):
            if not search.movable[part]:
                continue
            for _ in range(int(p.rf[part])):
                counts = np.bincount(rack[p.brokers_of(int(part))], minlength=len(alive))
                short = alive & (counts < lower[part])
                if counts.max() <= upper[part] and not short.any():
                    break
                slots = np.arange(p.start[part], p.start[part + 1])
                # take from racks over the ceiling, else (to fill a short rack) from racks above the floor
                full = counts > (upper[part] if counts.max() > upper[part] else lower[part])
                crowded = slots[full[rack[p.slot_broker[slots]]]]
                order = np.argsort(p.leader_slot[part] == crowded, kind="stable")
                prefer = short[rack] if short.any() else counts[rack] < upper[part]
                if all(search.move_anywhere(int(s), strict=True, prefer=prefer) is None for s in crowded[order]):
                    break

    def why_blocks(self, placement: Placement, goal: Goal) -> str | None:
        """A broker set in too few racks to spread its topic's replicas evenly, for broker_set_aware."""
        if not isinstance(goal, BrokerSetAwareGoal):
            return None
        lower, upper = self.limits(placement)
        found = set_room(placement, upper, lower)
        if found is None:
            return None
        part, racks, fit = found
        return (
            f"rack_aware_distribution wants {lower[part]}-{upper[part]} replicas of "
            f"{partition_name(placement, part)} in each of the {int(alive_racks(placement).sum())} racks, and "
            f"its broker set's brokers able to receive are in {racks}: {fit} of its {placement.rf[part]} replicas fit"
        )

    def why_unmet(self, placement: Placement, movable: np.ndarray) -> str | None:
        """Partitions that may not move, or a rack with too few brokers for its share."""
        bad = np.flatnonzero(self.distance(placement, np.arange(len(placement.rf))) > 0)
        stuck = [partition_name(placement, part) for part in bad[~movable[bad]]]
        if stuck:
            return f"they are offline or their topics are excluded from moves: {describe(stuck)}"
        a = placement.arrays
        brokers = np.bincount(a.rack[a.holds_data & ~a.excluded], minlength=len(alive_racks(placement)))
        lower, _ = self.limits(placement)
        needs = int(lower[bad].max()) if len(bad) else 0
        small = np.flatnonzero(alive_racks(placement) & (brokers < needs))
        if len(small):
            have = int(brokers[small[0]])
            return f"a rack needs {needs} replicas of a partition but has {have} brokers able to take them"
        return None


def rack_counts(placement: Placement, partitions: np.ndarray) -> np.ndarray:
    """(n, racks) replicas of each partition in each rack."""
    rack = placement.arrays.rack
    racks = int(rack.max()) + 1 if len(rack) else 0
    brokers = placement.partition_brokers(partitions)
    rows = np.repeat(np.arange(len(partitions)), brokers.shape[1])
    flat = brokers.ravel()
    keep = flat >= 0
    counts = np.zeros((len(partitions), racks), dtype=np.int64)
    np.add.at(counts, (rows[keep], rack[flat[keep]]), 1)
    return counts
