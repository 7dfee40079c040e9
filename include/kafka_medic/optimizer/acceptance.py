"""Which moves the goals optimized so far (and the one being optimized) accept.

A move is accepted when it makes no broker, partition or topic violate an accepted goal more than
before, Cruise Control's rule. Each goal says what that means for it through its `Constraint` (see
`goals.constraint`); this asks every constraint accepted so far about a batch of candidate moves and
combines the answers, plus the rules that hold whatever the goals: only receiving brokers receive, and
a broker holds at most one replica of a partition. Goals naming the same constraint class share one
object (all bounded goals share one headroom matrix), and a kind of move is asked only of the
constraints that limit it.
"""

from __future__ import annotations

import operator
from functools import reduce

import numpy as np

from kafka_medic.goals.base import Goal
from kafka_medic.goals.bounded import BoundedConstraint, BoundedGoal
from kafka_medic.goals.constraint import Constraint
from kafka_medic.model.placement import METRICS, Placement

# the questions a constraint may answer, each asked only of the constraints that override it
PLACEMENT = ("homes", "placeable")
LOAD = ("refresh", "destinations", "fits", "change_ok", "room", "leadership_ok")


class Acceptance:
    def __init__(self, placement: Placement, can_receive: np.ndarray, loads: bool = True):
        """`loads` False: ask only where replicas may go, whatever the load (load limits relaxed)."""
        self.placement = placement
        self.can_receive = can_receive
        self.goals: list[Goal] = []  # accepted so far, in priority order
        self._constraints: dict[type[Constraint], Constraint] = {}
        self._asked = PLACEMENT + LOAD if loads else PLACEMENT
        self._answering: dict[str, list[Constraint]] = {question: [] for question in PLACEMENT + LOAD}

    def add(self, goal: Goal) -> None:
        """Accept `goal`: from now on (while it is optimized, too) moves must keep it."""
        self.goals.append(goal)
        if goal.constraint is None:
            return
        constraint = self._constraints.get(goal.constraint)
        if constraint is None:
            constraint = self._constraints[goal.constraint] = goal.constraint(self.placement, self.can_receive)
            for question in self._asked:
                if getattr(type(constraint), question) is not getattr(Constraint, question):
                    self._answering[question].append(constraint)
        constraint.add(goal)

    def relax(self, goal: Goal) -> None:
        """`goal`, just accepted, cannot hold: from now on accept moves that do not make it worse."""
        if goal.constraint is not None:
            self._constraints[goal.constraint].relax(goal)

    def reaim(self, goal: BoundedGoal) -> str | None:
        """`goal`, just accepted, cannot hold on a broker set an accepted constraint forces its load onto
        (`Constraint.forced_loads`, as rack awareness does): while it is optimized, that edge of its band
        moves there to the forced level (`BoundedConstraint.reaim`); why, or None when it can hold."""
        bounds = self._constraints[goal.constraint]
        assert isinstance(bounds, BoundedConstraint)
        sets = [s for c in self._constraints.values() for s in c.forced_loads(goal.metric)]
        return bounds.reaim(sets, goal.label) if sets else None

    def optimized(self, goal: Goal) -> None:
        """`goal`'s optimize step is done."""
        if goal.constraint is not None:
            self._constraints[goal.constraint].optimized(goal)

    def constraint_of(self, goal: Goal) -> Constraint:
        """The constraint `goal` was accepted into (for its own optimize step)."""
        assert goal.constraint is not None, f"{goal.name} names no constraint"
        return self._constraints[goal.constraint]

    @property
    def couples_topic(self) -> bool:
        """Whether a move may change where the other replicas of its topic may go."""
        return any(c.couples_topic for c in self._answering["placeable"])

    @property
    def leadership_fixed(self) -> bool:
        """Whether an accepted goal forbids every leadership move."""
        return any(c.leadership_fixed for c in self._constraints.values())

    def refresh(self, brokers) -> None:
        """Recompute what depends on the load of `brokers` after their metrics changed."""
        for c in self._answering["refresh"]:
            c.refresh(brokers)

    # ---- one replica to any broker -------------------------------------------------------------

    def destinations(self, slot: int, vector: np.ndarray, strict: bool = False) -> np.ndarray:
        """(B,) brokers that may receive `slot` (whose metric vector is `vector`) from its broker.
        `strict`: see `homes`."""
        src = int(self.placement.slot_broker[slot])
        load = None
        for c in self._answering["destinations"]:
            ok = c.destinations(vector, src)
            if ok is None:
                continue
            if not ok.any():
                return ok
            load = ok if load is None else load & ok
        homes = self.homes(slot, strict)
        return homes if load is None else homes & load

    def homes(self, slot: int, strict: bool = False) -> np.ndarray:
        """(B,) brokers that may hold `slot`'s partition instead of its broker, whatever the load:
        receiving brokers only, one replica per broker, and every placement constraint.

        `strict` (a goal's own step): the goal being optimized asks its constraint's strict answer, every
        other goal only that the move makes it no worse. Asked strictly of all, rack_aware_distribution
        (strict: the move must improve the spread) refused every move broker_set_aware's step made into
        a set, on partitions already spread evenly."""
        p = self.placement
        src = int(p.slot_broker[slot])
        part = int(p.slot_partition[slot])
        ok = self.can_receive.copy()
        holders = p.brokers_of(part)
        ok[holders] = False
        asking = self.goals[-1].constraint if strict and self.goals else None
        own = self._constraints.get(asking) if asking is not None else None
        for c in self._answering["homes"]:
            ok &= c.homes(part, src, holders, c is own)
        return ok

    # ---- many replicas to one broker ----------------------------------------------------------

    def moves_to(
        self, slots: np.ndarray, vectors: np.ndarray, dst: int, topic_counts: np.ndarray | None = None
    ) -> np.ndarray:
        """(n,) which of `slots` (metric vectors `vectors`) may move from their brokers to `dst`."""
        ok = self.placeable(slots, dst, topic_counts)
        return ok & self.fits(vectors, self.placement.slot_broker[slots], dst)

    def fits(self, vectors: np.ndarray, src: np.ndarray, dst: int) -> np.ndarray:
        """(n,) whether moving load `vectors[i]` from broker `src[i]` to `dst` keeps every load limit."""
        answering = self._answering["fits"]
        if len(answering) == 1:  # the usual case (bounded goals alone): asked on every candidate move
            return answering[0].fits(vectors, src, dst)
        if not answering:
            return np.ones(len(vectors), dtype=bool)
        return reduce(operator.and_, (c.fits(vectors, src, dst) for c in answering))

    def placeable(self, slots: np.ndarray, dst: int, topic_counts: np.ndarray | None = None) -> np.ndarray:
        """(n,) whether `dst` may hold a replica of each slot's partition instead of the slot's broker:
        receiving brokers only, one replica per broker, and every placement constraint. Unlike
        `fits`, this does not change when unrelated partitions move (nor, unless `couples_topic`,
        other partitions of their topic). `topic_counts` (per broker) saves looking counts up when
        every slot is of one topic."""
        p = self.placement
        if not self.can_receive[dst] or not len(slots):
            return np.zeros(len(slots), dtype=bool)
        src = p.slot_broker[slots]
        parts = p.slot_partition[slots]
        holders = p.partition_brokers(parts)
        ok = ~(holders == dst).any(axis=1)
        for c in self._answering["placeable"]:
            if not ok.any():
                break
            ok &= c.placeable(slots, src, parts, holders, dst, topic_counts)
        return ok

    def room(self, broker: int) -> tuple[np.ndarray, np.ndarray]:
        """(METRICS,) how far each metric may fall and grow on `broker` under every load limit so far
        (inf where none bounds it): the box a swap partner's load must lie in."""
        down, up = np.full(len(METRICS), np.inf), np.full(len(METRICS), np.inf)
        for c in self._answering["room"]:
            c.room(broker, down, up)
        return down, up

    def change_ok(self, brokers, change: np.ndarray) -> np.ndarray:
        """Whether adding `change` (..., METRICS; negative to take load away) to `brokers` (one, or one
        per row) keeps every load limit: the check for swaps, where both brokers give and take."""
        answering = self._answering["change_ok"]
        if len(answering) == 1:
            return answering[0].change_ok(brokers, change)
        if not answering:
            return np.ones(np.broadcast_shapes(np.shape(brokers), change.shape[:-1]), dtype=bool)
        return reduce(operator.and_, (c.change_ok(brokers, change) for c in answering))

    # ---- leadership ----------------------------------------------------------------------------

    def leadership_ok(
        self, delta: np.ndarray, old: np.ndarray, new: np.ndarray, leader_first: bool = False
    ) -> np.ndarray:
        """(n,) whether leadership may pass from brokers `old` to brokers `new`, adding `delta` to `new`.
        `leader_first`: the caller makes each new leader its partition's first replica, which is all an
        optimized `preferred_leader_election` asks."""
        fixed = (c for c in self._constraints.values() if c.leadership_fixed)
        if any(not (leader_first and c.kept_by_leader_first) for c in fixed):
            return np.zeros(len(new), dtype=bool)
        ok = self.can_receive[new]
        for c in self._answering["leadership_ok"]:
            ok &= c.leadership_ok(delta, old, new)
        return ok

