"""Progress of an execution in partitions and bytes, with rate and ETA, measured from the cluster itself.

Bytes copied for a move in flight are what its new replicas hold on disk (DescribeLogDirs), capped
at the partition's size when planned, so the figure is right after a restart too. The rate is taken
over a sliding window, so it follows throttle changes and stalls instead of averaging them away.

A move makes progress while its gap closes: the bytes its new replicas still lack against the
leader's copy reach a new low. Copying alone is not progress: a follower throttled below the rate
producers write at copies all the time and never catches up (the classic reassignment that never
ends), and a paused broker copies nothing at all; both show as a gap that stops shrinking.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field

from kafka_medic.executor.journal import DONE, SKIPPED, SUBMITTED, TaskRecord
from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.kafka.state import ClusterState, PartitionState
from kafka_medic.units import MB


@dataclass
class Progress:
    ts: float
    batch: int
    partitions_done: int
    partitions_total: int
    bytes_done: int
    bytes_total: int
    rate_bps: float | None  # bytes per second over the last window
    eta_s: float | None
    in_flight: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        pct = 100.0 * self.bytes_done / self.bytes_total if self.bytes_total else 100.0
        rate = f"{self.rate_bps / MB:.1f} MB/s" if self.rate_bps is not None else "- MB/s"
        eta = f"ETA {self.eta_s:.0f}s" if self.eta_s is not None else "ETA -"
        moving = first_names(self.in_flight)
        return (
            f"batch {self.batch}: {self.partitions_done}/{self.partitions_total} partitions, "
            f"{self.bytes_done / MB:.1f}/{self.bytes_total / MB:.1f} MB ({pct:.0f}%), {rate}, {eta}"
            + (f"; moving {moving}" if moving else "")
        )


def first_names(names: list[str], shown: int = 5) -> str:
    """The first few names and how many more: a line stays readable with 100,000 moves."""
    return ", ".join(names[:shown]) + (f" +{len(names) - shown}" if len(names) > shown else "")


def gap_bytes(task: Task, p: PartitionState | None) -> int | None:
    """Bytes the move's new replicas still lack against the leader's copy; None while the leader's size is unknown."""
    if p is None or p.leader is None or p.leader not in p.sizes:
        return None
    target = p.sizes[p.leader]
    return sum(max(0, target - p.sizes.get(b, 0)) for b in task.added)


def copied_bytes(task: Task, p: PartitionState | None) -> int:
    """What the move's new replicas hold so far, each capped at the planned size."""
    if p is None:
        return 0
    return sum(min(p.sizes.get(b, 0), task.size_bytes) for b in task.added)


class ProgressMeter:
    """Turns successive observations into progress figures and notices moves that stopped copying."""

    def __init__(self, window_s: float = 15.0) -> None:
        self.window_s = window_s
        self._readings: deque[tuple[float, int]] = deque()
        self._best_gap: dict[tuple[str, int], tuple[float, float]] = {}  # lowest gap seen, when it was seen
        self._gap: dict[tuple[str, int], int | None] = {}  # the gap at the last observation
        self._alerted: set[tuple[str, int]] = set()

    def measure(self, records: list[TaskRecord], state: ClusterState, batch: int, now: float) -> Progress:
        partitions = state.by_key
        replica = [r for r in records if r.task.kind == REPLICA and r.state != SKIPPED]
        done = 0
        in_flight = []
        for r in replica:
            if r.state == DONE:
                done += r.task.bytes_to_move
            elif r.state == SUBMITTED:
                p = partitions.get(r.task.key)
                done += copied_bytes(r.task, p)
                in_flight.append(r.task.name)
                self._observe(r.task, gap_bytes(r.task, p), now)
        total = sum(r.task.bytes_to_move for r in replica)
        self._readings.append((now, done))
        while len(self._readings) > 2 and now - self._readings[0][0] > self.window_s:
            self._readings.popleft()
        rate = None
        first_ts, first_done = self._readings[0]
        if now > first_ts:
            rate = max(0.0, (done - first_done) / (now - first_ts))
        eta = (total - done) / rate if rate else None
        finished = sum(r.state == DONE for r in records if r.state != SKIPPED)
        return Progress(
            ts=now, batch=batch, partitions_done=finished, partitions_total=sum(r.state != SKIPPED for r in records),
            bytes_done=done, bytes_total=total, rate_bps=rate, eta_s=eta, in_flight=in_flight,
        )

    def _observe(self, task: Task, gap: int | None, now: float) -> None:
        self._gap[task.key] = gap
        best = self._best_gap.get(task.key)
        if best is None:
            self._best_gap[task.key] = (float("inf") if gap is None else gap, now)
        elif gap is not None and gap < best[0]:
            self._best_gap[task.key] = (gap, now)
            self._alerted.discard(task.key)  # moving again: a later stall is a new one

    def idle_for(self, task: Task, now: float) -> float:
        """Seconds since the move's gap last reached a new low (since it was first seen when it never has)."""
        seen = self._best_gap.get(task.key)
        return now - seen[1] if seen else 0.0

    def alerted(self, task: Task) -> bool:
        return task.key in self._alerted

    def mark_alerted(self, task: Task) -> None:
        self._alerted.add(task.key)

    def gap_line(self, task: Task) -> str:
        gap, best = self._gap.get(task.key), self._best_gap.get(task.key, (float("inf"), 0.0))[0]
        if gap is None:
            return "its leader's size is unknown"
        return f"new replicas {gap / MB:.1f} MB behind the leader, at best {best / MB:.1f} MB"
