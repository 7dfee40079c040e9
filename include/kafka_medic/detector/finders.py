"""Anomaly finders: each looks at the observed cluster state (or the model, for goals) and names what is wrong.

They are pure functions of their input, so a detector run is a read of the cluster plus these checks,
and tests need no broker. Lists of partitions in `details` are capped at `MAX_LISTED`; counts are not.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from kafka_medic.detector.anomaly import (
    BROKER_FAILURE,
    CRITICAL,
    DISK_FAILURE,
    HARD_GOAL_VIOLATION,
    INFO,
    OFFLINE_PARTITIONS,
    SOFT_GOAL_VIOLATION,
    TOPIC_REPLICATION_FACTOR,
    UNDER_REPLICATED,
    WARNING,
    Anomaly,
)
from kafka_medic.goals import Thresholds, check
from kafka_medic.goals.base import describe
from kafka_medic.kafka.state import ClusterState, PartitionState
from kafka_medic.model import ClusterModel

MAX_LISTED = 100


def broker_failures(state: ClusterState, now: float) -> list[Anomaly]:
    """One anomaly per dead broker (fenced, unregistered but still assigned replicas, or not answering)."""
    anomalies = []
    for broker_id in state.dead_brokers:
        hosted = [p for p in state.partitions if broker_id in p.replicas]
        offline = [p.name for p in hosted if p.offline]
        rack = state.brokers[broker_id].rack
        summary = f"broker {broker_id}{f' (rack {rack})' if rack else ''} is dead; it holds {len(hosted)} replicas"
        if offline:
            summary += f"; offline partitions: {len(offline)}"
        anomalies.append(
            Anomaly(
                kind=BROKER_FAILURE,
                key=f"{BROKER_FAILURE}:{broker_id}",
                severity=CRITICAL,
                summary=summary,
                details={"broker": broker_id, "rack": rack, "replicas": len(hosted),
                         "offline_partitions": offline[:MAX_LISTED]},
                first_seen=now,
                brokers=[broker_id],
            )
        )
    return anomalies


def disk_failures(state: ClusterState, now: float) -> list[Anomaly]:
    """One anomaly per live broker with offline replicas: a failed log dir (JBOD disk) on a running broker.

    Replicas on a dead broker are offline too; those are the broker failure, not a disk failure.
    """
    alive = set(state.alive_brokers)
    offline: dict[int, list[str]] = defaultdict(list)
    for p in state.partitions:
        for broker_id in p.offline_replicas:
            if broker_id in alive:
                offline[broker_id].append(p.name)
    return [
        Anomaly(
            kind=DISK_FAILURE,
            key=f"{DISK_FAILURE}:{broker_id}",
            severity=CRITICAL,
            summary=f"broker {broker_id} is up but {len(names)} of its replicas are offline "
                    f"(failed log dir?): {describe(names)}",
            details={"broker": broker_id, "offline_replicas": names[:MAX_LISTED], "count": len(names),
                     "online_log_dirs": sorted(state.brokers[broker_id].log_dirs)},
            first_seen=now,
            brokers=[broker_id],
        )
        for broker_id, names in sorted(offline.items())
    ]


def offline_partitions(state: ClusterState, now: float) -> list[Anomaly]:
    """One anomaly for all partitions without a leader: nobody can read or write them."""
    offline = state.offline_partitions()
    if not offline:
        return []
    names = [p.name for p in offline]
    return [
        Anomaly(
            kind=OFFLINE_PARTITIONS,
            key=OFFLINE_PARTITIONS,
            severity=CRITICAL,
            summary=f"{len(names)} partitions are offline (no leader): {describe(names)}",
            details={"partitions": names[:MAX_LISTED], "count": len(names),
                     "topics": sorted({p.topic for p in offline})},
            first_seen=now,
            brokers=sorted({b for p in offline for b in p.replicas}),
        )
    ]


def under_replicated(state: ClusterState, now: float) -> list[Anomaly]:
    """One anomaly for all partitions with a live, online follower that is out of sync (slow or stuck).

    Replicas on dead brokers or failed disks and replicas still being added by a reassignment are left
    out: those are explained by the broker failure, the disk failure or the reassignment. Partitions
    whose ISR is below the topic's min.insync.replicas reject acks=all writes, so they make it critical.
    """
    dead = set(state.dead_brokers)
    lagging: dict[str, list[int]] = {}
    below_min_isr = []
    for p in state.partitions:
        laggers = _lagging_replicas(p, dead)
        if laggers:
            lagging[p.name] = laggers
            if len(p.isr) < state.min_insync_replicas(p.topic):
                below_min_isr.append(p.name)
    if not lagging:
        return []
    names = list(lagging)
    summary = f"{len(names)} partitions are under-replicated by a live follower: {describe(names)}"
    if below_min_isr:
        summary += f"; {len(below_min_isr)} below min.insync.replicas"
    return [
        Anomaly(
            kind=UNDER_REPLICATED,
            key=UNDER_REPLICATED,
            severity=CRITICAL if below_min_isr else WARNING,
            summary=summary,
            details={"partitions": names[:MAX_LISTED], "count": len(names),
                     "below_min_isr": below_min_isr[:MAX_LISTED]},
            first_seen=now,
            brokers=sorted({b for laggers in lagging.values() for b in laggers}),
        )
    ]


def topic_replication_factors(state: ClusterState, now: float) -> list[Anomaly]:
    """One anomaly per topic with partitions that have fewer replicas than the topic's intended factor.

    The intended factor is the one most of the topic's partitions have (ties: the larger), so a topic
    that someone created with RF 1 on purpose is not flagged, while a partition that lost a replica to a
    bad manual reassignment is. Partitions being reassigned are skipped: their replica list is in flux.
    """
    by_topic: dict[str, list[PartitionState]] = defaultdict(list)
    for p in state.partitions:
        if not p.reassigning:
            by_topic[p.topic].append(p)
    anomalies = []
    for topic, parts in sorted(by_topic.items()):
        counts = Counter(len(p.replicas) for p in parts)
        intended = max(counts, key=lambda rf: (counts[rf], rf))
        short = [p for p in parts if len(p.replicas) < intended]
        if not short:
            continue
        names = [f"{p.name} (RF {len(p.replicas)})" for p in short]
        anomalies.append(
            Anomaly(
                kind=TOPIC_REPLICATION_FACTOR,
                key=f"{TOPIC_REPLICATION_FACTOR}:{topic}",
                severity=WARNING,
                summary=f"topic {topic}: {len(short)} partitions have fewer replicas than its replication "
                        f"factor {intended}: {describe(names)}",
                details={"topic": topic, "intended_rf": intended, "partitions": names[:MAX_LISTED],
                         "count": len(short)},
                first_seen=now,
                brokers=sorted({b for p in short for b in p.replicas}),
            )
        )
    return anomalies


def goal_violations(
    model: ClusterModel, now: float, goals: Sequence[str] | None = None, thresholds: Thresholds | None = None
) -> list[Anomaly]:
    """One anomaly per violated goal; hard goals are warnings, soft goals information."""
    anomalies = []
    for r in check(model, goals, thresholds):
        if r.satisfied:
            continue
        kind = HARD_GOAL_VIOLATION if r.hard else SOFT_GOAL_VIOLATION
        anomalies.append(
            Anomaly(
                kind=kind,
                key=f"{kind}:{r.goal}",
                severity=WARNING if r.hard else INFO,
                summary=f"{'hard' if r.hard else 'soft'} goal {r.goal} is violated: {r.detail}",
                details={"goal": r.goal, "hard": r.hard, "violation": r.violation, "detail": r.detail,
                         "partitions": r.partitions[:MAX_LISTED]},
                first_seen=now,
                brokers=list(r.brokers),
            )
        )
    return anomalies


def _lagging_replicas(p: PartitionState, dead: set[int]) -> list[int]:
    if p.offline:
        return []  # the offline-partitions anomaly covers it
    explained = set(p.isr) | set(p.offline_replicas) | set(p.adding_replicas) | dead
    return [b for b in p.replicas if b not in explained]
