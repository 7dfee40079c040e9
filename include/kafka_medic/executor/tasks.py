"""Turn a proposal's moves into executor tasks, checked against what the cluster looks like now.

A task is one partition's change. A replica task changes the replica list (set or order) through a
reassignment; a leader task only changes the leader, through a preferred leader election. Moves the
cluster already reflects are skipped, and moves written for a different assignment (a stale proposal)
are refused per partition rather than applied over someone else's change.
"""

from __future__ import annotations

from dataclasses import dataclass

from kafka_medic.kafka.state import ClusterState, PartitionState
from kafka_medic.model import Move

REPLICA = "replica"
LEADER = "leader"


@dataclass(frozen=True)
class Task:
    topic: str
    partition: int
    kind: str  # REPLICA or LEADER
    old_replicas: tuple[int, ...]
    new_replicas: tuple[int, ...]
    old_leader: int | None
    new_leader: int | None
    size_bytes: int  # the partition's size when planned: what each added replica must copy

    @property
    def key(self) -> tuple[str, int]:
        return (self.topic, self.partition)

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.partition}"

    @property
    def added(self) -> tuple[int, ...]:
        return tuple(b for b in self.new_replicas if b not in self.old_replicas)

    @property
    def removed(self) -> tuple[int, ...]:
        return tuple(b for b in self.old_replicas if b not in self.new_replicas)

    @property
    def leader_changes(self) -> bool:
        return self.new_leader is not None and self.new_leader != self.old_leader

    @property
    def bytes_to_move(self) -> int:
        return self.size_bytes * len(self.added)

    def as_dict(self) -> dict:
        return {
            "topic": self.topic, "partition": self.partition, "kind": self.kind,
            "old_replicas": list(self.old_replicas), "new_replicas": list(self.new_replicas),
            "old_leader": self.old_leader, "new_leader": self.new_leader, "size_bytes": self.size_bytes,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Task:
        return cls(
            topic=data["topic"], partition=data["partition"], kind=data["kind"],
            old_replicas=tuple(data["old_replicas"]), new_replicas=tuple(data["new_replicas"]),
            old_leader=data["old_leader"], new_leader=data["new_leader"], size_bytes=data["size_bytes"],
        )


@dataclass(frozen=True)
class Skipped:
    task: Task
    reason: str


def tasks_for(moves: list[Move], state: ClusterState) -> tuple[list[Task], list[Skipped]]:
    """Tasks for the moves still to do, in proposal order, and the moves skipped with the reason."""
    partitions = {(p.topic, p.partition): p for p in state.partitions}
    tasks: list[Task] = []
    skipped: list[Skipped] = []
    for move in moves:
        p = partitions.get((move.topic, move.partition))
        reason = _skip_reason(move, p, state)
        if reason:
            skipped.append(Skipped(_task_from_move(move, p), reason))
            continue
        current = [b for b in p.replicas if b not in p.adding_replicas]
        kind = LEADER if current == list(move.new_replicas) else REPLICA
        tasks.append(
            Task(
                topic=move.topic, partition=move.partition, kind=kind,
                old_replicas=tuple(current), new_replicas=tuple(move.new_replicas),
                old_leader=p.leader, new_leader=move.new_leader, size_bytes=p.size_bytes,
            )
        )
    return tasks, skipped


def reassignment_target(p: PartitionState) -> list[int]:
    """Where an in-flight reassignment is heading: the replica list without the replicas being removed."""
    return [b for b in p.replicas if b not in p.removing_replicas]


def _skip_reason(move: Move, p: PartitionState | None, state: ClusterState) -> str | None:
    if p is None:
        return "no such partition in the cluster"
    new = list(move.new_replicas)
    if p.reassigning:
        if reassignment_target(p) == new:
            return None  # already on its way (e.g. submitted before a crash): the task adopts it
        return f"already being reassigned to {reassignment_target(p)} by someone else"
    if list(p.replicas) == new and (move.new_leader is None or p.leader == move.new_leader):
        return "already as proposed"
    if list(p.replicas) not in (list(move.old_replicas), new):
        return f"replicas are {p.replicas}, the proposal expected {move.old_replicas} (stale proposal)"
    dead = [b for b in move.new_replicas if b not in state.brokers or not state.brokers[b].alive]
    if dead:
        return f"destination broker {dead[0]} is not alive"
    return None


def _task_from_move(move: Move, p: PartitionState | None) -> Task:
    return Task(
        topic=move.topic, partition=move.partition,
        kind=LEADER if list(move.old_replicas) == list(move.new_replicas) else REPLICA,
        old_replicas=tuple(move.old_replicas), new_replicas=tuple(move.new_replicas),
        old_leader=move.old_leader, new_leader=move.new_leader, size_bytes=p.size_bytes if p else 0,
    )
