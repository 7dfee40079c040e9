"""`plan(model, options) -> Proposal`: the planner's Python API (CLI, DAGs and executor call this)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from kafka_medic.errors import MedicError
from kafka_medic.goals.base import Thresholds
from kafka_medic.goals.catalog import make_goals
from kafka_medic.goals.leader import partition_name
from kafka_medic.limits import InvalidRegex, topic_regex
from kafka_medic.model.cluster import ClusterModel
from kafka_medic.model.placement import Placement
from kafka_medic.model.proposal import Proposal
from kafka_medic.optimizer.lower_bound import data_lower_bound_mb
from kafka_medic.optimizer.proposal import build_proposal
from kafka_medic.optimizer.search import PlanError, Search


@dataclass
class PlanOptions:
    goals: Sequence[str] | None = None  # priority order; default: the spec's sixteen
    excluded_topics: str | None = None  # regex (full match): never moved, except off dead brokers
    only_move_to: Sequence[int] | None = None  # broker ids that may receive replicas and leadership
    max_replica_moves: int | None = None
    # move only what must leave dead and decommissioned brokers and failed disks (and leadership), as
    # Cruise Control's self-healing and DoctorKafka do: the least data to restore every replica; the
    # soft goals then only choose where those replicas go. Hard goals still move what they must.
    heal_only: bool = False
    seed: int = 0  # breaks ties between equally good destinations
    thresholds: Thresholds = field(default_factory=Thresholds)


def plan(model: ClusterModel, options: PlanOptions | None = None) -> Proposal:
    """The proposal that meets every hard goal and as many soft goals as it can, in priority order.

    Raises PlanError (a MedicError) naming the goal and brokers or partitions when a hard goal cannot
    be met, and MedicError for invalid options. A max_replica_moves below what must leave dead or
    decommissioned brokers gives a partial plan instead, never an error: stats["replicas_left_behind"]
    says how many stay, and where, and violated_goals_after what the next plan must still fix. Offline
    partitions are never moved; those on dead brokers are listed in stats["offline_partitions_stranded"].
    A soft goal no placement can meet is optimized as far as it goes and then only kept from getting
    worse, so the goals after it still work: stats["infeasible_goals"] names it, why and its violation
    after its own step (which later goals never raise).
    """
    started = time.perf_counter()
    options = options or PlanOptions()
    if options.max_replica_moves is not None and options.max_replica_moves < 0:
        raise MedicError(f"max_replica_moves: {options.max_replica_moves} is negative; give 0 or more")
    goals = make_goals(options.goals, options.thresholds)
    placement = Placement.from_model(model)
    can_receive = _receivers(placement, options.only_move_to)
    movable = _movable(placement, options.excluded_topics)
    before = [goal.check(placement) for goal in goals]
    before_metrics = placement.metrics.copy()
    lower_bound = data_lower_bound_mb(placement, goals, can_receive)
    search = Search(placement, can_receive, movable, options.max_replica_moves, options.seed, options.heal_only)
    search.run(goals)
    after = [goal.check(placement) for goal in goals]
    broken = [r for r in after if r.hard and not r.satisfied and not search.excused(r)]
    if broken:  # an earlier hard goal broken by a later one would be a planner bug: never ship it
        raise PlanError(f"hard goal {broken[0].goal} is violated after planning: {broken[0].detail}")
    option_stats = asdict(options)
    option_stats["goals"] = [goal.name for goal in goals]
    option_stats["thresholds"] = {**asdict(options.thresholds), "capacity": dict(options.thresholds.capacity)}
    return build_proposal(
        placement,
        model.cluster,
        before,
        after,
        before_metrics,
        search.reason_names(),
        search.left_behind,
        [partition_name(placement, part) for part in search.stranded],
        search.infeasible,
        lower_bound,
        option_stats,
        time.perf_counter() - started,
    )


def _receivers(placement: Placement, only_move_to: Sequence[int] | None) -> np.ndarray:
    a = placement.arrays
    can_receive = a.holds_data & ~a.excluded
    if only_move_to is not None:
        unknown = sorted(set(only_move_to) - set(a.broker_ids.tolist()))
        if unknown:
            raise MedicError(f"only_move_to names unknown broker {unknown[0]}")
        can_receive &= np.isin(a.broker_ids, list(only_move_to))
    return can_receive


def _movable(placement: Placement, excluded_topics: str | None) -> np.ndarray:
    """(P,) partitions the plan may change: online (a partition with no leader cannot copy its data
    to a new replica, nor elect one) and not of an excluded topic."""
    a = placement.arrays
    online = a.leader >= 0
    if not excluded_topics:
        return online
    try:
        pattern = topic_regex(excluded_topics)
    except InvalidRegex as exc:
        raise MedicError(f"excluded topics: invalid regex {excluded_topics!r}: {exc.reason}") from exc
    excluded = np.array([pattern.fullmatch(t) is not None for t in a.topics], dtype=bool)
    return online & ~excluded[a.partition_topic] if len(a.topics) else online
