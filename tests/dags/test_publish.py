"""The detect DAG's publish step: which anomalies start a remediation, and what a skipped one says."""

from __future__ import annotations

import time
from collections import defaultdict
from types import SimpleNamespace

import pytest
from airflow.exceptions import AirflowSkipException

from kafka_medic.airflow.monitoring import anomaly_asset, publish
from kafka_medic.detector import AnomalyLog
from kafka_medic.detector.anomaly import Anomaly
from kafka_medic.remediation.intent import IntentStore

CLUSTER = "publish-test"


def due(*anomalies: Anomaly) -> dict[str, list[dict]]:
    with AnomalyLog() as log:
        log.record(CLUSTER, list(anomalies))
    return {"heal": [a.to_dict() for a in anomalies]}


def test_kinds_whose_self_healing_is_off_are_held_back_and_the_others_start_the_heal():
    broker = Anomaly("broker_failure", "broker_failure:3", "critical", "broker 3 is dead", first_seen=1.0, brokers=[3])
    disk = Anomaly("disk_failure", "disk_failure:2:/d1", "critical", "disk /d1 of broker 2 failed", first_seen=1.0,
                   brokers=[2])
    events: dict = defaultdict(SimpleNamespace)
    with IntentStore() as intents:
        intents.set_self_healing(CLUSTER, ["disk_failure"], False, by="ccapi:ops")
    try:
        assert publish(CLUSTER, "heal", due(broker, disk), events) == ["broker_failure:3"]
        assert [a["key"] for a in events[anomaly_asset(CLUSTER, "heal")].extra["anomalies"]] == ["broker_failure:3"]
        with pytest.raises(AirflowSkipException, match=r"heal for disk_failure:2:/d1 not started: self-healing for "
                                                       r"disk_failure is off since .* \(by ccapi:ops\)"):
            publish(CLUSTER, "heal", due(disk), defaultdict(SimpleNamespace))
        with AnomalyLog() as log:  # held back, not acted on: switching it on again starts the heal
            later = time.time() + 3600
            assert [a.key for a in log.due_actions(CLUSTER, now=later)["heal"]] == ["disk_failure:2:/d1"]
    finally:
        with IntentStore() as intents:
            intents.set_self_healing(CLUSTER, ["disk_failure"], True)
