"""Demotion: take leadership off brokers (e.g. before maintenance) without moving any data.

As Cruise Control's demote does, each partition keeps its replicas but lists the demoted brokers last,
so the first remaining replica becomes the preferred leader and Kafka's own preferred-leader election
does not hand leadership back while the brokers are demoted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from kafka_medic.errors import MedicError
from kafka_medic.goals import check
from kafka_medic.model import ClusterModel, Move, Proposal, apply_proposal
from kafka_medic.optimizer.balancedness import balancedness


def demote(model: ClusterModel, brokers: Sequence[int]) -> Proposal:
    """Moves that put `brokers` last in every replica list and elect the new first replica where they lead."""
    started = time.perf_counter()
    demoted = set(brokers)
    unknown = sorted(demoted - {b.id for b in model.brokers})
    if unknown:
        raise MedicError(f"cannot demote unknown broker {unknown[0]}")
    alive = {b.id for b in model.brokers if b.alive}
    moves = []
    for p in model.partitions:
        replicas = [b for b in p.replicas if b not in demoted] + [b for b in p.replicas if b in demoted]
        if replicas == list(p.replicas) and p.leader not in demoted:
            continue
        leader = next((b for b in replicas if b in alive), None) if p.leader in demoted else p.leader
        if leader in demoted:
            leader = p.leader  # only demoted replicas are alive: leadership cannot go anywhere
        moves.append(Move(p.topic, p.partition, list(p.replicas), replicas, p.leader, leader))
    proposal = Proposal(cluster=model.cluster, goals=[], moves=moves)
    before, after = check(model), check(apply_proposal(model, proposal))
    proposal.stats = {
        "num_replica_moves": 0,
        "num_leader_moves": sum(m.new_leader != m.old_leader for m in moves),
        "data_to_move_mb": 0.0,
        "balancedness_before": balancedness(before),
        "balancedness_after": balancedness(after),
        "violated_goals_before": [r.goal for r in before if not r.satisfied],
        "violated_goals_after": [r.goal for r in after if not r.satisfied],
        "duration_s": round(time.perf_counter() - started, 3),
        "num_partitions_changed": len(moves),
    }
    proposal.goals = [r.goal for r in after]
    return proposal
