"""Turn a finished search into a proposal: the moves that differ from the model, and their stats.

`stats` starts with the spec's keys, in the spec's order, then adds what people and the approval gate
need to judge the plan: per-broker load before and after, utilisation spread, goal details, the data
lower bound and the goal that caused each move.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from kafka_medic.goals.base import GoalResult
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.model.placement import LEADERS, REPLICAS, Placement
from kafka_medic.model.proposal import Move, Proposal
from kafka_medic.optimizer.balancedness import balancedness
from kafka_medic.optimizer.search import EVACUATION

BROKER_FIELDS = (*RESOURCES, "replicas", "leaders")
_BROKER_COLUMNS = [*range(len(RESOURCES)), REPLICAS, LEADERS]


def moves_of(placement: Placement) -> tuple[list[Move], np.ndarray]:
    """Moves for every partition whose replica list or leader changed, and those partitions' indexes."""
    a = placement.arrays
    old = placement.original_brokers
    new = placement.partition_brokers(np.arange(a.num_partitions))
    old_leader, new_leader = a.leader, placement.leaders()
    changed = np.flatnonzero((old != new).any(axis=1) | (old_leader != new_leader))
    ids = a.broker_ids
    moves = []
    for p in changed:
        rf = placement.rf[p]
        moves.append(
            Move(
                topic=a.topics[a.partition_topic[p]],
                partition=int(a.partition_number[p]),
                old_replicas=ids[old[p, :rf]].tolist(),
                new_replicas=ids[new[p, :rf]].tolist(),
                old_leader=int(ids[old_leader[p]]) if old_leader[p] >= 0 else None,
                new_leader=int(ids[new_leader[p]]) if new_leader[p] >= 0 else None,
            )
        )
    return moves, changed


def added_replicas(placement: Placement) -> np.ndarray:
    """(P,) brokers in each partition's new replica list that were not in its old one."""
    old = placement.original_brokers
    new = placement.partition_brokers(np.arange(placement.arrays.num_partitions))
    return ((new[:, :, None] != old[:, None, :]).all(axis=2) & (new >= 0)).sum(axis=1)


def build_proposal(
    placement: Placement,
    cluster: str,
    before: list[GoalResult],
    after: list[GoalResult],
    before_metrics: np.ndarray,
    reasons: list[str | None],
    left_behind: int,
    stranded: list[str],
    infeasible: list[dict[str, Any]],
    lower_bound_mb: float,
    options: dict[str, Any],
    duration_s: float,
) -> Proposal:
    a = placement.arrays
    moves, changed = moves_of(placement)
    added = added_replicas(placement)
    data = float((added * a.leader_load[:, 0]).sum())
    move_reasons = [reasons[p] for p in changed]
    stats: dict[str, Any] = {
        "num_replica_moves": int(added.sum()),
        "num_leader_moves": int(
            sum(m.old_leader != m.new_leader and m.new_leader is not None for m in moves)
        ),
        "data_to_move_mb": round(data, 3),
        "balancedness_before": balancedness(before),
        "balancedness_after": balancedness(after),
        "violated_goals_before": [r.goal for r in before if not r.satisfied],
        "violated_goals_after": [r.goal for r in after if not r.satisfied],
        "duration_s": round(duration_s, 3),
        "num_partitions_changed": len(moves),
        "data_lower_bound_mb": round(lower_bound_mb, 3),
        "data_to_lower_bound": round(data / lower_bound_mb, 3) if lower_bound_mb > 0 else None,
        "moves_by_goal": _by_goal(move_reasons, [r.goal for r in after]),
        "replicas_left_behind": left_behind,
        "offline_partitions_stranded": stranded,
        "left_behind_brokers": _left_behind(placement) if left_behind or stranded else [],
        "infeasible_goals": [{**goal, "best_reached": round(goal["best_reached"], 6)} for goal in infeasible],
        "goal_results_before": [_result(r) for r in before],
        "goal_results_after": [_result(r) for r in after],
        "utilisation_before": utilisation(placement, before_metrics),
        "utilisation_after": utilisation(placement, placement.metrics),
        "brokers": _brokers(placement, before_metrics),
        "move_reasons": move_reasons,
        "options": options,
    }
    return Proposal(cluster=cluster, goals=[r.goal for r in after], moves=moves, stats=stats)


def _by_goal(reasons: list[str | None], goals: list[str]) -> dict[str, int]:
    """Moves per cause, in priority order (evacuating dead brokers first)."""
    counts = Counter(reasons)
    return {name: counts[name] for name in [EVACUATION, *goals] if counts[name]}


def _left_behind(placement: Placement) -> list[dict[str, Any]]:
    """Brokers that must end empty but still hold replicas, and live brokers that keep replicas on a
    failed disk (a capped heal, or offline partitions)."""
    a = placement.arrays
    count = placement.metrics[:, REPLICAS]
    kept = a.replica_offline & (placement.slot_broker == a.replica_broker)
    on_failed_disks = np.bincount(placement.slot_broker[kept], minlength=a.num_brokers)
    return [
        {"id": int(a.broker_ids[b]), "state": _state(a, b), "replicas": int(count[b])}
        for b in np.flatnonzero(~a.holds_data & (count > 0))
    ] + [
        {"id": int(a.broker_ids[b]), "state": "failed-disk", "replicas": int(on_failed_disks[b])}
        for b in np.flatnonzero(a.holds_data & (on_failed_disks > 0))
    ]


def _state(a, broker: int | np.integer) -> str:
    return "dead" if not a.alive[broker] else "decommission" if a.decommission[broker] else "alive"


def utilisation(placement: Placement, metrics: np.ndarray) -> dict[str, dict[str, float | None]]:
    """Per resource, over brokers that keep data: mean and max % of capacity, and max / mean."""
    a = placement.arrays
    holds = a.holds_data & (a.capacity > 0).all(axis=1)
    out = {}
    for r, name in enumerate(RESOURCES):
        capacity = a.capacity[holds, r]
        load = metrics[holds, r]
        mean = load.sum() / capacity.sum() if capacity.sum() > 0 else 0.0
        peak = float((load / capacity).max()) if len(capacity) else 0.0
        out[name] = {
            "mean_pct": round(100 * mean, 3),
            "max_pct": round(100 * peak, 3),
            "max_over_mean": round(peak / mean, 4) if mean > 0 else None,
        }
    return out


def _brokers(placement: Placement, before_metrics: np.ndarray) -> list[dict[str, Any]]:
    a = placement.arrays
    rows = []
    for b in range(placement.num_brokers):
        row: dict[str, Any] = {"id": int(a.broker_ids[b]), "state": _state(a, b), "excluded": bool(a.excluded[b])}
        row["capacity"] = {r: float(a.capacity[b, i]) for i, r in enumerate(RESOURCES)}
        row["before"] = _load(before_metrics[b])
        row["after"] = _load(placement.metrics[b])
        rows.append(row)
    return rows


def _load(metrics: np.ndarray) -> dict[str, float]:
    values = metrics[_BROKER_COLUMNS]
    return {name: round(float(v), 3) for name, v in zip(BROKER_FIELDS, values, strict=True)}


def _result(r: GoalResult) -> dict[str, Any]:
    return {
        "goal": r.goal,
        "hard": r.hard,
        "satisfied": r.satisfied,
        "violation": round(r.violation, 6),
        "detail": r.detail,
    }
