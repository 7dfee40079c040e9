"""An anomaly: one thing wrong with a cluster, with a key that stays the same while it lasts.

The key is what deduplicates: the detector runs every minute, and "broker_failure:3" seen in ten runs
in a row is one anomaly that started ten minutes ago, alerted once and healed once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Kinds, each with its own finder in `kafka_medic.detector.finders`.
BROKER_FAILURE = "broker_failure"
DISK_FAILURE = "disk_failure"
OFFLINE_PARTITIONS = "offline_partitions"
UNDER_REPLICATED = "under_replicated_partitions"
TOPIC_REPLICATION_FACTOR = "topic_replication_factor"
HARD_GOAL_VIOLATION = "hard_goal_violation"
SOFT_GOAL_VIOLATION = "soft_goal_violation"
KINDS = (
    BROKER_FAILURE,
    DISK_FAILURE,
    OFFLINE_PARTITIONS,
    UNDER_REPLICATED,
    TOPIC_REPLICATION_FACTOR,
    HARD_GOAL_VIOLATION,
    SOFT_GOAL_VIOLATION,
)

# Severities, most urgent first: critical = data unavailable or at risk now.
CRITICAL, WARNING, INFO = "critical", "warning", "info"
SEVERITIES = (CRITICAL, WARNING, INFO)


@dataclass
class Anomaly:
    kind: str
    key: str  # "<kind>" or "<kind>:<subject>", stable while the anomaly lasts
    severity: str
    summary: str  # one line for people
    details: dict[str, Any] = field(default_factory=dict)
    first_seen: float = 0.0  # epoch seconds; the AnomalyLog replaces it with when it really started
    brokers: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (Airflow XCom, the Kafka action topic)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Anomaly:
        return cls(**data)
