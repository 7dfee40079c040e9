"""Lowering peaks: once the plan is made, replica moves lower the highest utilisation of each resource,
then leadership moves the highest cpu and nw_out (a mixin of `Search`).

The usage-distribution goals stop once every broker is inside the band they aim at (1.09 x the mean):
a goal within its band is not moved further. Cruise Control's plans often end well inside it, as a side
effect of their other goals; this step does it on purpose, after sending replicas home, and only so far
as it raises no other peak.

- Replicas, for every usage resource (disk, nw_in, nw_out, cpu), one level of each at a time (1.09,
  1.08 ... down to 1.0225 x the mean): every broker above the level sheds replicas, then swaps them,
  with the goals' own balancing steps, and no broker may take load above the level. A level some
  broker cannot reach is undone and ends that resource: the peak would stay, and the moves would only
  have moved data. Replicas (or swaps) carrying at least 3x the mean replica's share of the
  resource for their size are tried first, then those carrying at least the mean's; for disk that is
  any replica, and first those already moved (free). Every goal must accept each move, no usage
  resource's peak may rise, and the step adds at most `PEAK_MOVE_SHARE` of the plan's replica moves.
- cpu and nw_out: a partition led by the broker with the highest utilisation of one of them goes to a
  follower. Every goal's constraint must accept it, the follower must stay below that broker, and no
  such resource's peak may rise. The resource with the highest max/mean goes first, and a resource is
  done when its peak broker can hand nothing on. No data moves.

Only resources whose usage-distribution goal is in the plan are lowered: a plan asked for other goals
is not changed for these. And only a plan that changes something gets this step: a cluster within every
goal gets an empty plan, not churn on each scheduled check. A goal without a constraint that ends
worse undoes the step.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.goals.base import Goal
from kafka_medic.goals.bounded import BoundedConstraint, holding_brokers, slack
from kafka_medic.goals.distribution import UsageDistributionGoal
from kafka_medic.goals.leader import PreferredLeaderElectionGoal
from kafka_medic.optimizer.state import SearchState

# leadership moves per broker and resource at most: a bound on a slow tail, as each move lowers the peak
# broker a little; 60 brokers with one dead took 72 moves for cpu and nw_out together
MOVES_PER_BROKER = 2
# how far replica moves lower a peak: this fraction of the way from the mean to the band's aim (1.0225 x
# the mean for the default 1.09); below it a gain is within the load's own swings between samples
REPLICA_PEAK_AIM = 0.25
# how much more of the lowered resource than the cluster's mean replica, for its size, a replica moved
# (or a swap) must carry: a level is tried with the first floor, then (from where that left it) with
# the next. A floor of 3 alone lowered nw_in on same-size brokers but left it at 1.09 on most models of
# three disk sizes, where Cruise Control's plans end at 1.04-1.08
REPLICA_DENSITY = (3.0, 1.0)
# replica moves the step may add, as a share of the plan's (none to a plan that moves none): on 71
# random models of 9-60 brokers (shapes as bench/vs_cruise_control.py --random draws them) max/mean
# ended no worse than Cruise Control's on 58 with 15% and 20%, 57 with 10%, 60 without a bound, and 41
# with nw_in alone at a floor of 3; on 1,000 brokers / 100k partitions 15% costs 1-2 s
PEAK_MOVE_SHARE = 0.15
# levels the peaks are lowered by, each resource one level at a time: from the aim to REPLICA_PEAK_AIM of
# the band (1.09, 1.08, ... 1.0225)
REPLICA_LEVELS = 8


class LoweringPeaks(SearchState):
    def lower_peaks(self, goals: list[Goal]) -> int:
        """Lower the peaks of `goals`' usage-distribution goals' resources: replicas for each of them, then
        leadership for cpu and nw_out; the replica and leadership moves made."""
        if not (self.reason >= 0).any():  # a plan without a change stays without one
            return 0
        usage = [g for g in goals if isinstance(g, UsageDistributionGoal)]
        by_replicas = [g for g in usage if g.uses_replicas]
        return self._lower_replica_peaks(goals, usage, by_replicas) + self._lower_leadership_peaks(
            goals, [g for g in usage if g.uses_leadership]
        )

    def _lower_replica_peaks(
        self, goals: list[Goal], usage: list[UsageDistributionGoal], lowered: list[UsageDistributionGoal]
    ) -> int:
        """Shed and swap replicas off the brokers with the highest utilisation of each `lowered` goal's
        resource while every goal accepts it and no `usage` resource's peak rises; the replicas moved."""
        p = self.p
        if not lowered:
            return 0
        bounds = self.acceptance.constraint_of(lowered[0])
        assert isinstance(bounds, BoundedConstraint)
        before, placed = self._unguarded_violations(goals), p.slot_broker.copy()
        # a share of the plan's replica moves: a plan of leadership moves alone gets no replica move here
        self._lower_levels(usage, lowered, bounds, p.replica_moves + int(PEAK_MOVE_SHARE * p.replica_moves))
        moved = int((p.slot_broker != placed).sum())
        if self._worse(goals, before):  # a goal without a constraint ends worse: undo it all
            self._place_back(placed)
            return 0
        return moved

    def _lower_levels(
        self,
        usage: list[UsageDistributionGoal],
        lowered: list[UsageDistributionGoal],
        bounds: BoundedConstraint,
        budget: int,
    ) -> None:
        """Every resource one level at a time (`REPLICA_LEVELS`, from the aim down to `REPLICA_PEAK_AIM` of
        the band), so the move budget goes to every resource's first levels before any goes deeper. A
        level some broker cannot reach ends that resource, and one that takes the plan past `budget`
        replica moves ends them all; either is undone: moves that leave the peak where it is only move
        data."""
        p = self.p
        open_ = list(lowered)
        for fraction in np.linspace(1.0, REPLICA_PEAK_AIM, REPLICA_LEVELS):
            for goal in list(open_):
                caps = {g.metric: self._peak_level(g.metric) * p.arrays.capacity[:, g.metric] for g in usage}
                unchanged, level = self.reason < 0, p.slot_broker.copy()
                with bounds.capped(caps):
                    try:
                        reached = self._lower_to(goal, goal.inner_upper(p, float(fraction)), bounds, budget)
                    finally:
                        self.band, self.density_floor = None, 0.0
                if not reached:  # a level reached is within the budget (`_reach_level`)
                    spent = p.replica_moves > budget
                    self._place_back(level)
                    if spent:
                        return
                    open_.remove(goal)
                    continue
                # the partitions first changed here, by the goal whose resource they lowered
                self.reason[unchanged & (self.reason >= 0)] = self.reasons.index(goal.name)

    def _lower_to(
        self, goal: UsageDistributionGoal, upper: np.ndarray, bounds: BoundedConstraint, budget: int
    ) -> bool:
        """Bring every broker above `upper` (B,) of `goal`'s resource down to it, no broker taking load
        above it: with the densest replicas first (`REPLICA_DENSITY`); whether all got there within
        `budget` replica moves."""
        with bounds.capped({goal.metric: upper}):
            for floor in REPLICA_DENSITY:
                self.density_floor = floor
                if self._reach_level(goal, upper, budget):
                    return True
                if self.p.replica_moves > budget:
                    break
        return False

    def _place_back(self, placed: np.ndarray) -> None:
        """Move every replica back to its broker in `placed` (a copy of `slot_broker`)."""
        for slot in np.flatnonzero(self.p.slot_broker != placed):
            self._move(int(slot), int(placed[slot]))

    def _reach_level(self, goal: UsageDistributionGoal, upper: np.ndarray, budget: int) -> bool:
        """Shed every broker above `upper` (B,) to it, the highest first; False as soon as one stays above,
        or the plan's replica moves pass `budget` (the level would be undone: going on only costs time)."""
        p = self.p
        metric = goal.metric
        self.band = (metric, np.full(p.num_brokers, -np.inf), upper)
        value = p.metrics[:, metric]
        over = np.flatnonzero(value - upper > slack(upper))
        for b in over[np.argsort(-(value[over] / upper[over]), kind="stable")]:
            self._shed(metric, int(b), float(upper[b]), leaders=False, replicas=True)
            if p.metrics[b, metric] - upper[b] > slack(upper[b]) or p.replica_moves > budget:
                return False
        # a relaxed goal is not capped at the level: a broker that received load may be above it
        return not (p.metrics[:, metric] - upper > slack(upper)).any()

    def _peak_level(self, metric: int) -> float:
        """The highest utilisation of `metric` on a broker that keeps data."""
        p = self.p
        capacity = p.arrays.capacity[:, metric]
        holds = holding_brokers(p) & (capacity > 0)
        return float((p.metrics[holds, metric] / capacity[holds]).max()) if holds.any() else np.inf

    def _lower_leadership_peaks(self, goals: list[Goal], lowered: list[UsageDistributionGoal]) -> int:
        """Move leadership off the brokers with the highest utilisation of `lowered`'s resources while
        it lowers them; the leadership moves made."""
        p = self.p
        if not lowered:
            return 0
        columns = np.array([g.metric for g in lowered])
        capacity = p.arrays.capacity[:, columns]
        holds = holding_brokers(p) & (capacity > 0).all(axis=1)
        if not holds.any():
            return 0
        capacity = np.where(holds[:, None], capacity, np.inf)
        mean = p.metrics[holds][:, columns].sum(axis=0) / capacity[holds].sum(axis=0)
        reasons = [self.reasons.index(g.name) for g in lowered]
        leader_first = any(isinstance(g, PreferredLeaderElectionGoal) for g in goals)
        before = self._unguarded_violations(goals)
        moved: list[tuple[int, int]] = []  # (partition, its leader's slot before)
        open_ = np.ones(len(lowered), dtype=bool)
        while open_.any() and len(moved) < MOVES_PER_BROKER * len(lowered) * p.num_brokers:
            util = p.metrics[:, columns] / capacity
            peak = util.max(axis=0)
            k = int(np.argmax(np.where(open_, peak / np.maximum(mean, 1e-12), -np.inf)))
            move = self._lower_peak(columns, k, util, peak, capacity, leader_first, reasons[k])
            if move is None:
                open_[k] = False
                continue
            moved.append(move)
        if self._worse(goals, before):  # a goal without a constraint ends worse: undo it all
            for part, slot in reversed(moved):
                self._lead(part, slot)
            return 0
        if moved and leader_first:
            p.make_leader_first(np.unique([part for part, _ in moved]))
        return len(moved)

    def _lower_peak(
        self,
        columns: np.ndarray,
        k: int,
        util: np.ndarray,
        peak: np.ndarray,
        capacity: np.ndarray,
        leader_first: bool,
        reason: int,
    ) -> tuple[int, int] | None:
        """Hand one leadership of the broker at the peak of `columns[k]` to a follower, the move leaving
        the two brokers' higher utilisation lowest; (the partition, its leader's slot before), or None
        when none may go."""
        p = self.p
        src = int(np.argmax(util[:, k]))
        parts, to_slot = self._handoffs(src)
        if not len(parts):
            return None
        dst = p.slot_broker[to_slot]
        change = p.leadership_delta(parts)
        delta = change[:, columns]
        after_dst = (p.metrics[dst][:, columns] + delta) / capacity[dst]
        after_src = util[src, k] - delta[:, k] / capacity[src, k]
        ok = (delta[:, k] > 0) & (after_dst[:, k] < util[src, k]) & (after_dst <= peak).all(axis=1)
        if not ok.any():
            return None
        ok[ok] = self.acceptance.leadership_ok(change[ok], np.full(int(ok.sum()), src), dst[ok], leader_first)
        if not ok.any():
            return None
        c = int(np.argmin(np.where(ok, np.maximum(after_dst[:, k], after_src), np.inf)))
        part, was = int(parts[c]), int(p.leader_slot[parts[c]])
        self._mark(part, reason)  # before `_lead`, which would name the last goal
        self._lead(part, int(to_slot[c]))
        return part, was
