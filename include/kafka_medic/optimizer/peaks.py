"""Lowering peaks: once the plan is made, leadership moves lower the highest cpu and nw_out utilisation
(a mixin of `Search`).

The usage-distribution goals stop once every broker is inside the band they aim at (1.09 x the mean):
going further with replicas would move data. Leadership goes further for free. Handing a partition's
leadership to a follower moves the leader's extra nw_out and cpu, and no data. Cruise Control's plans
often end well inside the band for these two resources, as a side effect of its leadership goals; this
step does it on purpose, after sending replicas home (which moves leaders too).

Each move hands a partition led by the broker with the highest utilisation of one such resource to a
follower. Every goal's constraint must accept it, the follower must stay below that broker, and no
such resource's peak may rise. The resource with the highest max/mean goes first, and a resource is done
when its peak broker can hand nothing on. Only resources whose usage-distribution goal is in the plan
are lowered: a plan asked for other goals is not changed for these. And only a plan that changes
something gets this step: a cluster within every goal gets an empty plan, not leadership churn on each
scheduled check.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.goals.base import Goal
from kafka_medic.goals.bounded import holding_brokers
from kafka_medic.goals.distribution import UsageDistributionGoal
from kafka_medic.goals.leader import PreferredLeaderElectionGoal
from kafka_medic.optimizer.state import SearchState

# leadership moves per broker and resource at most: a bound on a slow tail, as each move lowers the peak
# broker a little; 60 brokers with one dead took 72 moves for cpu and nw_out together
MOVES_PER_BROKER = 2


class LoweringPeaks(SearchState):
    def lower_peaks(self, goals: list[Goal]) -> int:
        """Move leadership off the brokers with the highest utilisation of the leadership-borne resources
        of `goals`' usage-distribution goals while it lowers them; the leadership moves made."""
        p = self.p
        lowered = [g for g in goals if isinstance(g, UsageDistributionGoal) and g.uses_leadership]
        if not lowered or not (self.reason >= 0).any():  # a plan without a change stays without one
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
