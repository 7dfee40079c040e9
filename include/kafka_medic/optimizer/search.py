"""The move search: empties dead brokers, then optimizes each goal in priority order, then sends home
the moves the finished plan no longer needs (`compact`) and hands leadership off the cpu and nw_out peaks
(`peaks`).

`Search` holds the state every step shares (placement, acceptance of the goals optimized so far, fair
shares, budget, why each partition changed) and the steps common to all goals: applying a move and
picking a destination. Destinations are all brokers at once, filtered by `Acceptance` and ranked by
load relative to their fair share after the move. A goal's `optimize(search)` drives it: the optimize
strategies of the built-in goal families are the mixins in `balance` (bounded goals, with `swap` and
`exchange`) and `spread` (rack, topic and preferred-leader goals); any goal, a custom one too, can use
the public steps here (`movable_slots`, `move_anywhere`, `p`, `acceptance`).
"""

from __future__ import annotations

import numpy as np

from kafka_medic.errors import MedicError
from kafka_medic.goals.base import Goal, GoalResult
from kafka_medic.goals.bounded import BoundedGoal
from kafka_medic.goals.distribution import DiskUsageDistributionGoal
from kafka_medic.goals.leader import partition_name
from kafka_medic.goals.topic import TopicReplicaDistributionGoal
from kafka_medic.model.arrays import CPU, DISK, NW_IN, NW_OUT
from kafka_medic.model.placement import LEADER_NW_IN, LEADERS, METRICS, POTENTIAL_NW_OUT, REPLICAS, Placement
from kafka_medic.optimizer.acceptance import Acceptance
from kafka_medic.optimizer.balance import MIX, Balancing
from kafka_medic.optimizer.compact import Compacting
from kafka_medic.optimizer.exchange import Exchanging
from kafka_medic.optimizer.peaks import LoweringPeaks
from kafka_medic.optimizer.spread import Spreading
from kafka_medic.optimizer.swap import Swapping

SCORED = MIX  # what "a lightly loaded destination" means
EVACUATION = "evacuation"


class PlanError(MedicError):
    """A hard goal cannot be met; the message names the goal and the brokers or partitions in the way."""


class Search(Balancing, Exchanging, Swapping, Spreading, Compacting, LoweringPeaks):
    """One planning run over a `Placement`, which it changes in place."""

    def __init__(
        self,
        placement: Placement,
        can_receive: np.ndarray,
        movable: np.ndarray,
        max_replica_moves: int | None,
        seed: int,
        heal_only: bool = False,
    ):
        self.p = placement
        self.can_receive = can_receive
        self.movable = movable
        self.max_replica_moves = max_replica_moves
        # the most replica moves the goal being optimized may bring the plan to (None: no limit): the
        # caller's cap, or for the soft goals of a heal-only plan what the evacuation moved
        self.move_budget = max_replica_moves
        self.heal_only = heal_only
        self.acceptance = Acceptance(placement, can_receive)
        self.fair = _fair_share(placement)
        self.inverse_fair = 1.0 / self.fair
        # sum over SCORED of load / fair share, per broker: the base of every destination score
        self._crowding_weight = np.zeros_like(self.inverse_fair)  # inverse_fair on SCORED, 0 elsewhere
        self._crowding_weight[:, SCORED] = self.inverse_fair[:, SCORED]
        self.crowding = (placement.metrics * self._crowding_weight).sum(axis=1)
        self.jitter = np.random.default_rng(seed).random(placement.num_brokers) * 1e-9
        disk = placement.arrays.leader_load[:, DISK]
        self.cost_floor = 0.01 * float(disk.mean()) + 1e-6 if len(disk) else 1.0
        totals = placement.metrics.sum(axis=0)
        self.mean_replica = np.maximum(totals / max(totals[REPLICAS], 1.0), 1e-9)  # per METRICS column
        self.band = None  # (metric, lower, upper) being balanced
        self.density_floor = 0.0  # see `_dense_enough`: raised while lowering peaks
        self.reasons = [EVACUATION]
        self.reason = np.full(placement.arrays.num_partitions, -1, dtype=np.int64)
        self.left_behind = 0  # replicas that max_replica_moves kept on brokers that must end empty
        # offline partitions (no leader) with replicas on brokers that must end empty: nothing can
        # copy their data until a replica returns, so they stay where they are
        self.stranded = np.zeros(0, dtype=np.int64)
        # soft goals no placement can meet ({goal, why, best_reached: its violation after its own step}):
        # optimized as far as they go, then only kept from getting worse
        self.infeasible: list[dict] = []
        self._swap_rankings = {}  # see `Swapping._swap_ranking`
        # the topic goal's upper limits while it is still ahead: earlier goals prefer moves within them
        # (`_in_tier`, `_pick`), so the topic goal has less to move back
        self.topic_room: np.ndarray | None = None
        # the disk goal's band while it is still ahead: data an earlier goal moves its way costs less
        # (`Balancing._disk_credit`)
        self.disk_band: tuple[np.ndarray, np.ndarray] | None = None

    # ---- driver --------------------------------------------------------------------------------

    def run(self, goals: list[Goal]) -> None:
        """Evacuate, then optimize each goal in priority order, then send home the moves the finished
        plan no longer needs (`Compacting`) and lower the cpu and nw_out peaks with leadership
        (`LoweringPeaks`); a hard goal that cannot hold, or is left unmet, fails the plan (PlanError)."""
        topic = next((g for g in goals if isinstance(g, TopicReplicaDistributionGoal)), None)
        self.topic_room = topic.limits(self.p)[1] if topic is not None else None
        disk = next((g for g in goals if isinstance(g, DiskUsageDistributionGoal)), None)
        self.disk_band = disk.limits(self.p) if disk is not None else None
        self.evacuate(goals)
        # a heal only: the soft goals may move no replica the evacuation left in place. The budget says
        # just that, everywhere a replica moves: once it is spent, only moved replicas move on, which
        # adds no move and no data to the plan
        cap = self.max_replica_moves
        healed = self.p.replica_moves if cap is None else min(cap, self.p.replica_moves)
        for goal in goals:
            self.move_budget = healed if self.heal_only and not goal.hard else cap
            if goal is topic:
                self.topic_room = None
            if goal is disk:
                self.disk_band = None
            self.reasons.append(goal.name)
            self.acceptance.add(goal)
            why = goal.infeasible(self.p)
            if not why and not goal.hard and isinstance(goal, BoundedGoal):
                why = self.acceptance.reaim(goal)  # a band an earlier goal keeps some brokers out of
            if why and goal.hard and not self.left_behind:
                result = goal.check(self.p)
                if not result.satisfied and not self.excused(result):
                    raise PlanError(self._explain(goal, result))
            if why and not goal.hard:
                self.acceptance.relax(goal)
            goal.optimize(self)
            self.acceptance.optimized(goal)
            if why and not goal.hard:
                self.infeasible.append({"goal": goal.name, "why": why, "best_reached": goal.check(self.p).violation})
            if goal.hard:
                result = goal.check(self.p)
                # a heal capped before every replica left spent the whole budget on evacuation: it is
                # partial by request, and reports what is left for the next plan instead of failing
                if not result.satisfied and not self.excused(result):
                    raise PlanError(self._explain(goal, result))
        self.send_home(goals)
        self.lower_peaks(goals)

    def excused(self, result: GoalResult) -> bool:
        """Whether a violated hard goal is what the plan had to leave: a capped heal (partial by
        request), or only offline partitions (which cannot move) and the brokers they keep."""
        if self.left_behind:
            return True
        a = self.p.arrays
        keeping = {int(a.broker_ids[b]) for b in np.flatnonzero(~a.holds_data & (self.p.metrics[:, REPLICAS] > 0))}
        offline = {partition_name(self.p, part) for part in np.flatnonzero(a.leader < 0)}
        return bool(keeping or offline) and set(result.brokers) <= keeping and set(result.partitions) <= offline

    def reason_names(self) -> list[str | None]:
        """(P,) the goal (or evacuation) that first changed each partition, None if unchanged."""
        return [self.reasons[i] if i >= 0 else None for i in self.reason]

    # ---- evacuation ----------------------------------------------------------------------------

    def evacuate(self, goals: list[Goal]) -> None:
        """Move every replica off dead and decommissioned brokers and off failed disks, most urgent first.

        Destinations honour the hard goals when they can (rack spread, capacity), so the goals that
        follow have less to repair; when no broker does, their load limits (capacity) and then all of
        them (rack spread) are relaxed.
        When max_replica_moves is smaller than what must leave, the most urgent replicas move and the
        rest stay for the next plan (`left_behind`): an operator capping a heal wants it partial, not
        refused. Offline partitions stay (`stranded`): a reassignment of a partition with no leader
        waits for a replica to return, and would hold up the whole execution.

        A partition with a replica on a failed disk is not moved again afterwards: a replica placed
        back on that broker would keep Kafka from replacing the failed one there.
        """
        p = self.p
        failed = p.arrays.replica_offline
        self.movable[np.unique(p.slot_partition[failed])] = False
        leaving = np.flatnonzero(~p.arrays.holds_data[p.slot_broker] | failed)
        offline = p.arrays.leader[p.slot_partition[leaving]] < 0
        self.stranded = np.unique(p.slot_partition[leaving[offline]])
        slots = self._evacuation_order(leaving[~offline])
        if self.max_replica_moves is not None:
            self.left_behind = max(len(slots) - self.max_replica_moves, 0)
            slots = slots[: len(slots) - self.left_behind]
        if not len(slots):
            return
        strict = Acceptance(p, self.can_receive)
        spread = Acceptance(p, self.can_receive, loads=False)
        for goal in goals:
            if goal.hard:
                strict.add(goal)
                spread.add(goal)
        for slot in slots:
            vector = p.slot_vector(slot)
            part = p.slot_partition[slot]
            own = slice(p.start[part], p.start[part + 1])
            barred = p.arrays.replica_broker[own][failed[own]]  # where its failed disks are
            mask = strict.destinations(slot, vector)
            mask[barred] = False
            if not mask.any():
                mask = spread.destinations(slot, vector)
                mask[barred] = False
            if not mask.any():
                mask = self.can_receive.copy()
                mask[p.brokers_of(part)] = False
                mask[barred] = False
            if not mask.any():
                raise PlanError(self._no_home(slot))
            src, dst = int(p.slot_broker[slot]), self._pick(mask, DISK, vector, slot)
            self._move(slot, dst, reason=0)
            strict.refresh([src, dst])
            spread.refresh([src, dst])

    def _evacuation_order(self, slots: np.ndarray) -> np.ndarray:
        """`slots` (grouped by partition, as slots are) most urgent first: a partition's k-th replica to
        leave ranks by its live replicas + k, so the partitions with the fewest live (in-sync)
        replicas each get one replica back before any gets a second; then the partition
        with the most data, which one more failure would leave the least protected."""
        p = self.p
        parts = p.slot_partition[slots]
        serving = p.arrays.alive[p.slot_broker] & ~p.arrays.replica_offline
        live = np.bincount(p.slot_partition, weights=serving, minlength=len(p.rf))
        rank = live[parts] + np.arange(len(slots)) - np.searchsorted(parts, parts)
        return slots[np.lexsort((-p.arrays.leader_load[parts, DISK], rank))]

    # ---- shared steps --------------------------------------------------------------------------

    def _pick(self, mask: np.ndarray, metric: int, vector: np.ndarray, slot: int | None = None) -> int:
        """The allowed broker with the lowest load relative to its fair share, after the move; the
        goal's own metric counts four times. Moving `slot` while the topic goal is still ahead, among the
        brokers where its topic stays within that goal's limit when any is allowed."""
        candidates = np.flatnonzero(mask)
        if slot is not None and self.topic_room is not None:
            topic = self.p.arrays.partition_topic[self.p.slot_partition[slot]]
            roomy = self.p.topic_counts(int(topic))[candidates] + 1 <= self.topic_room[topic]
            candidates = candidates[roomy] if roomy.any() else candidates
        score = self.crowding[candidates] + self._crowding_weight[candidates] @ vector
        score += 3.0 * (self.p.metrics[candidates, metric] + vector[metric]) * self.inverse_fair[candidates, metric]
        return int(candidates[np.argmin(score + self.jitter[candidates])])

    def _in_tier(self, tier: int, slots: np.ndarray, dst: int) -> np.ndarray:
        """(n,) whether moving each slot to `dst` is in `tier`: 0 any move; 1 one that keeps its topic
        within the topic goal's limit on `dst`; 2 such a move that also takes the topic off a broker
        where it is above that limit."""
        if tier == 0 or self.topic_room is None:
            return np.ones(len(slots), dtype=bool)
        p = self.p
        topics = p.arrays.partition_topic[p.slot_partition[slots]]
        ok = p.topic_counts_at(topics, np.full(len(slots), dst)) + 1 <= self.topic_room[topics]
        return ok & self._topic_crowded(slots) if tier == 2 else ok

    def _topic_crowded(self, slots: np.ndarray) -> np.ndarray:
        """(n,) whether each slot's topic is above the topic goal's limit on the slot's broker (all
        False once that goal is no longer ahead)."""
        if self.topic_room is None:
            return np.zeros(len(slots), dtype=bool)
        p = self.p
        topics = p.arrays.partition_topic[p.slot_partition[slots]]
        return p.topic_counts_at(topics, p.slot_broker[slots]) > self.topic_room[topics]

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
            self.crowding[b] = self.p.metrics[b] @ self._crowding_weight[b]

    def _unguarded_violations(self, goals: list[Goal]) -> list[float]:
        """The violation of each of `goals` without a constraint: one that cannot say which moves it
        accepts, so a step that only keeps the constraints checks these before and after (`_worse`)."""
        return [g.check(self.p).violation for g in goals if g.constraint is None]

    def _worse(self, goals: list[Goal], before: list[float]) -> bool:
        """Whether a goal without a constraint is now worse than `before` (`_unguarded_violations`)."""
        return any(now > was for now, was in zip(self._unguarded_violations(goals), before, strict=True))

    def _mark(self, part: int, reason: int | None = None) -> None:
        if self.reason[part] < 0:
            self.reason[part] = len(self.reasons) - 1 if reason is None else reason

    def movable_slots(self, broker: int, spent: bool | None = None) -> np.ndarray:
        """The slots on `broker` whose partitions the plan may change; once the move budget is spent
        (or a heal-only plan has healed), only those already moved, which move on for free. `spent`:
        as if the budget were spent or not (by default, as it is now)."""
        slots = self.p.slots_on(broker)
        slots = slots[self.movable[self.p.slot_partition[slots]]]
        if spent is None:
            return self._within_budget(slots)
        return slots[~self.p.is_original(slots)] if spent else slots

    def move_anywhere(self, slot: int, strict: bool = False, prefer: np.ndarray | None = None) -> int | None:
        """Move `slot` to the best broker that accepts it (among `prefer` when any does); its index, or
        None when no broker does (or the budget is spent). `strict`: see `Acceptance.destinations`."""
        if not self._budget_allows(slot):
            return None
        vector = self.p.slot_vector(slot)
        mask = self.acceptance.destinations(slot, vector, strict=strict)
        if not mask.any():
            return None
        if prefer is not None and (mask & prefer).any():
            mask &= prefer
        dst = self._pick(mask, REPLICAS, vector, slot)
        self._move(slot, dst)
        return dst

    def lead(self, part: int, slot: int) -> None:
        """Make `slot` the leader of partition `part`; the caller has asked `acceptance` first."""
        self._lead(part, slot)

    def _cost(self, slots: np.ndarray) -> np.ndarray:
        """MB a move of each slot adds to the plan: nothing if the slot was already moved once."""
        disk = self.p.arrays.leader_load[self.p.slot_partition[slots], DISK]
        return np.where(self.p.is_original(slots), disk, 0.0)

    def _dense_enough(self, load: np.ndarray, cost: np.ndarray, metric: int) -> np.ndarray:
        """(...) whether each move carries at least `density_floor` times as much of `metric` for the data
        it adds as the cluster's mean replica does (always, at the default floor of 0)."""
        if not self.density_floor:
            return np.ones(np.broadcast_shapes(np.shape(load), np.shape(cost)), dtype=bool)
        return load * self.mean_replica[DISK] >= self.density_floor * cost * self.mean_replica[metric]

    def _budget_spent(self) -> bool:
        """Whether the move budget is spent: only replicas already moved may move now."""
        return self.move_budget is not None and self.p.replica_moves >= self.move_budget

    def _budget_allows(self, slot: int) -> bool:
        return not self._budget_spent() or not self.p.is_original(np.array([slot]))[0]

    def _within_budget(self, slots: np.ndarray) -> np.ndarray:
        """The `slots` that may move now: all of them (no copy) until the move budget is spent, then those
        already moved, which move on without adding a move."""
        return slots[~self.p.is_original(slots)] if self._budget_spent() else slots

    def _budget_allows_all(self, slots: np.ndarray, moves: int = 1) -> np.ndarray:
        """(n,) which of `slots` may move when a step makes `moves` moves (a swap makes two)."""
        if self.move_budget is None or self.p.replica_moves + moves <= self.move_budget:
            return np.ones(len(slots), dtype=bool)
        return ~self.p.is_original(slots)  # moving a moved replica on does not add a move

    # ---- messages ------------------------------------------------------------------------------

    def _explain(self, goal: Goal, result: GoalResult) -> str:
        """The violated hard goal, where, and why when the goal (or one before it) can tell."""
        p = self.p
        message = f"hard goal {goal.name} cannot be met: {result.detail}"
        earlier = self.acceptance.goals[: self.acceptance.goals.index(goal)]
        why = goal.why_unmet(p, self.movable) or next(
            (blocked for before in earlier if (blocked := before.why_blocks(p, goal))), None
        )
        notes = [why] if why else []
        if self.max_replica_moves is not None and p.replica_moves >= self.max_replica_moves:
            notes.append(f"max_replica_moves={self.max_replica_moves} was reached")
        return "; ".join([message, *(notes or ["no move keeps the goals before it satisfied"])])

    def _no_home(self, slot: int) -> str:
        p = self.p
        part = int(p.slot_partition[slot])
        broker = p.arrays.broker_ids[p.slot_broker[slot]]
        state = "dead" if not p.arrays.alive[p.slot_broker[slot]] else "decommissioned"
        return (
            f"cannot move {partition_name(p, part)} off {state} broker {broker}: replication factor "
            f"{p.rf[part]} but only {int(self.can_receive.sum())} brokers can receive replicas"
        )


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
