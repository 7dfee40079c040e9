"""Anomaly detection: what is wrong with a cluster now, deduplicated over time by the anomaly log.

`detect` reads the cluster and runs every finder; the Airflow detector DAG records the result in an
`AnomalyLog`, alerts on `due_alerts` and starts the remediation DAGs of `due_actions`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from kafka_medic.detector import finders
from kafka_medic.detector.anomaly import BROKER_FAILURE, DISK_FAILURE, KINDS, SEVERITIES, Anomaly
from kafka_medic.detector.log import AnomalyLog
from kafka_medic.detector.remediation import ACTIONS, DEFAULT_RULES, HEAL, REBALANCE, Rule, parse_rules, remediation
from kafka_medic.goals import Thresholds
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.kafka.snapshot import state_to_model
from kafka_medic.kafka.state import ClusterState
from kafka_medic.model import ClusterModel

__all__ = [
    "ACTIONS",
    "DEFAULT_RULES",
    "HEAL",
    "KINDS",
    "REBALANCE",
    "SEVERITIES",
    "Anomaly",
    "AnomalyLog",
    "Rule",
    "detect",
    "find_anomalies",
    "parse_rules",
    "remediation",
]


def detect(
    config: ClusterConfig,
    known_brokers: Mapping[int, str | None] | None = None,
    goals: Sequence[str] | None = None,
    model: ClusterModel | None = None,
    thresholds: Thresholds | None = None,
) -> list[Anomaly]:
    """Read the cluster and find its anomalies; see `find_anomalies` for goals and `model`."""
    state = read_cluster_state(config, known_brokers)
    return find_anomalies(state, goals=goals, model=model, thresholds=thresholds, cluster=config.name)


def find_anomalies(
    state: ClusterState,
    goals: Sequence[str] | None = None,
    model: ClusterModel | None = None,
    thresholds: Thresholds | None = None,
    cluster: str | None = None,
    now: float | None = None,
) -> list[Anomaly]:
    """Every anomaly in `state`, most urgent kinds first.

    Goals are checked only when `goals` names them, on `model` (e.g. a snapshot with loads from the
    metrics store) or else on a model of `state`, where disk and replica counts are real and network
    and CPU loads zero. They are not checked while a broker or disk is down or partitions are being
    reassigned: a dead broker violates the capacity goals by design (it must end empty), and moves in
    flight change the picture; healing and finishing the moves come first, as in Cruise Control.
    """
    now = time.time() if now is None else now
    found = [
        *finders.broker_failures(state, now),
        *finders.disk_failures(state, now),
        *finders.offline_partitions(state, now),
        *finders.under_replicated(state, now),
        *finders.topic_replication_factors(state, now),
    ]
    unhealthy = any(a.kind in (BROKER_FAILURE, DISK_FAILURE) for a in found)
    if goals is not None and not unhealthy and not state.reassigning_partitions():
        model = model or state_to_model(state, cluster or state.cluster_id)
        found += finders.goal_violations(model, now, goals, thresholds)
    return found
