"""The heal's grace sensor: a failure's grace period runs from when it was first seen, across deferrals."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import TaskDeferred

from kafka_medic.airflow import grace
from kafka_medic.kafka import reader
from kafka_medic.kafka.state import BrokerState, ClusterState

GRACE_S = 300


def dead_broker_state() -> ClusterState:
    brokers = {b: BrokerState(b, "h", 9092, None, alive=b != 2) for b in (1, 2, 3)}
    return ClusterState(cluster_id="c", controller_id=1, brokers=brokers, partitions=[], topic_configs={},
                        broker_configs={}, taken_at="2027-01-15T08:00:00Z")


@pytest.fixture
def clock(monkeypatch):
    """A heal started by hand for a broker no detect run has logged as failed: no anomaly log entry, no asset
    event; the sensor's only record of when it began is its own first check."""
    now = SimpleNamespace(t=1_800_000_000.0)
    monkeypatch.setattr(grace.time, "time", lambda: now.t)
    monkeypatch.setattr(grace, "settings", lambda cluster, conn_id: SimpleNamespace(
        remediation={"broker_failure": {"act_after_s": GRACE_S}}, config={}))
    monkeypatch.setattr(reader, "read_cluster_state", lambda config: dead_broker_state())
    return now


def test_a_hand_started_heal_heals_once_the_failure_outlasts_its_grace_period(clock):
    sensor = grace.FailureGraceSensor(task_id="wait_for_grace", cluster="grace-test", conn_id="c", policy={})
    context = {"ti": SimpleNamespace(xcom_push=lambda **kw: None), "dag_run": None}
    waits = 0
    resume: dict = {}
    while True:
        try:
            request = sensor.check(context, **resume)
            break
        except TaskDeferred as deferred:
            waits += 1
            assert waits < 100, "the grace period restarted at every check"
            resume = dict(deferred.kwargs or {})
            clock.t = deferred.trigger.moment.timestamp()
    assert request["brokers"] == [2]
    assert waits == GRACE_S // grace.RECHECK_S


def test_a_detector_started_heal_of_a_kind_whose_self_healing_is_off_skips_saying_why(clock):
    from airflow.exceptions import AirflowSkipException

    from kafka_medic.detector import find_anomalies
    from kafka_medic.remediation.intent import IntentStore

    cluster = "grace-off"
    [failure] = [a for a in find_anomalies(dead_broker_state(), cluster=cluster) if a.kind == "broker_failure"]
    event = SimpleNamespace(extra={"anomalies": [failure.to_dict()]})
    pushed: list = []
    context = {"ti": SimpleNamespace(xcom_push=lambda **kw: pushed.append(kw)), "dag_run": None,
               "triggering_asset_events": {"asset": [event]}}
    sensor = grace.FailureGraceSensor(task_id="wait_for_grace", cluster=cluster, conn_id="c", policy={})
    with IntentStore() as intents:
        intents.set_self_healing(cluster, ["broker_failure"], False, "rack work", by="ccapi:ops")
    with pytest.raises(AirflowSkipException, match=r"self-healing for broker_failure is off .*by ccapi:ops: rack work"):
        sensor.check(context)
    with IntentStore() as intents:
        intents.set_self_healing(cluster, ["broker_failure"], True)
    with pytest.raises(TaskDeferred):  # switched on again: it waits out the grace period as usual
        sensor.check(context)
