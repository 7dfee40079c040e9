"""The detector on real KRaft brokers: a killed broker is found, logged once while it lasts, and resolved."""

from __future__ import annotations

import pytest

from kafka_medic.detector import AnomalyLog, detect, parse_rules
from kafka_medic.kafka.config import ClusterConfig

from .kafka_helpers import create_topic, produce, wait_for

pytestmark = pytest.mark.kafka

VICTIM = 4


def keys(anomalies) -> set[str]:
    return {a.key for a in anomalies}


def test_dead_broker_found_logged_and_resolved(healthy_kraft_cluster, tmp_path):
    cluster = healthy_kraft_cluster
    config = ClusterConfig(bootstrap=cluster.bootstrap, name="itest")
    create_topic(cluster.bootstrap, "detector-orders", partitions=4, replication=3)
    produce(cluster.bootstrap, "detector-orders", 200)
    found = detect(config, goals=["rack_aware", "disk_capacity"])
    assert not keys(found) & {f"broker_failure:{b}" for b in cluster.broker_ids}
    assert "offline_partitions" not in keys(found)

    known = {b: None for b in cluster.broker_ids}
    rules = parse_rules({"broker_failure": {"alert_after_s": 0, "act_after_s": 0}})
    with AnomalyLog(f"sqlite:///{tmp_path / 'store.db'}") as log:
        cluster.kill_broker(VICTIM)
        try:
            dead = wait_for(lambda: [a for a in detect(config, known) if a.key == f"broker_failure:{VICTIM}"],
                            60, f"broker {VICTIM} to be reported dead")
            assert dead[0].severity == "critical" and dead[0].brokers == [VICTIM]
            first = detect(config, known, goals=["disk_capacity"])
            assert not any("goal" in a.kind for a in first)  # healing comes first
            new, _, _ = log.record("itest", first)
            assert f"broker_failure:{VICTIM}" in keys(new)
            _, ongoing, _ = log.record("itest", detect(config, known))
            assert f"broker_failure:{VICTIM}" in keys(ongoing)
            assert [a.key for a in log.due_actions("itest", rules)["heal"]] == [f"broker_failure:{VICTIM}"]
        finally:
            cluster.start_broker(VICTIM)

        def resolved():
            return f"broker_failure:{VICTIM}" in keys(log.record("itest", detect(config, known))[2])

        wait_for(resolved, 90, f"broker {VICTIM} to be back")
        assert log.duration("itest", f"broker_failure:{VICTIM}") > 0
