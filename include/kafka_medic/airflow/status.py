"""The detect DAG's status row and model snapshot: the live model detect builds anyway, written for the metrics
endpoint and the operator console.

Detect reads the cluster and builds the live model (loads from the metrics store) every run; recording
the status from those (`kafka_medic.detector.status`) costs the goal checks for balancedness and one
write, and spares every Prometheus scrape from touching Kafka or the samples.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from kafka_medic.airflow.steps import cluster_model
from kafka_medic.errors import MedicError

if TYPE_CHECKING:
    from kafka_medic.airflow.hook import ClusterSettings
    from kafka_medic.kafka.state import ClusterState
    from kafka_medic.model import ClusterModel
    from kafka_medic.remediation.policy import ClusterPolicy

log = logging.getLogger(__name__)


def observed_model(s: ClusterSettings, state: ClusterState, policy: ClusterPolicy) -> ClusterModel:
    """The live model of `state` over the policy's load windows (`steps.cluster_model`), its cluster's status
    recorded on the way."""
    from kafka_medic.detector.snapshot import ModelSnapshot, SnapshotLog
    from kafka_medic.detector.status import StatusLog, cluster_status

    model, loads = cluster_model(s, state, policy)
    status = cluster_status(s.config.name, state, model, loads)
    try:
        with StatusLog() as statuses:
            statuses.record(status)
        with SnapshotLog() as snapshots:  # the console's brokers and partitions
            snapshots.record(s.config.name, ModelSnapshot.of(model, status.at))
    except MedicError as exc:  # the status feeds the metrics and the console only: detection goes on
        log.warning("could not record the cluster status: %s", exc)
    log.info("status: balancedness %.2f, %d/%d load windows valid", status.balancedness, status.valid_windows,
             status.windows)
    return model
