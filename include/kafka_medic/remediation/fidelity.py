"""Plan fidelity: what a proposal was planned on, its digest, and whether the live cluster has drifted from it.

Cruise Control's most common complaint is an execution that runs what was approved long ago. A plan's
basis is the few facts it depends on: which brokers were alive or dead, the replicas of the partitions
it moves, each broker's load and when it was planned. The approval records the digest of the moves
plus the basis; right before the first move the basis is taken again from the live cluster and `drift`
says why the plan is stale, if it is (brokers, assignments, load beyond `max_drift`, age beyond
`max_age_s`), so the run re-plans and asks again instead of executing it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from kafka_medic.kafka.state import ClusterState
from kafka_medic.model import Proposal, proposal_to_dict


@dataclass(frozen=True)
class PlanBasis:
    alive: list[int]
    dead: list[int]
    assignments: dict[str, list[int]]  # "topic-partition" -> replicas, of the partitions the plan moves
    load: dict[str, float]  # broker id (as text, a JSON key) -> its load, in whatever unit the caller plans on
    planned_at: float

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PlanBasis:
        return cls(**data)


def plan_basis(state: ClusterState, proposal: Proposal, load: Mapping[int, float],
               now: float | None = None) -> PlanBasis:
    moved = {(m.topic, m.partition) for m in proposal.moves}
    return PlanBasis(
        alive=state.alive_brokers, dead=state.dead_brokers,
        assignments={f"{p.topic}-{p.partition}": list(p.replicas) for p in state.partitions
                     if (p.topic, p.partition) in moved},
        load={str(b): float(v) for b, v in sorted(load.items())},
        planned_at=time.time() if now is None else now,
    )


def plan_digest(proposal: Proposal, basis: PlanBasis) -> str:
    """A stable hash of the moves and the basis: what a person approved, recorded with the approval."""
    text = json.dumps({"moves": proposal_to_dict(proposal)["moves"], "basis": basis.as_dict()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def drift(planned: PlanBasis, live: PlanBasis, max_drift: float, max_age_s: float) -> str | None:
    """Why the plan no longer fits the live cluster, or None when it still does."""
    age = live.planned_at - planned.planned_at
    if age > max_age_s:
        return f"the plan is {age / 60:.0f} min old, more than the policy's {max_age_s / 60:.0f} min"
    if (planned.alive, planned.dead) != (live.alive, live.dead):
        return (f"brokers changed since planning: alive {planned.alive} -> {live.alive}, "
                f"dead {planned.dead} -> {live.dead}")
    changed = sorted(k for k in planned.assignments if planned.assignments[k] != live.assignments.get(k))
    if changed:
        key = changed[0]
        return (f"{len(changed)} planned partition(s) were reassigned since planning, e.g. {key}: "
                f"{planned.assignments[key]} -> {live.assignments.get(key, 'gone')}")
    total = sum(planned.load.values())
    if total > 0:
        moved = max((abs(live.load.get(b, 0.0) - v), b) for b, v in planned.load.items())
        if moved[0] / total > max_drift:
            return (f"broker {moved[1]}'s load drifted by {moved[0] / total:.0%} of the cluster's since planning, "
                    f"more than the policy's max_plan_drift {max_drift:.0%}")
    return None
