"""The session KRaft dev cluster against real brokers: shape, data path, metrics, crash and repair."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

from confluent_kafka import Consumer, Producer
from prometheus_client.parser import text_string_to_metric_families

from kafka_medic.cli import main
from kafka_medic.devcluster.probes import registered_brokers
from kafka_medic.devcluster.processes import processes_mentioning

from .kafka_helpers import create_topic, produce, wait_for


def test_four_brokers_in_two_racks_are_registered(healthy_kraft_cluster):
    cluster = healthy_kraft_cluster
    assert cluster.broker_ids == [1, 2, 3, 4]
    assert registered_brokers(cluster.bootstrap) == {1: "r1", 2: "r2", 3: "r1", 4: "r2"}
    assert cluster.zookeeper_connect is None
    status = cluster.status()
    assert [b["alive"] for b in status["brokers"]] == [True] * 4
    assert [(c["id"], c["alive"]) for c in status["controllers"]] == [(1000, True)]
    assert status["bootstrap"] == cluster.bootstrap and status["version"] == "4.4.0"


def test_up_again_reports_the_running_cluster_and_changes_nothing(healthy_kraft_cluster):
    pids = [b["pid"] for b in healthy_kraft_cluster.status()["brokers"]]
    assert healthy_kraft_cluster.up() is False
    assert [b["pid"] for b in healthy_kraft_cluster.status()["brokers"]] == pids


def test_produce_consume_round_trip(healthy_kraft_cluster):
    bootstrap, topic = healthy_kraft_cluster.bootstrap, f"devcluster-roundtrip-{uuid.uuid4().hex[:8]}"
    create_topic(bootstrap, topic, partitions=3, replication=3)
    sent = {f"key-{i}".encode(): f"value-{i}".encode() for i in range(300)}
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for key, value in sent.items():
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    received = {}
    deadline = time.monotonic() + 60
    while len(received) < len(sent) and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            received[msg.key()] = msg.value()
    consumer.close()
    assert received == sent


def test_jmx_exporter_serves_byte_counters_sizes_and_cpu(healthy_kraft_cluster):
    cluster, topic = healthy_kraft_cluster, f"devcluster-jmx-{uuid.uuid4().hex[:8]}"
    create_topic(cluster.bootstrap, topic, partitions=4, replication=3)
    produce(cluster.bootstrap, topic, 2000, size=500)
    scrapes = {b: _scrape(cluster.jmx_url(b)) for b in cluster.broker_ids}
    for samples in scrapes.values():
        assert ("kafka_server_brokertopicmetrics_bytesin_total", ()) in samples
        assert ("kafka_server_replicamanager_underreplicatedpartitions", ()) in samples
        assert ("kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent", ()) in samples
        assert ("java_lang_operatingsystem_processcpuload", ()) in samples
    topic_key = ("kafka_server_brokertopicmetrics_bytesin_total", (("topic", topic),))
    # Leaders count the produced bytes; 2000 messages of 500 bytes are about 1 MB in total.
    assert sum(s.get(topic_key, 0) for s in scrapes.values()) > 1_000_000
    replication_in = sum(s["kafka_server_brokertopicmetrics_replicationbytesin_total", ()] for s in scrapes.values())
    assert replication_in > 1_000_000  # followers fetched the data too (RF 3)
    sizes = [
        value
        for samples in scrapes.values()
        for (name, labels), value in samples.items()
        if name == "kafka_log_log_size" and ("topic", topic) in labels
    ]
    assert len(sizes) == 4 * 3 and sum(sizes) > 3 * 1_000_000  # every replica of every partition


def test_kill_broker_is_seen_dead_then_start_broker_brings_it_back(healthy_kraft_cluster):
    cluster = healthy_kraft_cluster
    cluster.kill_broker(4)
    assert _alive(cluster) == {1: True, 2: True, 3: True, 4: False}
    killed_at = time.monotonic()
    wait_for(lambda: 4 not in registered_brokers(cluster.bootstrap), 30, "the cluster to drop broker 4")
    print(f"broker 4 dropped from the cluster metadata {time.monotonic() - killed_at:.1f} s after SIGKILL")
    started_at = time.monotonic()
    cluster.start_broker(4)
    print(f"broker 4 back in {time.monotonic() - started_at:.1f} s")
    assert 4 in registered_brokers(cluster.bootstrap)
    assert _alive(cluster) == {1: True, 2: True, 3: True, 4: True}


def test_cli_kill_broker_and_status_json(healthy_kraft_cluster, capsys):
    cluster = healthy_kraft_cluster
    where = ["--name", cluster.name, "--home", str(cluster.home)]
    assert main(["dev-cluster", "kill-broker", "3", *where]) == 0
    assert main(["dev-cluster", "status", "--json", *where]) == 0
    status = json.loads(capsys.readouterr().out)
    broker3 = status["brokers"][2]
    assert (broker3["id"], broker3["alive"], broker3["pid"], broker3["rack"]) == (3, False, None, "r1")
    assert processes_mentioning(str(cluster.layout.config(cluster.state.broker(3)))) == []
    assert all(b["alive"] and b["pid"] for b in status["brokers"] if b["id"] != 3)
    assert main(["dev-cluster", "start-broker", "3", *where]) == 0
    assert cluster.status()["brokers"][2]["alive"]


def _alive(cluster) -> dict[int, bool]:
    return {b["id"]: b["alive"] for b in cluster.status()["brokers"]}


def _scrape(url: str) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
