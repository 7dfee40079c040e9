"""What the in-process endpoints do: read the cluster as Kafka and the stores see it, plan dry runs, stop.

A dry run plans exactly as the DAG's `snapshot` and `plan` tasks would: the same live model (the caller's
`model_of`, the DAG's own builder), the same remembered brokers excluded, the same planner per kind; only
nothing is recorded and nothing moves. Reads that need no Kafka (the executor's and the detector's state)
come from the store, as the metrics endpoint's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka_medic.ccapi import JSON_VERSION, responses
from kafka_medic.ccapi.mapping import checked_request, form_values
from kafka_medic.ccapi.params import SUBSTATES, ParameterError
from kafka_medic.ccapi.responses import ANOMALY_TYPES
from kafka_medic.detector import AnomalyLog
from kafka_medic.detector.remediation import parse_rules
from kafka_medic.detector.status import StatusLog
from kafka_medic.errors import MedicError
from kafka_medic.executor.execution import lock_key
from kafka_medic.executor.journal import Journal
from kafka_medic.executor.run import change_options
from kafka_medic.executor.run import stop as stop_execution
from kafka_medic.goals import DEFAULT_GOALS
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.kafka.state import ClusterState
from kafka_medic.limits import topic_regex
from kafka_medic.metrics.load_model import LoadModel
from kafka_medic.model import ClusterModel
from kafka_medic.remediation.intent import IntentStore
from kafka_medic.remediation.policy import ClusterPolicy
from kafka_medic.remediation.request import mark_brokers, plan_for


@dataclass(frozen=True)
class Cluster:
    """One managed cluster, as the endpoints need it."""

    name: str
    config: ClusterConfig
    model_of: Callable[[ClusterState], tuple[ClusterModel, LoadModel]]  # the live model, as the DAGs build it
    policy: ClusterPolicy = field(default_factory=ClusterPolicy)
    remediation: dict[str, Any] = field(default_factory=dict)  # the connection's detector rules
    store_url: str | None = None

    def read(self) -> ClusterState:
        return read_cluster_state(self.config)


def state(cluster: Cluster, values: dict[str, Any], sampling_paused: bool, run_of: Callable[[str], str]) -> dict:
    """CruiseControlState with the asked substates (all four by default). `run_of(execution_id)` names the DAG
    run that started an execution (its User-Task-ID)."""
    substates = values.get("substates") or list(SUBSTATES)
    body: dict[str, Any] = {"version": JSON_VERSION}
    if {"monitor", "analyzer"} & set(substates):
        live = cluster.read()
        _, loads = cluster.model_of(live)
        if "monitor" in substates:
            body["MonitorState"] = responses.monitor_state(loads, len(live.partitions), sampling_paused)
        if "analyzer" in substates:
            body["AnalyzerState"] = responses.analyzer_state(cluster.policy.goals or DEFAULT_GOALS, loads)
    if "executor" in substates:
        body["ExecutorState"] = executor_state(cluster, run_of)
    if "anomaly_detector" in substates:
        body["AnomalyDetectorState"] = anomaly_detector_state(cluster)
    return body


def executor_state(cluster: Cluster, run_of: Callable[[str], str]) -> dict[str, Any]:
    with Journal(cluster.store_url) as journal, IntentStore(cluster.store_url) as intents:
        running = journal.lock_holder(lock_key(cluster.config), cluster.name)
        tasks = journal.tasks(running.id) if running else []
        remembered = intents.active(cluster.name)
    return responses.executor_state(running, tasks, remembered, run_of(running.id) if running else "")


def anomaly_detector_state(cluster: Cluster) -> dict[str, Any]:
    """Open anomalies from the anomaly log; a type heals itself when one of its kinds has a remediation in the
    connection's rules and its self-healing on, and the cluster is not in maintenance."""
    with AnomalyLog(cluster.store_url) as log, IntentStore(cluster.store_url) as intents, \
            StatusLog(cluster.store_url) as statuses:
        anomalies = log.active(cluster.name)
        maintenance = intents.maintenance(cluster.name)
        off = intents.self_healing_off(cluster.name)
        latest = next((s for s in statuses.latest() if s.cluster == cluster.name), None)
    rules = parse_rules(cluster.remediation)
    healing = {t: maintenance is None and any(k in rules and rules[k].action and k not in off for k in kinds)
               for t, kinds in ANOMALY_TYPES.items()}
    return responses.anomaly_detector_state(anomalies, healing, latest.balancedness if latest else None)


def load(cluster: Cluster, values: dict[str, Any]) -> dict[str, Any]:
    model, _ = cluster.model_of(cluster.read())
    return responses.broker_stats(model)


def partition_load(cluster: Cluster, values: dict[str, Any]) -> dict[str, Any]:
    model, _ = cluster.model_of(cluster.read())
    topic = topic_regex(values["topic"]) if "topic" in values else None
    return responses.partition_load(model, values.get("resource", "disk"), values.get("entries"), topic,
                                    values.get("partition"), values.get("brokerid", ()))


def kafka_cluster_state(cluster: Cluster, values: dict[str, Any]) -> dict[str, Any]:
    topic = topic_regex(values["topic"]) if "topic" in values else None
    return responses.kafka_cluster_state(cluster.read(), topic)


def dry_run(cluster: Cluster, endpoint: str, values: dict[str, Any]) -> dict[str, Any]:
    """OptimizationResult: what the endpoint's DAG run would plan now, with the same request and model."""
    live = cluster.read()
    request = checked_request(endpoint, form_values(endpoint, values, live), cluster.policy.request_defaults(), live)
    model, loads = cluster.model_of(live)
    with IntentStore(cluster.store_url) as intents:
        remembered = [i.broker for i in intents.active(cluster.name)]
    mark_brokers(model, request, remembered)
    try:
        proposal = plan_for(request, model)
    except MedicError as exc:  # planning reads nothing: what fails is this request on this cluster (a hard goal)
        raise ParameterError("", f"cannot plan this request: {exc}") from None
    return responses.optimization_result(proposal, model, loads, request.excluded_topics)


def check(cluster: Cluster, endpoint: str, values: dict[str, Any]) -> dict[str, Any]:
    """The trigger form for a `dryrun=false` request, checked against the live cluster (ParameterError if not)."""
    live = cluster.read()
    form = form_values(endpoint, values, live)
    checked_request(endpoint, form, cluster.policy.request_defaults(), live)
    return form



def change_concurrency(cluster: Cluster, concurrency: int, log: Callable[[str], None]) -> str:
    """admin's concurrent_partition_movements_per_broker: the running execution's moves per broker, from its
    next poll (the executor reads its options back each poll); a 400 naming the parameter when none runs."""
    try:
        with Journal(cluster.store_url) as journal:
            change_options(cluster.name, concurrency=concurrency, journal=journal, log=log)
    except MedicError as exc:
        raise ParameterError("concurrent_partition_movements_per_broker", str(exc)) from None
    return f"the running execution's concurrency set to {concurrency} moves per broker from its next poll"


def stop(cluster: Cluster, values: dict[str, Any], log: Callable[[str], None]) -> dict[str, Any]:
    """StopProposalResult: the executor's own stop (ask the running executor, or roll back here if none is alive)."""
    with Journal(cluster.store_url) as journal:
        if journal.lock_holder(lock_key(cluster.config), cluster.name) is None:
            return {"version": JSON_VERSION, "message": f"No ongoing proposal execution on cluster {cluster.name}."}
        report = stop_execution(cluster.config, journal, log=log)
    return {"version": JSON_VERSION, "message": f"Proposal execution stopped on cluster {cluster.name}.",
            "report": report}
