"""The move search: empties dead brokers, then optimizes each goal in priority order.

For a broker above a goal's limit the search sheds load (leadership first where that helps, since it
moves no data), for a broker below it pulls load in. Candidate replicas are ranked by how well they fit
the excess per MB they would add to the plan (a replica already moved once costs nothing to move on,
so the plan never moves data twice when once would do); destinations are all brokers at once, filtered
by `Acceptance` and ranked by utilisation relative to their fair share after the move.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.errors import MedicError
from kafka_medic.goals.base import Goal, GoalResult, describe
from kafka_medic.goals.bounded import BoundedGoal, slack
from kafka_medic.goals.leader import PreferredLeaderElectionGoal, not_preferred, partition_name
from kafka_medic.goals.rack import RackAwareGoal, most_in_one_rack
from kafka_medic.goals.topic import TopicReplicaDistributionGoal, topic_broker_counts
from kafka_medic.model.arrays import CPU, DISK, NW_IN, NW_OUT
from kafka_medic.model.placement import LEADER_NW_IN, LEADERS, METRICS, POTENTIAL_NW_OUT, REPLICAS, Placement
from kafka_medic.optimizer.acceptance import Acceptance

MAX_ROUNDS = 4  # passes over violating brokers per goal; later passes see replicas moved in earlier ones
MAX_FAILED_TRIES = 48  # candidates without any destination before a broker is given up for this pass
MAX_SOURCES = 12  # brokers an under-loaded broker pulls load from
RESOURCE_COLUMNS = [DISK, NW_IN, NW_OUT, CPU]
SCORED = [*RESOURCE_COLUMNS, REPLICAS]  # what "a lightly loaded destination" means
MIX = SCORED  # what a replica carries, for matching it to what a broker lacks
SWAP_PARTNERS = 4  # brokers at the other end of the band a broker tries to swap with
SWAP_CANDIDATES = 32  # replicas per side considered for a swap (so 32 x 32 pairs)
MAX_SWAPS = 16  # swaps with one partner per visit
NEAR = 0.1  # candidates within 10% of the cheapest for a goal count as equally cheap
EVACUATION = "evacuation"


class PlanError(MedicError):
    """A hard goal cannot be met; the message names the goal and the brokers or partitions in the way."""


class Search:
    def __init__(
        self,
        placement: Placement,
        can_receive: np.ndarray,
        movable: np.ndarray,
        max_replica_moves: int | None,
        seed: int,
    ):
        self.p = placement
        self.can_receive = can_receive
        self.movable = movable
        self.max_replica_moves = max_replica_moves
        self.acceptance = Acceptance(placement, can_receive)
        self.fair = _fair_share(placement)
        self.inverse_fair = 1.0 / self.fair
        # sum over SCORED of load / fair share, per broker: the base of every destination score
        self.crowding = (placement.metrics[:, SCORED] * self.inverse_fair[:, SCORED]).sum(axis=1)
        self.jitter = np.random.default_rng(seed).random(placement.num_brokers) * 1e-9
        disk = placement.arrays.leader_load[:, DISK]
        self.cost_floor = 0.01 * float(disk.mean()) + 1e-6 if len(disk) else 1.0
        totals = placement.metrics.sum(axis=0)
        self.mean_replica = np.maximum(totals / max(totals[REPLICAS], 1.0), 1e-9)  # per METRICS column
        self.band: tuple[int, np.ndarray, np.ndarray] | None = None  # (metric, lower, upper) being balanced
        self.reasons: list[str] = [EVACUATION]
        self.reason = np.full(placement.arrays.num_partitions, -1, dtype=np.int64)

    # ---- driver --------------------------------------------------------------------------------

    def run(self, goals: list[Goal]) -> None:
        self.evacuate(goals)
        for goal in goals:
            self.reasons.append(goal.name)
            self.acceptance.add(goal)
            goal.optimize(self)
            if goal.hard:
                result = goal.check(self.p)
                if not result.satisfied:
                    raise PlanError(self._explain(goal, result))

    def reason_names(self) -> list[str | None]:
        """(P,) the goal (or evacuation) that first changed each partition, None if unchanged."""
        return [self.reasons[i] if i >= 0 else None for i in self.reason]

    # ---- evacuation ----------------------------------------------------------------------------

    def evacuate(self, goals: list[Goal]) -> None:
        """Move every replica off dead and decommissioned brokers, biggest first.

        Destinations honour the hard goals when they can (rack spread, capacity), so the goals that
        follow have less to repair; when no broker does, rack spread and then capacity are relaxed.
        """
        p = self.p
        slots = np.flatnonzero(~p.arrays.holds_data[p.slot_broker])
        if not len(slots):
            return
        if self.max_replica_moves is not None and len(slots) > self.max_replica_moves:
            raise PlanError(
                f"{len(slots)} replicas must leave dead or decommissioned brokers, "
                f"more than max_replica_moves={self.max_replica_moves}"
            )
        strict = Acceptance(p, self.can_receive)
        spread = Acceptance(p, self.can_receive)
        for goal in goals:
            if goal.hard:
                strict.add(goal)
            if isinstance(goal, RackAwareGoal):
                spread.add(goal)
        for slot in slots[np.argsort(-p.arrays.leader_load[p.slot_partition[slots], DISK], kind="stable")]:
            vector = p.slot_vector(slot)
            mask = strict.destinations(slot, vector)
            if not mask.any():
                mask = spread.destinations(slot, vector)
            if not mask.any():
                mask = self.can_receive.copy()
                mask[p.brokers_of(p.slot_partition[slot])] = False
            if not mask.any():
                raise PlanError(self._no_home(slot))
            src, dst = int(p.slot_broker[slot]), self._pick(mask, DISK, vector)
            self._move(slot, dst, reason=0)
            strict.refresh([src, dst])
            spread.refresh([src, dst])

    # ---- bounded goals -------------------------------------------------------------------------

    def balance(self, goal: BoundedGoal) -> None:
        """Shed load from brokers above the goal's band, then pull load onto brokers below it.

        For a band (distribution goals) a move need only lower the goal's total violation, so load may
        pass through a broker on its way; for a plain limit (capacity goals) no broker may cross it.
        """
        lower, upper = goal.limits(self.p)
        self.band = (goal.metric, lower, upper) if np.isfinite(lower).any() else None
        self.acceptance.exempt_last(self.band is not None)
        try:
            self._balance(goal, lower, upper)
        finally:
            self.acceptance.exempt_last(False)
            self.band = None

    def _balance(self, goal: BoundedGoal, lower: np.ndarray, upper: np.ndarray) -> None:
        # leadership alone first (it moves no data), then replicas as well
        passes = [(True, False), (True, True)] if goal.uses_leadership else [(False, True)]
        for leaders, replicas in passes:
            if not goal.uses_replicas and replicas:
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
        if replicas and excess > tolerance:
            moved += self._shed_replicas(metric, src, excess, tolerance)
        if replicas and self.band is not None:
            moved += self._swap(metric, src, limit, tolerance, shed=True)
        return moved

    def _fill(self, metric: int, dst: int, limit: float, leaders: bool, replicas: bool) -> int:
        deficit = limit - self.p.metrics[dst, metric]
        tolerance = float(slack(np.array(limit)))
        moved = 0
        if leaders and deficit > tolerance:
            deficit, moved = self._fill_leadership(metric, dst, deficit, tolerance)
        if replicas and deficit > tolerance:
            moved += self._fill_replicas(metric, dst, deficit, tolerance)
        if replicas and self.band is not None:
            moved += self._swap(metric, dst, limit, tolerance, shed=False)
        return moved

    def _swap(self, metric: int, broker: int, limit: float, tolerance: float, shed: bool) -> int:
        """Exchange replicas with the brokers at the other end of the band when moves alone cannot help
        (typically because a move would break an earlier goal, such as replica counts).

        Shedding, `broker` gives a replica heavy in `metric` for a light one from one of the least
        loaded brokers; filling, the reverse. Every bounded goal must accept the net change on both
        brokers, and the goal being balanced must gain.
        """
        p = self.p
        share = p.metrics[:, metric] / self.fair[:, metric]
        partners = np.flatnonzero(
            self.can_receive & (share < share[broker] if shed else share > share[broker])
        )
        partners = partners[np.argsort(share[partners] if shed else -share[partners], kind="stable")]
        swaps = 0
        for partner in partners[:SWAP_PARTNERS]:
            while swaps < MAX_SWAPS:
                need = p.metrics[broker, metric] - limit if shed else limit - p.metrics[broker, metric]
                if need <= tolerance:
                    return swaps
                heavy_on, light_on = (broker, int(partner)) if shed else (int(partner), broker)
                pair = self._best_swap(metric, heavy_on, light_on, need)
                if pair is None:
                    break
                self._move(pair[0], light_on)
                self._move(pair[1], heavy_on)
                swaps += 1
        return swaps

    def _best_swap(self, metric: int, heavy_on: int, light_on: int, need: float) -> tuple[int, int] | None:
        """The slots (a on `heavy_on`, b on `light_on`) whose exchange moves nearest `need` of `metric`
        from heavy_on to light_on per MB, accepted by every goal; None if there is none."""
        heavy, hv = self._swap_side(heavy_on, light_on, metric, largest=True)
        light, lv = self._swap_side(light_on, heavy_on, metric, largest=False)
        if not len(heavy) or not len(light):
            return None
        delta = hv[:, None, :] - lv[None, :, :]  # what heavy_on loses and light_on gains, per pair
        gain = delta[:, :, metric]
        ok = (gain > 0) & (self.p.slot_partition[heavy][:, None] != self.p.slot_partition[light][None, :])
        a = self.acceptance
        columns = a.columns[: a.k]
        d = delta[:, :, columns]
        ok &= (np.where(d > 0, d - a.room_down[heavy_on, : a.k], -d - a.room_up[heavy_on, : a.k]) <= 0).all(
            axis=2
        )
        ok &= (np.where(d > 0, d - a.room_up[light_on, : a.k], -d - a.room_down[light_on, : a.k]) <= 0).all(
            axis=2
        )
        ok &= self._band_improves(np.array([heavy_on]), np.array([light_on]), gain)
        if not ok.any():
            return None
        cost = self._cost(heavy)[:, None] + self._cost(light)[None, :] + self.cost_floor
        value = np.where(ok, _fit(gain, need) / cost, -np.inf)
        i, j = np.unravel_index(int(np.argmax(value)), value.shape)
        return int(heavy[i]), int(light[j])

    def _swap_side(self, on: int, to: int, metric: int, largest: bool) -> tuple[np.ndarray, np.ndarray]:
        """Up to SWAP_CANDIDATES slots on `on` that may move to `to`, heaviest (or lightest) in `metric`."""
        slots = self._movable_slots(on)
        slots = slots[self._budget_allows_all(slots)]
        slots = slots[self.acceptance.placeable(slots, to)]
        vectors = self.p.slot_vectors(slots)
        order = np.argsort(-vectors[:, metric] if largest else vectors[:, metric], kind="stable")
        keep = order[:SWAP_CANDIDATES]
        return slots[keep], vectors[keep]

    def _shed_replicas(self, metric: int, src: int, excess: float, tolerance: float) -> int:
        slots = self._movable_slots(src)
        vectors = self.p.slot_vectors(slots)
        keep = vectors[:, metric] > 0
        slots, vectors = slots[keep], vectors[keep]
        load, cost = vectors[:, metric], self._cost(slots)
        untried = np.ones(len(slots), dtype=bool)
        moved = failures = 0
        like = self._likeness(src, vectors, metric, surplus=True)
        while excess > tolerance and failures < MAX_FAILED_TRIES and untried.any():
            fit = _fit(load, excess)
            c = self._choose(fit / (cost + self.cost_floor), fit / excess, like, untried)
            untried[c] = False
            mask = (
                self.acceptance.destinations(slots[c], vectors[c]) if self._budget_allows(slots[c]) else None
            )
            if mask is not None and self.band is not None:
                mask &= self._band_improves(np.array([src]), np.arange(self.p.num_brokers), load[c])
            if mask is None or not mask.any():
                failures += 1
                continue
            self._move(slots[c], self._pick(mask, metric, vectors[c]))
            excess -= load[c]
            moved += 1
        return moved

    def _fill_replicas(self, metric: int, dst: int, deficit: float, tolerance: float) -> int:
        """Pull replicas to `dst` from the brokers with the most of `metric` relative to their share."""
        p = self.p
        share = p.metrics[:, metric] / self.fair[:, metric]
        sources = np.flatnonzero((share > share[dst]) & p.arrays.holds_data)
        sources = sources[np.argsort(-share[sources], kind="stable")][:MAX_SOURCES]
        if not len(sources):
            return 0
        slots = np.concatenate([self._movable_slots(int(b)) for b in sources])
        vectors = p.slot_vectors(slots)
        keep = (vectors[:, metric] > 0) & self._budget_allows_all(slots)
        keep[keep] = self.acceptance.placeable(slots[keep], dst)
        slots, vectors = slots[keep], vectors[keep]
        src, parts = p.slot_broker[slots], p.slot_partition[slots]
        topics = p.arrays.partition_topic[parts]
        load, cost = vectors[:, metric], self._cost(slots)
        like = self._likeness(dst, vectors, metric, surplus=False)
        open_ = np.ones(len(slots), dtype=bool)
        moved = failures = 0
        while deficit > tolerance and failures < MAX_FAILED_TRIES and open_.any():
            fit = _fit(load, deficit)
            c = self._choose(fit / (cost + self.cost_floor), fit / deficit, like, open_)
            open_[c] = False
            fits = self.acceptance.fits(vectors[c : c + 1], src[c : c + 1], dst)[0]
            if self.band is not None and fits:
                fits = self._band_improves(src[c : c + 1], np.array([dst]), load[c])[0]
            if not fits:
                failures += 1
                continue
            self._move(slots[c], dst)
            deficit -= load[c]
            moved += 1
            # what `placeable` said about the moved slot's partition (and topic) is now stale
            stale = parts == parts[c]
            if self.acceptance.topic_limits is not None:
                stale = topics == topics[c]
            open_[stale] &= self.acceptance.placeable(slots[stale], dst)
        return moved

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
            key = _fit(delta[row, metric], excess) / excess - 0.01 * share[new_broker]
            c = int(np.argmax(np.where(ok, key, -np.inf)))
            self._lead(int(parts[row[c]]), int(new_slot[c]))
            open_part[row[c]] = False
            excess -= delta[row[c], metric]
            moved += 1
        return excess, moved

    def _fill_leadership(self, metric: int, dst: int, deficit: float, tolerance: float) -> tuple[float, int]:
        p = self.p
        slots = p.slots_on(dst)
        parts = p.slot_partition[slots]
        follows = (p.leader_slot[parts] >= 0) & (p.leader_slot[parts] != slots) & self.movable[parts]
        slots, parts = slots[follows], parts[follows]
        old = p.slot_broker[p.leader_slot[parts]]
        delta = p.leadership_delta(parts)
        share = p.metrics[:, metric] / self.fair[:, metric]
        open_part = delta[:, metric] > 0
        moved = 0
        while deficit > tolerance and open_part.any():
            ok = open_part & self.acceptance.leadership_ok(delta, old, np.full(len(parts), dst))
            if self.band is not None:
                ok &= self._band_improves(old, np.array([dst]), delta[:, metric])
            if not ok.any():
                break
            key = _fit(delta[:, metric], deficit) / deficit + 0.01 * share[old]
            c = int(np.argmax(np.where(ok, key, -np.inf)))
            self._lead(int(parts[c]), int(slots[c]))
            open_part[c] = False
            deficit -= delta[c, metric]
            moved += 1
        return deficit, moved

    # ---- rack, topic and preferred-leader goals ------------------------------------------------

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
        p = self.p
        lower, upper = goal.limits(p)
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
                    failures += 1
                    continue
                counts[src] -= 1
                counts[dst] += 1
        if lower < 1:
            return
        for dst in np.flatnonzero((counts < lower) & self.can_receive):
            spare = slots[counts[p.slot_broker[slots]] > lower]
            spare = spare[self._budget_allows_all(spare)]
            ok = self.acceptance.moves_to(spare, p.slot_vectors(spare), int(dst), topic_counts=counts)
            if ok.any():
                slot = int(spare[ok][np.argmin(self._cost(spare[ok]))])
                counts[p.slot_broker[slot]] -= 1
                self._move(slot, int(dst))
                counts[dst] += 1

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

    # ---- shared steps --------------------------------------------------------------------------

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

    def _band_improves(self, src: np.ndarray, dst: np.ndarray, load) -> np.ndarray:
        """Whether moving `load` of the banded metric from `src` to `dst` lowers the goal's total
        violation (arguments broadcast)."""
        metric, lower, upper = self.band
        value = self.p.metrics[:, metric]
        before = _outside(value[src], lower[src], upper[src]) + _outside(value[dst], lower[dst], upper[dst])
        after = _outside(value[src] - load, lower[src], upper[src]) + _outside(
            value[dst] + load, lower[dst], upper[dst]
        )
        return after < before - 1e-9 * (1.0 + np.abs(load))

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

    def _pick(self, mask: np.ndarray, metric: int, vector: np.ndarray) -> int:
        """The allowed broker with the lowest load relative to its fair share, after the move; the
        goal's own metric counts four times."""
        candidates = np.flatnonzero(mask)
        inverse = self.inverse_fair[candidates]
        score = self.crowding[candidates] + inverse[:, SCORED] @ vector[SCORED]
        score += 3.0 * (self.p.metrics[candidates, metric] + vector[metric]) * inverse[:, metric]
        return int(candidates[np.argmin(score + self.jitter[candidates])])

    def _move(self, slot: int, dst: int, reason: int | None = None) -> None:
        src = int(self.p.slot_broker[slot])
        self.p.move_replica(int(slot), dst)
        self._changed(src, dst)
        self._mark(int(self.p.slot_partition[slot]), reason)

    def _lead(self, part: int, slot: int) -> None:
        old = int(self.p.slot_broker[self.p.leader_slot[part]])
        self.p.move_leadership(part, slot)
        self._changed(old, int(self.p.slot_broker[slot]))
        self._mark(part)

    def _changed(self, *brokers: int) -> None:
        self.acceptance.refresh(brokers)
        for b in brokers:
            self.crowding[b] = self.p.metrics[b, SCORED] @ self.inverse_fair[b, SCORED]

    def _mark(self, part: int, reason: int | None = None) -> None:
        if self.reason[part] < 0:
            self.reason[part] = len(self.reasons) - 1 if reason is None else reason

    def _movable_slots(self, broker: int) -> np.ndarray:
        slots = self.p.slots_on(broker)
        return slots[self.movable[self.p.slot_partition[slots]]]

    def _cost(self, slots: np.ndarray) -> np.ndarray:
        """MB a move of each slot adds to the plan: nothing if the slot was already moved once."""
        disk = self.p.arrays.leader_load[self.p.slot_partition[slots], DISK]
        return np.where(self.p.is_original(slots), disk, 0.0)

    def _budget_allows(self, slot: int) -> bool:
        if self.max_replica_moves is None or self.p.replica_moves < self.max_replica_moves:
            return True
        return not self.p.is_original(np.array([slot]))[0]

    def _budget_allows_all(self, slots: np.ndarray) -> np.ndarray:
        if self.max_replica_moves is None or self.p.replica_moves < self.max_replica_moves:
            return np.ones(len(slots), dtype=bool)
        return ~self.p.is_original(slots)  # moving a moved replica on does not add a move

    # ---- messages ------------------------------------------------------------------------------

    def _explain(self, goal: Goal, result: GoalResult) -> str:
        p = self.p
        message = f"hard goal {goal.name} cannot be met: {result.detail}"
        if isinstance(goal, BoundedGoal):
            upper = goal.limits(p)[1]
            total, allowed = p.metrics[:, goal.metric].sum(), upper[p.arrays.holds_data].sum()
            if total > allowed:
                what = METRICS[goal.metric]
                return f"{message}; the cluster holds {total:.6g} {what} but its brokers allow {allowed:.6g}"
        if isinstance(goal, RackAwareGoal):
            bad = np.flatnonzero(most_in_one_rack(p, np.arange(len(p.rf))) > goal.limits(p))
            stuck = [partition_name(p, part) for part in bad[~self.movable[bad]]]
            if stuck:
                return f"{message}; their topics are excluded from moves: {describe(stuck)}"
        if self.max_replica_moves is not None and p.replica_moves >= self.max_replica_moves:
            return f"{message}; max_replica_moves={self.max_replica_moves} was reached"
        return f"{message}; no move keeps the goals before it satisfied"

    def _no_home(self, slot: int) -> str:
        p = self.p
        part = int(p.slot_partition[slot])
        broker = p.arrays.broker_ids[p.slot_broker[slot]]
        state = "dead" if not p.arrays.alive[p.slot_broker[slot]] else "decommissioned"
        return (
            f"cannot move {partition_name(p, part)} off {state} broker {broker}: replication factor "
            f"{p.rf[part]} but only {int(self.can_receive.sum())} brokers can receive replicas"
        )


def _outside(value, lower, upper):
    """Distance of `value` outside [lower, upper] (0 inside)."""
    return np.maximum(value - upper, 0.0) + np.maximum(lower - value, 0.0)


def _fit(load: np.ndarray, need: float) -> np.ndarray:
    """How much of `need` a move of `load` covers, minus any overshoot: best when load == need."""
    return need - np.abs(need - load)


def _fair_share(p: Placement) -> np.ndarray:
    """(B, METRICS) each broker's share of the cluster's total of each metric, by capacity where it has one.

    Brokers that must end empty have no share; a zero share is replaced by a tiny one so that
    "load / share" ranks such brokers last instead of dividing by zero.
    """
    a = p.arrays
    holds = a.holds_data
    weight = np.zeros((p.num_brokers, len(METRICS)))
    weight[:, [DISK, NW_IN, NW_OUT, CPU]] = a.capacity
    weight[:, POTENTIAL_NW_OUT] = a.capacity[:, NW_OUT]
    weight[:, [REPLICAS, LEADERS, LEADER_NW_IN]] = 1.0
    weight[~holds] = 0.0
    total_weight = weight.sum(axis=0)
    total = p.metrics.sum(axis=0)
    share = np.divide(weight * total, total_weight, out=np.zeros_like(weight), where=total_weight > 0)
    share[:, total == 0] = 1.0
    return np.maximum(share, 1e-9 * (1.0 + np.abs(total)))
