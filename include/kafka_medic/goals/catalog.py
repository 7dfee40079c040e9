"""The sixteen goals by name, in the spec's default priority order (hard first)."""

from __future__ import annotations

from collections.abc import Sequence

from kafka_medic.errors import MedicError
from kafka_medic.goals.base import Goal, Thresholds
from kafka_medic.goals.capacity import (
    CpuCapacityGoal,
    DiskCapacityGoal,
    NetworkInboundCapacityGoal,
    NetworkOutboundCapacityGoal,
    PotentialNetworkOutboundGoal,
    ReplicaCapacityGoal,
)
from kafka_medic.goals.distribution import (
    CpuUsageDistributionGoal,
    DiskUsageDistributionGoal,
    NetworkInboundUsageDistributionGoal,
    NetworkOutboundUsageDistributionGoal,
    ReplicaDistributionGoal,
)
from kafka_medic.goals.leader import (
    LeaderBytesInDistributionGoal,
    LeaderReplicaDistributionGoal,
    PreferredLeaderElectionGoal,
)
from kafka_medic.goals.rack import RackAwareGoal
from kafka_medic.goals.topic import TopicReplicaDistributionGoal

GOAL_CLASSES: dict[str, type[Goal]] = {
    cls.name: cls
    for cls in (
        RackAwareGoal,
        ReplicaCapacityGoal,
        DiskCapacityGoal,
        NetworkInboundCapacityGoal,
        NetworkOutboundCapacityGoal,
        CpuCapacityGoal,
        ReplicaDistributionGoal,
        PotentialNetworkOutboundGoal,
        DiskUsageDistributionGoal,
        NetworkInboundUsageDistributionGoal,
        NetworkOutboundUsageDistributionGoal,
        CpuUsageDistributionGoal,
        TopicReplicaDistributionGoal,
        LeaderReplicaDistributionGoal,
        LeaderBytesInDistributionGoal,
        PreferredLeaderElectionGoal,
    )
}
DEFAULT_GOALS: tuple[str, ...] = tuple(GOAL_CLASSES)
HARD_GOALS: tuple[str, ...] = tuple(name for name, cls in GOAL_CLASSES.items() if cls.hard)


def make_goals(names: Sequence[str] | None = None, thresholds: Thresholds | None = None) -> list[Goal]:
    """Goal objects in the given priority order (default: the spec's)."""
    names = list(DEFAULT_GOALS if names is None else names)
    unknown = [n for n in names if n not in GOAL_CLASSES]
    if unknown:
        raise MedicError(f"unknown goal {unknown[0]!r}; known goals: {', '.join(DEFAULT_GOALS)}")
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise MedicError(f"goal {duplicate!r} is listed twice")
    thresholds = thresholds or Thresholds()
    return [GOAL_CLASSES[n](thresholds) for n in names]
