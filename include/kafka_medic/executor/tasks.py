"""Turn a proposal's moves into executor tasks, checked against what the cluster looks like now.

A task is one partition's change. A replica task changes the replica list (set or order) through a
reassignment; a leader task only changes the leader, through a preferred leader election. Moves the
cluster already reflects are skipped, and moves written for a different assignment (a stale proposal)
are refused per partition rather than applied over someone else's change.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from kafka_medic.errors import MedicError
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

    @cached_property
    def added(self) -> tuple[int, ...]:
        """Cached: a poll of 2,000 moves asks for it ~13,000 times (batches, progress, throttles)."""
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
    invalid: bool = False  # the move does not fit the cluster (no such partition or broker, stale)


def refuse_invalid(skipped: list[Skipped]) -> None:
    """A MedicError naming the moves that do not fit the cluster, before anything is written: a proposal
    planned for another cluster, or for an earlier state of this one, is planned again, not half done.
    Moves already done, under way to the same target, or onto a broker that is down are only skipped."""
    bad = [s for s in skipped if s.invalid]
    if bad:
        shown = "; ".join(f"{s.task.name}: {s.reason}" for s in bad[:3])
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise MedicError(f"proposal refused, nothing changed: {len(bad)} of its moves do not fit the cluster "
                         f"({shown}{more}); plan again")


def leader_first(replicas: list[int], leader: int | None) -> list[int]:
    """The replica list with the proposed leader first, the others in their order.

    Kafka elects only a partition's first replica (the preferred one) on request, and its automatic
    leader rebalance moves leadership back there: a leader proposed elsewhere in the list could neither
    be made leader nor stay it, and the report would call the move undone. Cruise Control reads a
    proposal's leader as its first replica for the same reason.
    """
    replicas = list(replicas)
    if leader is None or leader not in replicas or replicas[0] == leader:
        return replicas
    return [leader, *(b for b in replicas if b != leader)]


def tasks_for(moves: list[Move], state: ClusterState) -> tuple[list[Task], list[Skipped]]:
    """Tasks for the moves still to do, in proposal order, and the moves skipped with the reason."""
    partitions = state.by_key
    tasks: list[Task] = []
    skipped: list[Skipped] = []
    for move in moves:
        p = partitions.get((move.topic, move.partition))
        if p is None:
            skipped.append(Skipped(_task_from_move(move, p), "no such partition in the cluster", invalid=True))
            continue
        invalid = _invalid_reason(move, p, state)
        reason = invalid or _skip_reason(move, p, state)
        if reason:
            skipped.append(Skipped(_task_from_move(move, p), reason, invalid=bool(invalid)))
            continue
        current = [b for b in p.replicas if b not in p.adding_replicas]
        new_replicas = leader_first(move.new_replicas, move.new_leader)
        kind = LEADER if current == new_replicas else REPLICA
        tasks.append(
            Task(
                topic=move.topic, partition=move.partition, kind=kind,
                old_replicas=tuple(current), new_replicas=tuple(new_replicas),
                old_leader=p.leader, new_leader=move.new_leader, size_bytes=p.size_bytes,
            )
        )
    return tasks, skipped


def half_way(task: Task, p: PartitionState) -> bool:
    """Topic metadata shows the move half-way (old and new replicas together) while the controller lists
    no reassignment for it: the metadata lags the controller, whatever the controller did.

    Each broker answers from its own copy of the metadata: on a loaded machine one copy lagged the
    controller by over 5 s after 1,000 moves finished, so two reads a second apart disagreed.
    """
    union = set(task.old_replicas) | set(task.new_replicas)
    return not p.reassigning and union != set(task.new_replicas) and set(p.replicas) == union


def leader_lagging(task: Task, p: PartitionState) -> bool:
    """Metadata shows the move done but another leader than the proposed one, which is in sync: after an
    election a broker's copy can lag the leader change as it lags a finished move (`half_way`)."""
    return (task.new_leader is not None and not p.reassigning and list(p.replicas) == list(task.new_replicas)
            and p.leader != task.new_leader and task.new_leader in p.isr)


def reassignment_target(p: PartitionState) -> list[int]:
    """Where an in-flight reassignment is heading: the replica list without the replicas being removed."""
    return [b for b in p.replicas if b not in p.removing_replicas]


def _invalid_reason(move: Move, p: PartitionState, state: ClusterState) -> str | None:
    unknown = [b for b in move.new_replicas if b not in state.brokers]
    if unknown:
        return f"broker {unknown[0]} is not in the cluster"
    if not p.reassigning and sorted(p.replicas) not in (sorted(move.old_replicas), sorted(move.new_replicas)):
        return f"replicas are {p.replicas}, the proposal expected {move.old_replicas} (stale proposal)"
    return None


def _skip_reason(move: Move, p: PartitionState, state: ClusterState) -> str | None:
    new = list(move.new_replicas)
    if p.reassigning:
        if reassignment_target(p) == new:
            return None  # already on its way (e.g. submitted before a crash): the task adopts it
        return f"already being reassigned to {reassignment_target(p)} by someone else"
    if list(p.replicas) == new and (move.new_leader is None or p.leader == move.new_leader):
        return "already as proposed"
    dead = [b for b in move.new_replicas if not state.brokers[b].alive]
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
