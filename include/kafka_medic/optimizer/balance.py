"""Balancing one per-broker metric into its band: the optimize step of capacity, distribution and
leader-count goals (a mixin of `Search`).

For a broker above the band the search sheds load, for one below it pulls load in; leadership first
where the goal allows it (no data moves), then trades of leadership, then replicas, then swaps.
Candidate replicas are ranked by how much of the need they cover per MB they add to the plan (a
replica already moved once costs nothing to move on, so the plan never moves data twice when once
would do), and among the nearly cheapest, by how well they carry the mix of resources the broker
needs for the goals that follow.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kafka_medic.goals.bounded import BoundedConstraint, BoundedGoal, slack
from kafka_medic.model.arrays import CPU, DISK, NW_IN, NW_OUT
from kafka_medic.model.placement import LEADERS, REPLICAS
from kafka_medic.optimizer.ranked import RankedChoice
from kafka_medic.optimizer.state import SearchState

# passes over violating brokers per goal; later passes see replicas moved in earlier ones. Every move lowers
# the goal's violation and a pass that moves nothing ends them, so this only bounds a slow tail: four
# passes left disk at 1.10 max/mean on 20 brokers with three disk sizes and 2 new, a fifth met it
MAX_ROUNDS = 8
MAX_FAILED_TRIES = 48  # candidates without any destination before a broker is given up for this pass
MAX_SOURCES = 12  # brokers an under-loaded broker pulls load from
FILL_CANDIDATES = 4 * MAX_FAILED_TRIES  # fewer candidates than this from them: MAX_SOURCES more brokers,
FILL_SOURCES = 4 * MAX_SOURCES  # up to this many (a heal-only plan's few moved replicas stay few)
MAX_SWAPS = 64  # swaps (or leadership trades) per visit of a broker
NEAR = 0.1  # candidates within 10% of the cheapest for a goal count as equally cheap
MIX = [DISK, NW_IN, NW_OUT, CPU, REPLICAS, LEADERS]  # what a replica carries, to match it to what a broker lacks


class Balancing(SearchState):
    def balance(self, goal: BoundedGoal) -> None:
        """Shed load from brokers above the goal's band, then pull load onto brokers below it.

        For a band (distribution goals) a move need only lower the goal's total violation, so load may
        pass through a broker on its way; for a plain limit (capacity goals) no broker may cross it.
        """
        bounds = self.acceptance.constraint_of(goal)
        assert isinstance(bounds, BoundedConstraint)
        lower, upper = bounds.target()  # the goal's limits, or relaxed ones when it cannot hold
        self.band = (goal.metric, lower, upper) if np.isfinite(lower).any() else None
        bounds.exempt_last(self.band is not None)
        try:
            self._balance(goal, lower, upper)
        finally:
            bounds.exempt_last(False)
            self.band = None

    def _balance(self, goal: BoundedGoal, lower: np.ndarray, upper: np.ndarray) -> None:
        # leadership alone first (it moves no data), then replicas as well. A goal within its limits is
        # left there: moving it further inside them (to its `aim`) would only add moves to the plan.
        passes = [(True, False), (True, True)] if goal.uses_leadership else [(False, True)]
        for leaders, replicas in passes:
            if (replicas and not goal.uses_replicas) or goal.check(self.p).satisfied:
                break
            for _ in range(MAX_ROUNDS):
                if not self._balance_round(goal, lower, upper, leaders, replicas):
                    break

    def _balance_round(
        self, goal: BoundedGoal, lower: np.ndarray, upper: np.ndarray, leaders: bool, replicas: bool
    ) -> int:
        """One pass over the brokers outside the band, worst first; the number of moves made."""
        value = self.p.metrics[:, goal.metric]
        over = np.flatnonzero(value - upper > slack(upper))
        under = np.flatnonzero((lower - value > slack(lower)) & self.can_receive)
        scale = np.where(np.abs(upper) > 0, np.abs(upper), 1.0)
        moved = 0
        for src in over[np.argsort(-(value[over] - upper[over]) / scale[over], kind="stable")]:
            moved += self._shed(goal.metric, int(src), upper[src], leaders, replicas)
            if replicas and goal.hard and self.band is None:
                moved += self._swap_below_limit(goal.metric, int(src), upper[src])
        value = self.p.metrics[:, goal.metric]
        under = under[lower[under] - value[under] > slack(lower[under])]
        scale = np.where(np.abs(lower) > 0, np.abs(lower), 1.0)
        for dst in under[np.argsort(-(lower[under] - value[under]) / scale[under], kind="stable")]:
            moved += self._fill(goal.metric, int(dst), lower[dst], leaders, replicas)
        return moved

    def _shed(self, metric: int, src: int, limit: float, leaders: bool, replicas: bool) -> int:
        excess = self.p.metrics[src, metric] - limit
        tolerance = float(slack(np.array(limit)))
        moved = 0
        if leaders and excess > tolerance:
            excess, moved = self._shed_leadership(metric, src, excess, tolerance)
        if leaders and self.band is not None and excess > tolerance:
            moved += self._trade(metric, src, limit, tolerance, shed=True)
            excess = self.p.metrics[src, metric] - limit
        if replicas and excess > tolerance:
            moved += self._shed_replicas(metric, src, excess, tolerance)
        if replicas and self.band is not None:
            moved += self._swap(metric, src, limit, tolerance, shed=True)
        return moved

    def _swap_below_limit(self, metric: int, src: int, limit: float) -> int:
        """Swaps for what moves alone left of `src` above a hard limit (the capacity goals): a broker
        full in another resource takes a replica only for one about as large back. Without them a plan
        fails where an operator would exchange two replicas by hand (30 brokers at 79% of their disk
        limit: no replica could leave the brokers above their nw_in limit alone)."""
        tolerance = float(slack(np.array(limit)))
        if self.p.metrics[src, metric] - limit <= tolerance:
            return 0
        return self._swap(metric, src, limit, tolerance, shed=True)

    def _fill(self, metric: int, dst: int, limit: float, leaders: bool, replicas: bool) -> int:
        deficit = limit - self.p.metrics[dst, metric]
        tolerance = float(slack(np.array(limit)))
        moved = 0
        if leaders and deficit > tolerance:
            deficit, moved = self._fill_leadership(metric, dst, deficit, tolerance)
        if leaders and self.band is not None and deficit > tolerance:
            moved += self._trade(metric, dst, limit, tolerance, shed=False)
            deficit = limit - self.p.metrics[dst, metric]
        if replicas and deficit > tolerance:
            moved += self._fill_replicas(metric, dst, deficit, tolerance)
        if replicas and self.band is not None:
            moved += self._swap(metric, dst, limit, tolerance, shed=False)
        return moved

    def _trade(self, metric: int, broker: int, limit: float, tolerance: float, shed: bool) -> int:
        """Leadership trades until `broker` reaches `limit`: two-way trades keep the leader count and
        move the other loads, so the count itself needs three-way exchanges. How many were made."""
        trades = 0
        while trades < MAX_SWAPS and not self.acceptance.leadership_fixed:
            need = self.p.metrics[broker, metric] - limit if shed else limit - self.p.metrics[broker, metric]
            if need <= tolerance:
                break
            moves: Sequence[tuple[int, int]] | None
            if metric == LEADERS:
                moves = self._best_exchange(broker, shed)
            else:
                moves = self._best_leadership_trade(metric, broker, need, shed)
            if moves is None:
                break
            for part, slot in moves:
                self._lead(part, slot)
            trades += 1
        return trades

    def _shed_replicas(self, metric: int, src: int, excess: float, tolerance: float) -> int:
        slots = self.movable_slots(src)
        vectors = self.p.slot_vectors(slots)
        keep = vectors[:, metric] > 0
        slots, vectors = slots[keep], vectors[keep]
        load, cost = vectors[:, metric], self._cost(slots)
        dense = self._dense_enough(load, cost, metric)
        slots, vectors, load, cost = slots[dense], vectors[dense], load[dense], cost[dense]
        untried = np.ones(len(slots), dtype=bool)
        # which may leave src at all: src's room only shrinks as it sheds, so a replica that may not
        # leave now never will here, and needs no look at the destinations
        leaves = self.acceptance.change_ok(src, -vectors)
        moved = failures = 0
        like = self._likeness(src, vectors, metric, surplus=True)
        # replicas of topics crowded on src first, while the topic goal is ahead (see `_fill_replicas`)
        crowded = self._topic_crowded(slots)
        topics = self.p.arrays.partition_topic[self.p.slot_partition[slots]]
        worth: tuple[np.ndarray, np.ndarray] | None = None  # `_choose`'s value and fit while excess holds
        # a plain limit (the capacity goals, all hard) tries every candidate before giving up: a plan
        # failed for want of trying would call a cluster that can be healed unhealable (4 brokers, RF 3:
        # the first 48 replicas tried on a full broker all had their partition on the one with room)
        patience = MAX_FAILED_TRIES if self.band is not None else len(slots)
        while excess > tolerance and failures < patience and untried.any():
            if worth is None:
                fit = covered(load, excess)
                worth = fit / (cost + self.cost_floor), fit / excess
            first = untried & crowded
            c = self._choose(worth[0], worth[1], like, first if first.any() else untried)
            untried[c] = False
            mask = (
                self.acceptance.destinations(slots[c], vectors[c])
                if leaves[c] and self._budget_allows(slots[c])
                else None
            )
            if mask is not None and self.band is not None and mask.any():
                open_ = np.flatnonzero(mask)  # the band asked of the destinations left only
                mask[open_] = self._band_improves(np.array([src]), open_, load[c])
            if mask is None or not mask.any():
                failures += 1
                continue
            self._move(slots[c], self._pick(mask, metric, vectors[c], int(slots[c])))
            excess -= load[c]
            worth = None
            moved += 1
            if crowded[c]:
                same = topics == topics[c]
                crowded[same] = self._topic_crowded(slots[same])
        return moved

    def _fill_replicas(self, metric: int, dst: int, deficit: float, tolerance: float) -> int:
        """Pull replicas to `dst` from the brokers with the most of `metric` relative to their share.

        Candidates come in tiers (`_in_tier`, best first) while the topic goal is still ahead: replicas whose
        topic has room on `dst` and is crowded where it is first, then those with room, then the rest.
        A count goal takes its cheapest replicas whatever their topic otherwise, and the topic goal moves
        about as many again to spread the topics back (150 brokers, 20k partitions: 2,883 replicas
        outside their topic's band before the plan, 5,397 after the replica count goal; 1,380 with tiers and
        `_shed_replicas` taking crowded topics first).
        """
        p = self.p
        slots, vectors = self._fill_candidates(metric, dst)
        if not len(slots):
            return 0
        src, parts = p.slot_broker[slots], p.slot_partition[slots]
        topics = p.arrays.partition_topic[parts]
        load, cost = vectors[:, metric], self._cost(slots)
        if metric != DISK:
            cost = cost - self._disk_credit(cost, src, dst, deficit / self.mean_replica[metric])
        like = self._likeness(dst, vectors, metric, surplus=False)
        # a count: every candidate covers the same, so rank them once; a resource: rank them by load per
        # MB while the deficit covers every load (see `ranked`)
        uniform = len(load) > 0 and bool((load == load[0]).all())
        value = 1.0 / (cost + self.cost_floor) if uniform else load / (cost + self.cost_floor)
        # candidates of one partition (one topic when moves couple topics or tiers go by topic), found
        # without a pass over all
        group = topics if self.acceptance.couples_topic or self.topic_room is not None else parts
        by_group = np.argsort(group, kind="stable")
        grouped = group[by_group]
        closed = np.zeros(len(slots), dtype=bool)  # tried, or no longer placeable on dst
        # which may move at all: a broker's room to give only shrinks as it gives, dst's room to take
        # as it takes, and a move gains the band less as dst fills, so what is refused now is refused
        # throughout and needs no second look
        may = self.acceptance.fits(vectors, src, dst)
        if self.band is not None:
            may &= self._band_improves(src, np.array([dst]), load)
        moved = 0
        worth: tuple[np.ndarray, np.ndarray] | None = None
        ranked = RankedChoice(value, like, NEAR, load=None if uniform else load)
        for tier in (2, 1, 0) if self.topic_room is not None else (0,):
            open_ = ~closed & self._in_tier(tier, slots, dst)
            left = int(open_.sum())  # open candidates
            ranked.restart()  # a tier opens candidates the one before did not
            failures = 0
            while deficit > tolerance and failures < MAX_FAILED_TRIES and left:
                if uniform:
                    c = ranked.choose(open_) if covered(load[0], deficit) > 0 else None
                else:
                    c = ranked.choose_covering(open_, deficit)
                if c is None:
                    if worth is None:  # `_choose`'s value and fit while deficit holds
                        fit = covered(load, deficit)
                        worth = fit / (cost + self.cost_floor), fit / deficit
                    c = self._choose(worth[0], worth[1], like, open_)
                open_[c], closed[c] = False, True
                left -= 1
                one = slice(c, c + 1)
                fits = may[c] and self._budget_allows(slots[c]) and self.acceptance.fits(vectors[one], src[one], dst)[0]
                if self.band is not None and fits:
                    fits = self._band_improves_one(int(src[c]), dst, float(load[c]))
                if not fits:
                    failures += 1
                    continue
                self._move(slots[c], dst)
                deficit -= load[c]
                worth = None
                moved += 1
                # what `placeable` (and the tier) said about the moved slot's partition or topic is now stale
                stale = by_group[np.searchsorted(grouped, group[c]) : np.searchsorted(grouped, group[c], side="right")]
                stale = stale[~closed[stale]]
                closed[stale] = ~self.acceptance.placeable(slots[stale], dst)
                was_open = int(open_[stale].sum())
                open_[stale] = ~closed[stale] & self._in_tier(tier, slots[stale], dst)
                left -= was_open - int(open_[stale].sum())
        return moved

    def _fill_candidates(self, metric: int, dst: int) -> tuple[np.ndarray, np.ndarray]:
        """(slots, their vectors) that may move to `dst` now, carrying some `metric`: those of the
        MAX_SOURCES brokers with the most of it relative to their share, then of the next MAX_SOURCES
        (FILL_SOURCES brokers at most) while fewer than FILL_CANDIDATES were found and `dst` could take
        fewer than half of the last ones' candidates. So a broker that only some brokers can feed still
        finds them: with as many replicas as racks, only its own rack's (31 brokers in 3 racks, one of
        them dead: the 12 fullest brokers were mostly of another rack, and an empty broker got about
        100 replicas where its rack's others hold 272)."""
        p = self.p
        share = p.metrics[:, metric] / self.fair[:, metric]
        sources = np.flatnonzero((share > share[dst]) & p.arrays.holds_data)
        sources = sources[np.argsort(-share[sources], kind="stable")]
        slots, vectors = [np.zeros(0, dtype=np.int64)], [np.zeros((0, p.metrics.shape[1]))]
        found = 0
        for start in range(0, min(len(sources), FILL_SOURCES), MAX_SOURCES):
            some = np.concatenate([self.movable_slots(int(b)) for b in sources[start : start + MAX_SOURCES]])
            loads = p.slot_vectors(some)
            keep = (loads[:, metric] > 0) & self._budget_allows_all(some)
            asked = int(keep.sum())
            keep[keep] = self.acceptance.placeable(some[keep], dst)
            slots.append(some[keep])
            vectors.append(loads[keep])
            found += int(keep.sum())
            if found >= FILL_CANDIDATES or 2 * keep.sum() >= asked:  # enough, or dst takes most of theirs
                break
        return np.concatenate(slots), np.concatenate(vectors)

    def _disk_credit(self, cost: np.ndarray, src: np.ndarray, dst: int, replicas: float) -> np.ndarray | float:
        """(n,) MB of each move's cost that the disk goal, while it is still ahead, would move anyway: data
        off a source above its disk band onto `dst` below it, up to dst's shortfall shared over the
        `replicas` it is still to receive. So a count goal filling a new broker takes replicas that the disk
        goal wants there rather than the smallest, which that goal would then swap out again (20 synthetic
        models, 20-50 brokers: 2.6% less data moved in all, the same goals met)."""
        if self.disk_band is None:
            return 0.0
        lower, upper = self.disk_band
        disk = self.p.metrics[:, DISK]
        share = max(lower[dst] - disk[dst], 0.0) / max(replicas, 1.0)
        return np.minimum(np.minimum(cost, share), np.maximum(disk[src] - upper[src], 0.0))

    def _shed_leadership(self, metric: int, src: int, excess: float, tolerance: float) -> tuple[float, int]:
        p = self.p
        slots = p.slots_on(src)
        parts = p.slot_partition[slots]
        parts = parts[(p.leader_slot[parts] == slots) & self.movable[parts]]
        delta = p.leadership_delta(parts)
        keep = delta[:, metric] > 0
        parts, delta = parts[keep], delta[keep]
        # every (partition, follower) pair is a candidate leadership move
        followers = p.part_slots[parts]
        row, col = np.nonzero((followers >= 0) & (followers != p.leader_slot[parts][:, None]))
        new_slot = followers[row, col]
        new_broker = p.slot_broker[new_slot]
        share = p.metrics[:, metric] / self.fair[:, metric]
        like = self._likeness(src, delta[row], metric, surplus=True) - 0.01 * share[new_broker]
        open_part = np.ones(len(parts), dtype=bool)
        moved = 0
        while excess > tolerance and len(row):
            ok = open_part[row] & self.acceptance.leadership_ok(
                delta[row], np.full(len(row), src), new_broker
            )
            if self.band is not None:
                ok &= self._band_improves(np.array([src]), new_broker, delta[row, metric])
            if not ok.any():
                break
            fit = covered(delta[row, metric], excess) / excess
            c = self._choose(fit, fit, like, ok)
            self._lead(int(parts[row[c]]), int(new_slot[c]))
            open_part[row[c]] = False
            excess -= delta[row[c], metric]
            moved += 1
        return excess, moved

    def _fill_leadership(self, metric: int, dst: int, deficit: float, tolerance: float) -> tuple[float, int]:
        p = self.p
        slots, parts, old = self._followed(dst)
        delta = p.leadership_delta(parts)
        share = p.metrics[:, metric] / self.fair[:, metric]
        like = self._likeness(dst, delta, metric, surplus=False) + 0.01 * share[old]
        open_part = delta[:, metric] > 0
        moved = 0
        while deficit > tolerance and open_part.any():
            ok = open_part & self.acceptance.leadership_ok(delta, old, np.full(len(parts), dst))
            if self.band is not None:
                ok &= self._band_improves(old, np.array([dst]), delta[:, metric])
            if not ok.any():
                break
            fit = covered(delta[:, metric], deficit) / deficit
            c = self._choose(fit, fit, like, ok)
            self._lead(int(parts[c]), int(slots[c]))
            open_part[c] = False
            deficit -= delta[c, metric]
            moved += 1
        return deficit, moved

    def _followed(self, broker: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(slots, partitions, leaders' brokers) of the online, movable partitions `broker` follows:
        the leaderships it could take."""
        p = self.p
        slots = p.slots_on(broker)
        parts = p.slot_partition[slots]
        follows = (p.leader_slot[parts] >= 0) & (p.leader_slot[parts] != slots) & self.movable[parts]
        slots, parts = slots[follows], parts[follows]
        return slots, parts, p.slot_broker[p.leader_slot[parts]]

    def _handoffs(self, broker: int) -> tuple[np.ndarray, np.ndarray]:
        """(partitions, follower slots), one pair per follower of each online, movable partition `broker`
        leads: the leaderships it could hand on (`_followed` is the other way)."""
        p = self.p
        slots = p.slots_on(broker)
        parts = p.slot_partition[slots]
        parts = parts[(p.leader_slot[parts] == slots) & self.movable[parts]]
        followers = p.part_slots[parts]
        row, col = np.nonzero((followers >= 0) & (followers != p.leader_slot[parts][:, None]))
        return parts[row], followers[row, col]

    def _band_improves(self, src: np.ndarray, dst: np.ndarray, load: np.ndarray | float) -> np.ndarray:
        """Whether moving `load` of the banded metric from `src` to `dst` lowers the goal's total
        violation (arguments broadcast). Only while a band is balanced."""
        assert self.band is not None
        metric, lower, upper = self.band
        value = self.p.metrics[:, metric]
        v_src, low_src, up_src = value[src], lower[src], upper[src]
        v_dst, low_dst, up_dst = value[dst], lower[dst], upper[dst]
        before = outside(v_src, low_src, up_src) + outside(v_dst, low_dst, up_dst)
        after = outside(v_src - load, low_src, up_src) + outside(v_dst + load, low_dst, up_dst)
        return after < before - 1e-9 * (1.0 + np.abs(load))

    def _band_improves_one(self, src: int, dst: int, load: float) -> bool:
        """`_band_improves` for one move, in Python floats (the same operations in the same order, so
        the same answer): a fill asks it of every candidate it tries, where numpy's per-call cost on
        one element is most of the time."""
        assert self.band is not None
        metric, lower, upper = self.band
        v_src, v_dst = float(self.p.metrics[src, metric]), float(self.p.metrics[dst, metric])
        low_src, up_src, low_dst, up_dst = float(lower[src]), float(upper[src]), float(lower[dst]), float(upper[dst])
        before = _outside_one(v_src, low_src, up_src) + _outside_one(v_dst, low_dst, up_dst)
        after = _outside_one(v_src - load, low_src, up_src) + _outside_one(v_dst + load, low_dst, up_dst)
        return after < before - 1e-9 * (1.0 + abs(load))

    def _choose(self, value: np.ndarray, fit: np.ndarray, like: np.ndarray, allowed: np.ndarray) -> int:
        """Among allowed candidates within NEAR of the best `value` (how much of the goal's need a move
        covers per MB it adds to the plan), the one with the best `like` plus `fit` (share of the need
        it covers, so fewer moves win).

        So each goal takes moves that are nearly its cheapest but that also carry the mix of resources
        the later goals want; for counts, where every replica covers the same, the mix decides alone.
        """
        value = np.where(allowed, value, -np.inf)
        best = value.max()
        near = value >= best - NEAR * abs(best)
        return int(np.argmax(np.where(near, like + fit, -np.inf)))

    def _likeness(self, broker: int, vectors: np.ndarray, metric: int, surplus: bool) -> np.ndarray:
        """(n,) how closely each replica's mix of resources (and count) per unit of `metric` matches
        what `broker` has too much (`surplus`) or too little of per unit of `metric`: minus a squared
        distance, each resource in units of the cluster's mean replica."""
        gap = self.p.metrics[broker] - self.fair[broker]
        if not surplus:
            gap = -gap
        unit = self.mean_replica[metric]
        wanted = np.maximum(gap[MIX], 0.0) / max(gap[metric], 1e-12 * unit)
        carried = vectors[:, MIX] / np.maximum(vectors[:, metric : metric + 1], 1e-12 * unit)
        return -(((carried - wanted) * unit / self.mean_replica[MIX]) ** 2).sum(axis=1)


def outside(value, lower, upper):
    """Distance of `value` outside [lower, upper] (0 inside)."""
    return np.maximum(value - upper, 0.0) + np.maximum(lower - value, 0.0)


def _outside_one(value: float, lower: float, upper: float) -> float:
    """`outside` of one value, in Python floats."""
    return max(value - upper, 0.0) + max(lower - value, 0.0)


def covered(load: np.ndarray, need: float) -> np.ndarray:
    """How much of `need` a move of `load` covers, minus any overshoot: best when load == need."""
    return need - np.abs(need - load)
