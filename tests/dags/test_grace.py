"""The heal's grace sensor: a failure's grace period runs from when it was first seen, across deferrals."""

from __future__ import annotations

import uuid
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


def test_a_detector_started_heal_past_max_attempts_is_held_back_alerted_and_logged(clock, monkeypatch):
    """The policy allows 2 heals of one anomaly per 6 h: the third detector-started heal skips saying why, tells
    Slack (a real local Slack-compatible server) and the policy's notifier, and the anomaly log shows it; a
    heal started by hand still goes ahead."""
    from airflow.sdk.exceptions import AirflowSkipException

    from kafka_medic.detector import AnomalyLog, find_anomalies

    from ..unit.test_slack import slack_in_env

    cluster = f"grace-loop-{uuid.uuid4().hex[:8]}"  # the store outlives the test run: attempts of earlier runs
    [failure] = [a for a in find_anomalies(dead_broker_state(), cluster=cluster) if a.kind == "broker_failure"]
    failure.first_seen = clock.t - 2 * GRACE_S  # its grace period is over: each check heals at once
    event = SimpleNamespace(extra={"anomalies": [failure.to_dict()]})
    policy = {"max_attempts": 2, "attempt_period_hours": 6,
              "notifiers": [{"class": "tests.dags.test_grace.RecordingNotifier", "kwargs": {"label": "ops"}}]}
    sensor = grace.FailureGraceSensor(task_id="wait_for_grace", cluster=cluster, conn_id="c", policy=policy)

    def context(run: str, asset: bool = True) -> dict:
        return {"ti": SimpleNamespace(xcom_push=lambda **kw: None),
                "dag_run": SimpleNamespace(dag_id="heal", run_id=run),
                "triggering_asset_events": {"asset": [event]} if asset else {}}

    with slack_in_env(monkeypatch) as slack:
        for run in ("r1", "r2"):
            assert sensor.check(context(run))["brokers"] == [2]
            clock.t += 60
        with pytest.raises(AirflowSkipException, match=r"broker_failure:2: 2 remediation attempts in 6 h already"):
            sensor.check(context("r3"))
        [(method, body)] = slack.calls
    assert method == "chat.postMessage" and body["text"].startswith(f":no_entry: heal on {cluster} held back")
    assert RecordingNotifier.told[-1]["text"] == body["text"] and RecordingNotifier.labels[-1] == "ops"
    with AnomalyLog() as anomalies:
        log = anomalies.attempt_log(cluster)
    assert [(row["run"], bool(row["held_back"])) for row in log] == [("heal/r3", True), ("heal/r2", False),
                                                                     ("heal/r1", False)]
    waited = {failure.key: clock.t - 2 * GRACE_S}  # a heal by hand whose grace period is over
    assert sensor.check(context("by-hand", asset=False), checked_since=waited)["brokers"] == [2]  # a person's choice


class RecordingNotifier:
    """An Airflow notifier as the policy names one: built with its kwargs, called with the context."""

    told: list[dict] = []
    labels: list[str] = []

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, context: dict) -> None:
        RecordingNotifier.labels.append(self.label)
        RecordingNotifier.told.append(context["kafka_medic_outcome"])
