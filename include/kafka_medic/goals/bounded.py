"""Goals that keep one per-broker metric between a lower and an upper limit.

Capacity, usage-distribution, count and leader-bytes goals are all this shape. Because each is just
(metric column, lower[B], upper[B]), they share one `BoundedConstraint`: the search keeps every
optimized one satisfied by comparing a move's metric vector with per-broker headroom, for all brokers
and goals in one vector operation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, ClassVar, cast

import numpy as np

from kafka_medic.goals.base import Goal, GoalResult, describe
from kafka_medic.goals.constraint import Constraint, ForcedLoad
from kafka_medic.goals.relaxed import RELAXED_BAND, relaxed_rooms
from kafka_medic.model.arrays import DISK
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.model.placement import METRICS, REPLICAS, Placement

if TYPE_CHECKING:
    from kafka_medic.optimizer.lower_bound import ForcedData
    from kafka_medic.optimizer.search import Search

# Loads are floats summed in different orders; a limit is met when within this relative slack.
TOLERANCE = 1e-7


def slack(limit: np.ndarray) -> np.ndarray:
    return TOLERANCE * (1.0 + np.abs(np.where(np.isfinite(limit), limit, 0.0)))


def _one_limit(limits: np.ndarray) -> bool:
    """Whether every broker of a set has the same limit (within float slack)."""
    return bool(np.ptp(limits) <= float(slack(np.array(np.abs(limits).max()))))


class BoundedConstraint(Constraint["BoundedGoal"]):
    """Every accepted bounded goal as a column of per-broker headroom.

    `room_up[b, k]` is how much the metric of goal k may still grow on broker b and `room_down[b, k]`
    how much it may shrink; a replica move adds a non-negative metric vector to the destination and
    takes it from the source, so one comparison of that vector with the headroom rows checks every
    bounded goal at once, for every broker at once. Headroom is refreshed only for the brokers a move
    touches. A move is accepted when it leaves no broker more outside a goal's aim (`BoundedGoal.aim`:
    its limits, or a band inside them) than before (Cruise Control's rule): headroom of a broker
    already outside is zero, plus float slack. A soft goal that cannot hold on every broker is relaxed
    instead (`relax`, see `goals.relaxed`).
    """

    def __init__(self, placement: Placement, can_receive: np.ndarray):
        super().__init__(placement, can_receive)
        empty = np.zeros((placement.num_brokers, 0))
        self.columns = np.zeros(0, dtype=np.int64)  # metric of each accepted bounded goal
        self.lower, self.upper = empty, empty
        self.room_up, self.room_down = empty, empty
        self.slack_up, self.slack_down = empty, empty
        # relaxed columns (`relax`): the ceiling a broker may grow to, and limit / largest limit
        self.ceiling, self.ratio = empty, empty
        self.relaxed = np.zeros(0, dtype=bool)
        self._relaxed_columns = np.zeros(0, dtype=np.int64)  # flatnonzero(relaxed), for `refresh`
        self.exempt = False  # whether the last column (the goal being optimized) is exempt
        self.reaimed: dict[int, tuple] = {}  # column: what `_after_reaim` needs, while re-aimed

    def add(self, goal: BoundedGoal) -> None:
        lower, upper = goal.aim(self.placement)
        self.columns = np.append(self.columns, goal.metric)
        self.lower = np.column_stack([self.lower, lower])
        self.upper = np.column_stack([self.upper, upper])
        self.slack_up = np.column_stack([self.slack_up, slack(upper)])
        self.slack_down = np.column_stack([self.slack_down, slack(lower)])
        self.room_up = np.column_stack([self.room_up, np.zeros(len(lower))])
        self.room_down = np.column_stack([self.room_down, np.zeros(len(lower))])
        self.ceiling = np.column_stack([self.ceiling, upper])
        self.ratio = np.column_stack([self.ratio, np.ones(len(upper))])
        self.relaxed = np.append(self.relaxed, False)
        self._recompute(len(self.columns) - 1)

    def relax(self, goal: BoundedGoal) -> None:
        """`goal`, the one about to be optimized, holds more in total than its brokers allow: aim it at
        its limits scaled to the cluster's mean level (times RELAXED_BAND), and from now on
        accept what does not make it worse (see `goals.relaxed`). A goal unmet for another reason
        (one replica above every limit) keeps the usual rule, which then freezes only its brokers."""
        k = len(self.columns) - 1
        limit = self.upper[:, k]
        holds = holding_brokers(self.placement)
        allowed = float(limit[holds].sum())
        total = self.placement.shared_total(goal.metric)
        if not (np.isfinite(allowed) and allowed > 0 and total > allowed):
            return
        self.ceiling[:, k] = limit * RELAXED_BAND * total / allowed
        self.ratio[:, k] = limit / limit[holds].max()
        self.relaxed[k] = True
        self._relaxed_columns = np.flatnonzero(self.relaxed)
        self._recompute(k)

    def reaim(self, sets: list[ForcedLoad], label: str) -> str | None:
        """The goal just added cannot hold on a broker set that must hold more than its brokers' upper
        limits allow together (or less than their lower limits ask), whatever the plan. While it is
        optimized, that edge of the set's band moves just far enough to hold the forced level, so the
        goal evens the set out there, the least violation it can have (moves between two brokers both
        above their limits never lowered it). Afterwards (`optimized`) no broker may end more outside
        the limits, so later goals never make the goal worse, with one freedom more for a set whose
        load is fixed and whose brokers share one limit (`_after_reaim`). Why, or None when every set
        can reach the band."""
        k = len(self.columns) - 1
        lower, upper = self.lower[:, k].copy(), self.upper[:, k].copy()
        why = []
        fixed: list[tuple[np.ndarray, bool]] = []  # (brokers, whether above the band) of fixed-load sets
        for name, b, least, most in sets:
            if not len(b) or not (np.isfinite(lower[b]).all() and np.isfinite(upper[b]).all()):
                continue
            high, low = float(upper[b].sum()), float(lower[b].sum())
            is_fixed = least >= most - float(slack(np.array(most)))
            if high > 0 and least > high + float(slack(np.array(high))):
                why.append(f"{name} must hold at least {least:.6g} {label}, {100 * least / high:.0f}% of what "
                           "its brokers allow")
                fixed += [(b, True)] if is_fixed and _one_limit(upper[b]) else []
                upper[b] *= least / high
            elif low > 0 and most < low - float(slack(np.array(low))):
                why.append(f"{name} can hold at most {most:.6g} {label}, {100 * most / low:.0f}% of what its "
                           "brokers need")
                fixed += [(b, False)] if is_fixed and _one_limit(lower[b]) else []
                lower[b] *= most / low
        if not why:
            return None
        self.reaimed[k] = (self.lower[:, k].copy(), self.upper[:, k].copy(), lower, upper, fixed)
        self._set_aim(k, lower, upper)
        return "; ".join(why)

    def _after_reaim(self, k: int, metric: int) -> None:
        """Column k's limits again, once its re-aimed goal is optimized: no broker may end more outside
        them. In a set whose load is fixed (as many replicas as racks: no replica enters or leaves a
        rack) and whose brokers share one limit L, the goal's violation is the set's total above L over
        L, less what the brokers below L lack of it. It cannot grow while the brokers at or above L stay
        at or above it and those below do not fall, so the set's brokers may pass load among them on
        those terms, up to the level the goal evened them out at: the later goals are not frozen there.
        (31 brokers in 3 racks, replication factor 3, one dead: nw_in 1.21 -> 1.13 max/mean
        and cpu 1.47 -> 1.38, disk 1.15 -> 1.13.) Mirrored for a set below the band."""
        lower, upper, aimed_lower, aimed_upper, fixed = self.reaimed.pop(k)
        lower, upper = lower.copy(), upper.copy()
        value = self.placement.metrics[:, metric]
        for b, above in fixed:
            v = value[b]
            if above:
                lower[b] = np.where(v >= upper[b], upper[b], v)
                upper[b] = np.maximum(aimed_upper[b], v)
            else:
                upper[b] = np.where(v <= lower[b], lower[b], v)
                lower[b] = np.minimum(aimed_lower[b], v)
        self._set_aim(k, lower, upper)

    def _set_aim(self, k: int, lower: np.ndarray, upper: np.ndarray) -> None:
        self.lower[:, k], self.upper[:, k], self.ceiling[:, k] = lower, upper, upper
        self.slack_up[:, k], self.slack_down[:, k] = slack(upper), slack(lower)
        self._recompute(k)

    def target(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower[B], upper[B]) the goal being optimized (the last one added) aims at: its `aim`, or
        the relaxed limits."""
        return self.lower[:, -1], self.ceiling[:, -1]

    def optimized(self, goal: BoundedGoal) -> None:
        """A relaxed goal's brokers may grow up to the highest level (share of their limit) it reached;
        a re-aimed one's (`reaim`) are held to its aim again: no broker may end more outside it."""
        k = len(self.columns) - 1
        if k in self.reaimed:
            self._after_reaim(k, goal.metric)
        if not self.relaxed[k]:
            return
        limit = self.upper[:, k]
        holds = holding_brokers(self.placement) & (limit > 0)
        level = self.placement.metrics[holds, goal.metric] / limit[holds]
        if len(level):
            self.ceiling[:, k] = np.maximum(self.ceiling[:, k], limit * level.max())
            self._recompute(k)

    @contextmanager
    def capped(self, caps: dict[int, np.ndarray]) -> Iterator[None]:
        """Within it, each broker's metric m also kept at most `caps[m]` (B,) by every goal bounding m
        (relaxed ones aside): a step that may lower one peak but must raise none."""
        saved = self.upper.copy()
        tightened = [k for k, m in enumerate(self.columns) if int(m) in caps and not self.relaxed[k]]
        for k in tightened:
            self.upper[:, k] = np.minimum(self.upper[:, k], caps[int(self.columns[k])])
            self._recompute(k)
        try:
            yield
        finally:
            self.upper = saved
            for k in tightened:
                self._recompute(k)

    def exempt_last(self, exempt: bool) -> None:
        """While a bounded goal is being optimized its own per-broker "not worse" rule is lifted (the
        search asks instead that its total violation falls), so load can pass through a broker on its
        way from an over-loaded one to an under-loaded one."""
        self.exempt = exempt
        self._recompute(len(self.columns) - 1)

    def _recompute(self, k: int) -> None:
        if self.exempt and k == len(self.columns) - 1:
            self.room_up[:, k] = self.room_down[:, k] = np.inf
            return
        value = self.placement.metrics[:, self.columns[k]]
        if self.relaxed[k]:
            up, down = relaxed_rooms(value, self.upper[:, k], self.ceiling[:, k], self.ratio[:, k])
        else:
            up, down = np.maximum(self.upper[:, k] - value, 0.0), np.maximum(value - self.lower[:, k], 0.0)
        self.room_up[:, k] = up + self.slack_up[:, k]
        self.room_down[:, k] = down + self.slack_down[:, k]

    def refresh(self, brokers) -> None:
        if not len(self.columns):
            return
        relaxed = self._relaxed_columns
        for b in brokers:  # a row at a time reads views, not copies: this runs on every move
            value = self.placement.metrics[b, self.columns]
            up = np.maximum(self.upper[b] - value, 0.0) + self.slack_up[b]
            down = np.maximum(value - self.lower[b], 0.0) + self.slack_down[b]
            if len(relaxed):
                up[relaxed], down[relaxed] = relaxed_rooms(
                    value[relaxed], self.upper[b, relaxed], self.ceiling[b, relaxed], self.ratio[b, relaxed]
                )
                up[relaxed] += self.slack_up[b, relaxed]
                down[relaxed] += self.slack_down[b, relaxed]
            if self.exempt:
                up[-1] = down[-1] = np.inf
            self.room_up[b], self.room_down[b] = up, down

    def destinations(self, vector: np.ndarray, src: int) -> np.ndarray | None:
        need = vector[self.columns]
        if (need > self.room_down[src]).any():
            return np.zeros(self.placement.num_brokers, dtype=bool)
        grows = need > 0
        if not grows.any():
            return None
        # a (B, n) comparison reduced over axis 1: (B,), which numpy's stubs cannot tell from a scalar
        return cast(np.ndarray, (self.room_up[:, grows] >= need[grows]).all(axis=1))

    def fits(self, vectors: np.ndarray, src: np.ndarray, dst) -> np.ndarray:
        need = vectors[:, self.columns]
        return (need <= self.room_up[dst]).all(axis=1) & (need <= self.room_down[src]).all(axis=1)

    def change_ok(self, brokers, change: np.ndarray) -> np.ndarray:
        d = change[..., self.columns]  # rooms are >= 0: a rise needs only room up, a fall only room down
        return ((d <= self.room_up[brokers]) & (d >= -self.room_down[brokers])).all(axis=-1)

    def room(self, broker: int, down: np.ndarray, up: np.ndarray) -> None:
        np.minimum.at(down, self.columns, self.room_down[broker])
        np.minimum.at(up, self.columns, self.room_up[broker])

    def leadership_ok(self, delta: np.ndarray, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        """A leadership move adds its delta to the new leader's broker and takes it from the old one's:
        the same headroom check as a replica's move."""
        return self.fits(delta, old, new)


class BoundedGoal(Goal):
    metric: ClassVar[int]
    constraint = BoundedConstraint
    uses_leadership: ClassVar[bool] = False  # leadership moves can fix it (cheap: no data moves)
    uses_replicas: ClassVar[bool] = True  # replica moves can fix it

    def limits(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        """(lower[B], upper[B]) for the metric; -inf / inf where a broker is unconstrained."""
        raise NotImplementedError

    def aim(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        """(lower[B], upper[B]) a plan brings a violated goal to, and keeps it within while later goals
        move: its limits, unless the goal aims inside them (see `Thresholds.balance_margin`)."""
        return self.limits(placement)

    def check(self, placement: Placement) -> GoalResult:
        """Violation: sum over brokers of the distance outside [lower, upper], relative to the limit."""
        lower, upper = self.limits(placement)
        value = placement.metrics[:, self.metric]
        over = value - upper
        under = lower - value
        bad = np.flatnonzero((over > slack(upper)) | (under > slack(lower)))
        scale = np.where(over[bad] > 0, upper[bad], lower[bad])
        scale = np.where(np.abs(scale) > 0, np.abs(scale), 1.0)
        violation = float((np.maximum(over[bad], under[bad]) / scale).sum())
        worst = bad[np.argsort(-np.maximum(over[bad], under[bad]) / scale, kind="stable")]
        ids = [int(placement.arrays.broker_ids[b]) for b in worst]
        detail = describe([self.describe_broker(placement, b, lower[b], upper[b]) for b in worst[:5]], 5)
        if len(worst) > 5:
            detail += f" and {len(worst) - 5} more brokers"
        return GoalResult(self.name, self.hard, len(bad) == 0, violation, brokers=ids, detail=detail)

    def describe_broker(self, placement: Placement, broker: int, lower: float, upper: float) -> str:
        held = self.quantity(placement, broker, placement.metrics[broker, self.metric])
        bid = placement.arrays.broker_ids[broker]
        if not placement.arrays.holds_data[broker]:
            return f"broker {bid} ({_status(placement, broker)}) still holds {held}"
        if np.isfinite(lower):
            allowed = (
                f"allowed {self.format(placement, broker, lower)}-{self.format(placement, broker, upper)}"
            )
        else:
            allowed = f"limit {self.format(placement, broker, upper)}"
        return f"broker {bid}: {held} ({allowed})"

    def quantity(self, placement: Placement, broker: int, value: float) -> str:
        """'376 replicas' (counts) or 'disk 63.4%' (resources)."""
        return f"{self.format(placement, broker, value)} {self.label}"

    @property
    def label(self) -> str:
        return METRICS[self.metric]

    def format(self, placement: Placement, broker: int, value: float) -> str:
        return f"{value:.0f}"

    def optimize(self, search: Search) -> None:
        search.balance(self)

    def forced_data(self, data: ForcedData) -> tuple[np.ndarray, np.ndarray] | None:
        """Disk above the upper limit must leave, below the lower limit arrive; replicas above the
        count limit leave as the broker's smallest, missing ones arrive as the cluster's smallest."""
        p = data.placement
        if self.metric == DISK:
            lower, upper = self.limits(p)
            return data.disk - upper, np.where(data.can_receive, lower - data.disk, 0.0)
        if self.metric != REPLICAS:
            return None
        lower, upper = self.limits(p)
        brokers = p.num_brokers
        count = p.metrics[:, REPLICAS] - np.bincount(p.slot_broker, weights=data.stranded, minlength=brokers)
        excess = np.where(np.isfinite(upper), np.maximum(count - upper, 0), 0).astype(np.int64)
        leave = data.smallest_per_group(p.slot_broker, data.movable_disk, excess, brokers)
        missing = np.where(data.can_receive & np.isfinite(lower), np.maximum(lower - count, 0), 0).astype(
            np.int64
        )
        return leave, data.smallest[np.minimum(missing, len(data.smallest) - 1)]

    def infeasible(self, placement: Placement) -> str | None:
        """When the brokers that keep data cannot hold the metric within their limits: the cluster holds
        more in total than they allow together, or one partition puts more on any broker holding it
        (even as a follower) than every one of them allows."""
        upper = self.limits(placement)[1]
        holds = holding_brokers(placement)
        if not holds.any():
            return None
        total = placement.shared_total(self.metric)
        allowed = float(upper[holds].sum())
        if total > allowed + float(slack(np.array(allowed))):
            share = f" ({100 * total / allowed:.0f}% of that)" if allowed > 0 else ""
            return (
                f"the cluster holds {total:.6g} {self.label} in total but its brokers allow {allowed:.6g}{share}"
            )
        online = np.flatnonzero(placement.arrays.leader >= 0)
        least = np.minimum(placement.leader_vec[online, self.metric], placement.follower_vec[online, self.metric])
        most = float(upper[holds].max())
        if len(online) and least.max() > most + float(slack(np.array(most))):
            from kafka_medic.goals.leader import partition_name  # leader goals build on this module

            name = partition_name(placement, int(online[np.argmax(least)]))
            return f"partition {name} alone puts {least.max():.6g} {self.label} on a broker, above every broker's limit"
        return None

    def why_unmet(self, placement: Placement, movable: np.ndarray) -> str | None:
        return self.infeasible(placement)


class ResourceGoal(BoundedGoal):
    """A bounded goal on one resource (disk, nw_in, nw_out, cpu); values print as % of capacity."""

    resource: ClassVar[str]

    @property
    def label(self) -> str:
        return self.resource

    def quantity(self, placement: Placement, broker: int, value: float) -> str:
        return f"{self.label} {self.format(placement, broker, value)}"

    def format(self, placement: Placement, broker: int, value: float) -> str:
        """Percent of the broker's capacity, the unit operators reason in."""
        capacity = placement.arrays.capacity[broker, RESOURCES.index(self.resource)]
        return f"{100.0 * value / capacity:.3g}%" if capacity > 0 else f"{value:.3g} (no capacity)"


def holding_brokers(placement: Placement) -> np.ndarray:
    """Brokers that may keep data after a plan; the others must end empty."""
    return placement.arrays.holds_data


def alive_racks(placement: Placement) -> np.ndarray:
    """(racks,) whether each rack has a broker that keeps data."""
    rack = placement.arrays.rack
    alive = np.zeros(int(rack.max()) + 1 if len(rack) else 0, dtype=bool)
    alive[rack[holding_brokers(placement)]] = True
    return alive


def _status(placement: Placement, broker: int) -> str:
    return "dead" if not placement.arrays.alive[broker] else "decommissioned"
