"""How an execution runs: concurrency, ordering, throttle and timing, kept with the execution's journal.

Concurrency comes from data by default: each destination broker may have `batch_target_s` seconds of
copying in flight at its replication rate (its throttle, or measured headroom under auto throttle), so
thousands of small moves run together while a few large ones take turns; `max_moves_per_broker` and
`max_moves` cap the count. A fixed `concurrency` (moves per broker) replaces the byte budget.

`max_moves`, the cluster-wide cap, is what one KRaft controller took well on the dev cluster (Kafka 4.4,
3 brokers, 2-core machine shared at load 9-20): 2,000 reassignments of 10 kB partitions submitted in
one AlterPartitionReassignments call were all accepted and finished in 19.9-38.3 s over five runs
(52-100 moves/s; bench/executor.py --many 2000, the controller-alone twin), and the executor submitting
the same 2,000 at once finished its moves in 1.28 x that time. The controller sweep (bench/README.md)
found no knee: 500, 1,000 and 2,000 at once went at 37-138 moves/s, and 4,000 at once was accepted
and finished too (94 s at load 38, 43 moves/s). 2,000 stays the cap: beyond it every
ListPartitionReassignments answer and each poll grow with the moves in flight, while the throttle,
not the count, sets the copy rate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from kafka_medic.errors import MedicError
from kafka_medic.units import MB

STRATEGIES = ("min_isr_first", "urp_first", "postpone_urp", "large_first", "small_first")
ZK_SUBMISSIONS = ("auto", "znode")


@dataclass(frozen=True)
class ExecutionOptions:
    # Fixed concurrent replica moves per broker (destinations and live sources); None: from the byte budget.
    concurrency: int | None = None
    max_moves: int = 2000  # concurrent replica moves in the whole cluster (see the module's docstring)
    max_moves_per_broker: int = 2000  # concurrent replica moves per broker under the byte budget
    batch_target_s: float = 10.0  # byte budget: seconds of copying in flight per destination at its rate
    unthrottled_rate: float = 50 * MB  # bytes/s assumed for the budget of a broker with no throttle
    leader_batch_size: int = 1000  # partitions per preferred leader election request
    # Ordering of replica moves: strategies applied in turn (ties keep proposal order), as Cruise Control chains them.
    strategy: tuple[str, ...] = ("min_isr_first", "large_first")
    throttle: float | None = None  # replication throttle in bytes/s on every involved broker; None: no throttle
    auto_throttle: bool = False  # per-broker throttle from measured headroom (needs metrics samples)
    auto_throttle_fraction: float = 0.8  # of network capacity that clients plus replication may use
    capacity_file: str | None = None  # broker capacities for auto_throttle; None: the built-in default
    auto_throttle_interval_s: float = 60.0  # auto_throttle: recompute the rates from new samples this often
    poll_interval_s: float = 1.0
    stall_alert_s: float = 60.0  # alert when a move copies nothing for this long
    task_timeout_s: float | None = None  # per move; None: 3x its size at the throttle, at least 10 minutes
    heartbeat_timeout_s: float = 30.0  # an executor silent for this long is considered gone
    # ZooKeeper-mode clusters: "auto" uses AlterPartitionReassignments where the brokers have it (Kafka 2.4+),
    # else the /admin/reassign_partitions znode; "znode" always uses the znode, as on a pre-2.4 cluster.
    zk_submission: str = "auto"

    def __post_init__(self) -> None:
        counts = (self.max_moves, self.max_moves_per_broker, self.leader_batch_size)
        if min(counts) < 1 or (self.concurrency is not None and self.concurrency < 1):
            raise MedicError("concurrency, max_moves, max_moves_per_broker and leader_batch_size must be at least 1")
        if not (0 < self.batch_target_s < math.inf and 0 < self.unthrottled_rate < math.inf):
            raise MedicError("batch_target_s and unthrottled_rate must be positive")
        unknown = [s for s in self.strategy if s not in STRATEGIES]
        if unknown:
            raise MedicError(f"unknown strategy {unknown[0]!r}; valid: {', '.join(STRATEGIES)}")
        if self.throttle is not None and not 0 < self.throttle < math.inf:
            raise MedicError(f"throttle must be positive bytes/s, got {self.throttle}")
        if self.throttle is not None and self.auto_throttle:
            raise MedicError("give either a fixed throttle or auto_throttle, not both")
        if self.zk_submission not in ZK_SUBMISSIONS:
            raise MedicError(f"zk_submission must be one of {', '.join(ZK_SUBMISSIONS)}, got {self.zk_submission!r}")
        if (min(self.poll_interval_s, self.stall_alert_s, self.task_timeout_s or 1.0, self.auto_throttle_interval_s)
                <= 0 or self.task_timeout_s == 0):
            raise MedicError("poll_interval_s, stall_alert_s, task_timeout_s and auto_throttle_interval_s "
                             "must be positive")

    def as_dict(self) -> dict:
        data = asdict(self)
        data["strategy"] = list(self.strategy)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ExecutionOptions:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "strategy" in values:
            values["strategy"] = tuple(values["strategy"])
        return cls(**values)

    def timeout_for(self, bytes_to_move: int, rate: float | None) -> float:
        if self.task_timeout_s is not None:
            return self.task_timeout_s
        return max(600.0, 3 * bytes_to_move / rate) if rate else 3600.0
