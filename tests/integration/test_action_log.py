"""The action log's Kafka copy on real KRaft brokers: topic created once, acks=all, JSON keyed by cluster."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient

from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.notify.action_log import ActionLog, ActionRecord, action_summary, record_action

pytestmark = pytest.mark.kafka


def read_all(bootstrap: str, topic: str, expected: int) -> list:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    messages = []
    try:
        for _ in range(60):
            message = consumer.poll(1.0)
            if message is not None and not message.error():
                messages.append(message)
            if len(messages) >= expected:
                break
    finally:
        consumer.close()
    return messages


def test_actions_go_to_the_store_and_to_the_action_topic(kraft_cluster, tmp_path):
    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap, name="itest")
    topic = f"__kafka_medic_actions_{uuid.uuid4().hex[:8]}"
    url = f"sqlite:///{tmp_path / 'store.db'}"
    first = ActionRecord("itest", "heal", ["broker_failure:4"], "alice (Slack U123)", 3, 3, 10_000_000,
                         "succeeded", 1_800_000_000.0, 1_800_000_090.0, run="kafka_medic_heal/manual__1")
    second = ActionRecord("itest", "rebalance", ["hard_goal_violation:disk_capacity"], "auto: policy", 5, 2, 0,
                          "failed", 1_800_000_100.0, 1_800_000_160.0, message="stopped by an operator")
    assert record_action(first, config, store_url=url, topic=topic) == action_summary(first)
    record_action(second, config, store_url=url, topic=topic)  # the topic exists now

    metadata = AdminClient({"bootstrap.servers": kraft_cluster.bootstrap}).list_topics(topic, timeout=30)
    partitions = metadata.topics[topic].partitions
    assert len(partitions) == 1 and len(partitions[0].replicas) == 3

    messages = read_all(kraft_cluster.bootstrap, topic, 2)
    assert [m.key() for m in messages] == [b"itest", b"itest"]
    values = [json.loads(m.value()) for m in messages]
    assert values == [first.to_dict(), second.to_dict()]
    assert values[0]["duration_s"] == 90.0 and values[0]["approved_by"] == "alice (Slack U123)"

    with ActionLog(url) as log:
        assert [r.action for r in log.recent("itest")] == ["rebalance", "heal"]


def test_action_topic_created_while_a_broker_is_dead_lives_on_live_brokers(healthy_kraft_cluster, tmp_path):
    """Killed moments ago, the broker may still be registered: the topic must not get a replica on it."""
    from kafka_medic.kafka.reader import read_cluster_state

    cluster, victim = healthy_kraft_cluster, 3
    config = ClusterConfig(bootstrap=cluster.bootstrap, name="itest")
    topics = [f"__kafka_medic_actions_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    record = ActionRecord("itest", "heal", [f"broker_failure:{victim}"], "auto: policy", 1, 1, 0, "succeeded",
                          1_800_000_000.0, 1_800_000_010.0)
    cluster.kill_broker(victim)
    try:
        for topic in topics:  # right after the kill, whether or not the controller has fenced it yet
            record_action(record, config, store_url=f"sqlite:///{tmp_path / 'store.db'}", topic=topic)
        state = read_cluster_state(config)
        assert victim in state.dead_brokers
        placed = {p.topic: p for p in state.partitions if p.topic in topics}
        assert sorted(placed) == sorted(topics)
        for p in placed.values():
            assert victim not in p.replicas and len(p.replicas) == 3 and not p.under_replicated, p
        assert len(read_all(cluster.bootstrap, topics[0], 1)) == 1
    finally:
        cluster.start_broker(victim)
