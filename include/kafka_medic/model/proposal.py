"""The proposal file, "kafka-medic/proposal/v1": the moves that turn one cluster model into a better one.

`apply_proposal` is how the planner's tests, the executor's dry runs and offline comparisons replay a
proposal on a model; it refuses moves whose `old_replicas` no longer match the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from kafka_medic.model.cluster import ClusterModel, ModelError
from kafka_medic.model.fields import Fields, bulk_objects, check_format, entry_name, load_document, write_json

PROPOSAL_FORMAT = "kafka-medic/proposal/v1"


@dataclass
class Move:
    topic: str
    partition: int
    old_replicas: list[int]
    new_replicas: list[int]
    old_leader: int | None
    new_leader: int | None

    @property
    def added_brokers(self) -> list[int]:
        """Brokers that must copy the partition's data: the spec's definition of a replica move."""
        return [b for b in self.new_replicas if b not in self.old_replicas]


@dataclass
class Proposal:
    cluster: str
    goals: list[str]
    moves: list[Move]
    stats: dict[str, Any] = field(default_factory=dict)


def proposal_to_dict(proposal: Proposal) -> dict[str, Any]:
    return {
        "format": PROPOSAL_FORMAT,
        "cluster": proposal.cluster,
        "goals": list(proposal.goals),
        "moves": [
            {
                "topic": m.topic,
                "partition": m.partition,
                "old_replicas": list(m.old_replicas),
                "new_replicas": list(m.new_replicas),
                "old_leader": m.old_leader,
                "new_leader": m.new_leader,
            }
            for m in proposal.moves
        ],
        "stats": proposal.stats,
    }


def parse_proposal(data: Any) -> Proposal:
    root = Fields(data, "proposal")
    check_format(root, PROPOSAL_FORMAT)
    goals = root.array("goals")
    if not all(isinstance(g, str) for g in goals):
        raise root.fail("'goals' must be a list of goal names")
    stats = root.obj("stats", "stats").data
    moves = [_parse_move(item, i) for i, item in enumerate(root.array("moves"))]
    return Proposal(cluster=root.string("cluster"), goals=goals, moves=moves, stats=stats)


def load_proposal(path: str | os.PathLike) -> Proposal:
    return load_document(path, parse_proposal)


def save_proposal(proposal: Proposal, path: str | os.PathLike) -> None:
    with bulk_objects():
        write_json(proposal_to_dict(proposal), path)


def apply_proposal(model: ClusterModel, proposal: Proposal) -> ClusterModel:
    """A new model with every move applied; the input model is not changed."""
    index = {(p.topic, p.partition): i for i, p in enumerate(model.partitions)}
    broker_ids = {b.id for b in model.brokers}
    partitions = list(model.partitions)
    for number, move in enumerate(proposal.moves):
        label = f"moves[{number}] ({move.topic}-{move.partition})"
        i = index.get((move.topic, move.partition))
        if i is None:
            raise ModelError(f"{label}: no such partition in cluster {model.cluster!r}")
        current = partitions[i]
        if list(current.replicas) != list(move.old_replicas):
            raise ModelError(
                f"{label}: old_replicas {move.old_replicas} do not match the model's {current.replicas}"
            )
        unknown = [b for b in move.new_replicas if b not in broker_ids]
        if unknown:
            raise ModelError(f"{label}: new replica on unknown broker {unknown[0]}")
        partitions[i] = replace(current, replicas=list(move.new_replicas), leader=move.new_leader,
                                offline_replicas=[b for b in current.offline_replicas if b in move.new_replicas])
    return replace(model, partitions=partitions)


def _parse_move(item: Any, index: int) -> Move:
    label = f"moves[{index}]"
    label += entry_name(item)
    fields = Fields(item, label)
    move = Move(
        topic=fields.string("topic"),
        partition=fields.integer("partition"),
        old_replicas=fields.int_list("old_replicas"),
        new_replicas=fields.int_list("new_replicas"),
        old_leader=fields.integer("old_leader", nullable=True),
        new_leader=fields.integer("new_leader", nullable=True),
    )
    if len(move.new_replicas) != len(move.old_replicas):
        raise fields.fail(
            f"new_replicas {move.new_replicas} change the replication factor of {move.old_replicas}"
        )
    if move.new_leader is not None and move.new_leader not in move.new_replicas:
        raise fields.fail(f"new_leader {move.new_leader} is not one of new_replicas {move.new_replicas}")
    return move
