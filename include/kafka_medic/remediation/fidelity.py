"""Plan fidelity: what a proposal was planned on, its digest, and whether the live cluster has drifted from it.

Cruise Control's most common complaint is an execution that runs what was approved long ago. A plan's
basis is the few facts it depends on: which brokers were alive or dead, the replicas of the partitions
it moves, each broker's load and capacity per resource and when it was planned. The approval records the
digest of the moves plus the basis; right before the first move the basis is taken again from the live
cluster and `drift` says why the plan is stale, if it is (brokers, assignments, a broker's load changed by
more than `max_drift` of its capacity, age beyond `max_age_s`), so the run re-plans and asks again instead
of executing it (`airflow.fidelity`). Load drift is measured against capacity, not against the cluster's
total: a quiet cluster's loads are small and noisy, and a change that moves no broker's utilisation does
not make a plan wrong.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass

from kafka_medic.model import RESOURCES, ClusterArrays, ClusterModel, Proposal, proposal_to_dict


@dataclass(frozen=True)
class PlanBasis:
    alive: list[int]
    dead: list[int]
    assignments: dict[str, list[int]]  # "topic-partition" -> replicas, of the partitions the plan moves
    load: dict[str, dict[str, float]]  # resource -> broker id (as text, a JSON key) -> its load
    capacity: dict[str, dict[str, float]]  # the same keys -> the broker's capacity
    planned_at: float

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PlanBasis:
        return cls(**data)


def plan_basis(model: ClusterModel, proposal: Proposal, now: float | None = None) -> PlanBasis:
    """The basis of `proposal` in `model`: at planning, the model it was planned on; before the first move,
    the live cluster's model, taken the same way."""
    moved = {(m.topic, m.partition) for m in proposal.moves}
    arrays = ClusterArrays.from_model(model)
    ids = [str(b) for b in arrays.broker_ids.tolist()]

    def by_resource(values) -> dict[str, dict[str, float]]:
        columns = zip(RESOURCES, values.T.tolist(), strict=True)
        return {resource: dict(zip(ids, column, strict=True)) for resource, column in columns}

    return PlanBasis(
        alive=sorted(b.id for b in model.brokers if b.alive),
        dead=sorted(b.id for b in model.brokers if not b.alive),
        assignments={f"{p.topic}-{p.partition}": list(p.replicas) for p in model.partitions
                     if (p.topic, p.partition) in moved},
        load=by_resource(arrays.broker_load()),
        capacity=by_resource(arrays.capacity),
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
    for resource, brokers in planned.load.items():
        now, capacity = live.load.get(resource, {}), planned.capacity.get(resource, {})
        shares = [(abs(now.get(b, 0.0) - v) / capacity[b], b) for b, v in brokers.items() if capacity.get(b, 0) > 0]
        share, broker = max(shares, default=(0.0, ""))
        if share > max_drift:
            return (f"broker {broker}'s {resource} load changed by {share:.0%} of its capacity since planning, "
                    f"more than the policy's max_plan_drift {max_drift:.0%}")
    return None
