"""The bootstrap DAG's task: fill the cluster's load windows from its Prometheus history (started by hand).

A fresh install otherwise waits a day (the policy's windows, 24 x 1 h by default) before a rebalance may
plan; this reads that day from the Prometheus server the connection names (`kafka_medic.prometheus`)
with the sampler's queries and step, and logs how many windows it filled. Running it again writes
nothing twice (`kafka_medic.metrics.bootstrap`).
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException

from kafka_medic.airflow.monitoring import SAMPLE_INTERVAL_S
from kafka_medic.airflow.steps import settings
from kafka_medic.errors import MedicError
from kafka_medic.remediation.policy import ClusterPolicy, parse_policy

log = logging.getLogger(__name__)


def bootstrap_form(policy: ClusterPolicy) -> dict[str, Param]:
    """Hours of history, by default the policy's whole load horizon."""
    horizon = policy.load_windows * policy.window_minutes / 60
    return {"hours": Param(horizon, title="Hours of history", type="number", exclusiveMinimum=0, maximum=24 * 14,
                           description="how far back to fill the load windows from Prometheus")}


def run(cluster: str, conn_id: str, policy: dict, params: dict[str, Any]) -> dict:
    """Bootstrap; a MedicError (no Prometheus named, Prometheus down, a bad URL) fails the task at once."""
    from kafka_medic.metrics.bootstrap import bootstrap_cluster
    from kafka_medic.metrics.store import MetricsStore

    limits = parse_policy(policy)
    try:
        s = settings(cluster, conn_id)
        if not s.prometheus:
            raise MedicError(f"connection {conn_id!r} names no Prometheus server (extra kafka_medic.prometheus)")
        with MetricsStore() as store:
            report = bootstrap_cluster(store, cluster, s.config, s.prometheus, float(params["hours"]),
                                       SAMPLE_INTERVAL_S, limits.window_minutes * 60.0, limits.load_windows)
    except MedicError as exc:
        raise AirflowFailException(str(exc)) from exc
    log.info("%d history points, %d broker and %d partition samples written%s", report["rounds"],
             report["broker_samples"], report["partition_samples"],
             f" ({report['skipped']})" if report["skipped"] else "")
    log.info("valid windows: %d -> %d of %d; complete: %s", report["valid_windows_before"], report["valid_windows"],
             report["windows"], report["complete"])
    return report
