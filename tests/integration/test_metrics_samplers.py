"""Samplers, store and load model against real KRaft brokers with a skewed workload running."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from kafka_medic.devcluster.workload import TopicLoad, run_workload
from kafka_medic.kafka.admin import admin_client
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state, read_load
from kafka_medic.metrics.admin_sampler import AdminSampler
from kafka_medic.metrics.jmx_sampler import JmxSampler
from kafka_medic.metrics.load_model import build_load_model
from kafka_medic.metrics.prometheus_sampler import PrometheusSampler, load_queries
from kafka_medic.metrics.sampling import sample_loop, sample_round
from kafka_medic.metrics.store import MetricsStore
from kafka_medic.units import MB

from .kafka_helpers import create_topic, wait_for
from .servers import running_prometheus

pytestmark = pytest.mark.kafka

TOPICS = (TopicLoad("metrics-orders", 6, 0.7), TopicLoad("metrics-audit", 3, 0.3))
RATE_KBPS = 400.0


@pytest.fixture
def cluster(healthy_kraft_cluster):
    """Every broker alive (an earlier test may have killed one) and the test topics there."""
    bootstrap = healthy_kraft_cluster.bootstrap
    existing = {p.topic for p in read_cluster_state(ClusterConfig(bootstrap=bootstrap)).partitions}
    for topic in TOPICS:
        if topic.name not in existing:
            create_topic(bootstrap, topic.name, partitions=topic.partitions, replication=2)
    return healthy_kraft_cluster


@pytest.fixture
def workload(cluster):
    """The skewed dev workload in the background for the length of a test."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_workload, args=(cluster.bootstrap, 600), kwargs={"rate_kbps": RATE_KBPS, "topics": TOPICS,
                                                                    "stop": stop}, daemon=True
    )  # fmt: skip
    thread.start()
    time.sleep(3)  # past the producer's start-up
    yield stop
    stop.set()
    thread.join(timeout=60)


@pytest.fixture
def samplers(cluster):
    admin = AdminSampler(ClusterConfig(bootstrap=cluster.bootstrap, name="it"))
    return [admin, JmxSampler({b: cluster.jmx_url(b) for b in cluster.broker_ids}, admin)]


@pytest.fixture
def store(tmp_path):
    with MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}") as store:
        yield store


def test_sampled_bytes_in_agrees_with_broker_jmx(samplers, store, workload):
    """The Admin API's estimate (size deltas) against the brokers' own BytesInPerSec counters.

    Both samplers read in the same rounds, so each broker's mean over the rounds covers the same
    ~40 s (shifted by the second or two between the two readings of a round).
    """
    sample_loop(store, "it", samplers, interval_s=10.0, rounds=4)
    frame = store.broker_samples("it", 0, time.time() + 1).dropna(subset=["bytes_in"])
    table = frame.pivot_table(index=["ts", "broker"], columns="source", values="bytes_in")
    assert len(table) == 4 * len(samplers[0].latest_state.alive_brokers)
    per_broker = table.groupby(level="broker").mean()
    busy = per_broker[per_broker.jmx > 20 * 1024]  # brokers that lead produced partitions
    assert len(busy) >= 2
    deviation = ((busy.admin - busy.jmx).abs() / busy.jmx).max()
    per_round = ((table.admin - table.jmx).abs() / table.jmx)[table.jmx > 20 * 1024].max()
    print(f"per-broker bytes in, Admin API vs JMX: max deviation {deviation:.1%} over the run "
          f"({per_round:.1%} in a single 10 s round)")  # fmt: skip
    assert deviation < 0.15
    produced_kib = RATE_KBPS * 1000 / 1024
    assert table.groupby(level="ts").jmx.sum().mean() / 1024 == pytest.approx(produced_kib, rel=0.3)


def test_sizes_match_describe_log_dirs_exactly(cluster, samplers, store, workload):
    workload.set()
    time.sleep(3)  # let followers catch up: sizes stop changing
    sample_round(store, "it", samplers)
    state = read_cluster_state(ClusterConfig(bootstrap=cluster.bootstrap))
    frame = store.partition_samples("it", 0, time.time() + 1)
    ours = frame[frame.topic.str.startswith("metrics-")]
    for source in ("admin", "jmx"):
        sizes = {(r.topic, r.partition, r.broker): r.size for r in ours[ours.source == source].itertuples()}
        expected = {(p.topic, p.partition, b): float(s) for p in state.partitions for b, s in p.sizes.items()}
        assert sizes == {k: v for k, v in expected.items() if k[0].startswith("metrics-")}, source
    model = build_load_model(store, "it", now=time.time() + 1, window_s=1.0, windows=1)
    for p in state.partitions:
        if p.topic.startswith("metrics-"):
            assert model.partition_load[(p.topic, p.partition)]["disk"] == p.size_bytes / MB


def test_a_batched_round_reads_what_the_per_broker_and_per_partition_requests_read(cluster, store, workload):
    """One round asks per broker (DescribeLogDirs for every topic, ListOffsets per leader, all at once):
    every partition is sampled, with the sizes kafka-python's describe_log_dirs gives broker by broker
    and the end offsets librdkafka's ListOffsets gives (the requests the sampler sent before)."""
    workload.set()
    config = ClusterConfig(bootstrap=cluster.bootstrap, name="it")

    def settled():
        """A reading equal to the one 2 s later: the producers have flushed and followers caught up."""
        first, _, second = read_load(config), time.sleep(2), read_load(config)
        sizes = [{(p.topic, p.partition): p.sizes for p in r.state.partitions} for r in (first, second)]
        return second if sizes[0] == sizes[1] and first.end_offsets == second.end_offsets else None

    reading = wait_for(settled, 120, "sizes and end offsets to stop changing")
    partitions = reading.state.by_key
    sizes = {}
    with admin_client(config) as admin:
        for broker in reading.state.alive_brokers:
            (response,) = admin.describe_log_dirs(brokers=[broker])
            for log_dir in response["log_dirs"]:
                for topic in log_dir["topics"]:
                    for part in topic["partitions"]:
                        if (topic["name"], part["partition_index"]) in partitions:
                            sizes[(topic["name"], part["partition_index"], broker)] = part["partition_size"]
    assert {(*key, b): s for key, p in partitions.items() for b, s in p.sizes.items()} == sizes
    led = [TopicPartition(*key) for key, p in partitions.items() if p.leader is not None]
    rdkafka = AdminClient(config.confluent())  # kept referenced: a collected client never completes its futures
    futures = rdkafka.list_offsets({tp: OffsetSpec.latest() for tp in led}, request_timeout=30)
    assert reading.end_offsets == {(tp.topic, tp.partition): f.result(timeout=60).offset for tp, f in futures.items()}
    assert len(led) == len(partitions) >= sum(t.partitions for t in TOPICS)

    report = sample_round(store, "it", [AdminSampler(config)])
    assert report.partitions == len(partitions) and report.partition_samples == len(sizes)
    frame = store.partition_samples("it", 0, time.time() + 1)
    assert set(zip(frame.topic, frame.partition, frame.broker, strict=True)) == set(sizes)


def test_completeness_is_honest_then_plans(samplers, store, workload):
    window_s, windows = 6.0, 3
    sample_loop(store, "it", samplers, interval_s=2.0, rounds=1)
    early = build_load_model(store, "it", window_s=window_s, windows=windows)
    assert early.valid_windows < windows and not early.complete
    with pytest.raises(Exception, match=f"of {windows} windows of 6s are valid"):
        early.require_complete()
    sample_loop(store, "it", samplers, interval_s=2.0, rounds=int((windows + 1.5) * window_s / 2))
    model = build_load_model(store, "it", window_s=window_s, windows=windows)
    model.require_complete()
    assert model.valid_windows == windows and model.valid_partition_ratio >= 0.95
    heavy = max(model.partition_load.items(), key=lambda item: item[1]["nw_in"])
    assert heavy[0][0].startswith("metrics-") and heavy[1]["cpu"] > 0
    assert sum(b["cpu"] for b in model.broker_load.values()) > 0


def test_killed_broker_is_dead_and_keeps_its_last_load(cluster, samplers, store, workload):
    state = samplers[0].latest_state or read_cluster_state(ClusterConfig(bootstrap=cluster.bootstrap))
    victim = max(state.alive_brokers)
    sample_loop(store, "it", samplers, interval_s=2.0, rounds=3)
    before = build_load_model(store, "it", window_s=2.0, windows=2, min_valid_ratio=0.5)
    disk_before = before.broker_load[victim]["disk"]
    workload.set()  # producers retrying a dead leader would only slow this small machine down
    cluster.kill_broker(victim)  # the next test's `healthy_kraft_cluster` restarts it
    killed_at = time.time()
    reports = []
    sample_loop(store, "it", samplers, interval_s=2.0, rounds=5, on_round=reports.append)
    assert all(r.broker_samples for r in reports)  # every round still stored something
    model = build_load_model(store, "it", window_s=10.0, windows=2, min_valid_ratio=0.5)
    status = model.brokers[victim]
    assert status.state == "dead" and not status.alive
    assert status.last_sample is not None and status.last_sample < killed_at
    assert model.broker_load[victim]["disk"] == pytest.approx(disk_before, rel=0.05)
    assert all(model.brokers[b].alive for b in model.brokers if b != victim)


def test_dev_cluster_load_command(cluster):
    command = [sys.executable, "-m", "kafka_medic.cli", "dev-cluster", "load", "--name", cluster.name,
               "--home", str(cluster.home), "--duration", "5", "--rate", "100"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "produced" in done.stdout
    topics = {p.topic for p in read_cluster_state(ClusterConfig(bootstrap=cluster.bootstrap)).partitions}
    assert {"orders", "clicks", "audit"} <= topics


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_sample_and_load_commands(cluster, tmp_path, workload, backend, request):
    url = f"sqlite:///{tmp_path / 'cli.db'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    jmx = [f"--jmx-url={b}={cluster.jmx_url(b)}" for b in cluster.broker_ids]
    common = ["--cluster", "cli", "--store", url]
    sample = [sys.executable, "-m", "kafka_medic.cli", "sample", "--once", "--interval", "3",
              "--bootstrap", cluster.bootstrap, *common, *jmx]  # fmt: skip
    done = subprocess.run(sample, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    load = [
        sys.executable,
        "-m",
        "kafka_medic.cli",
        "load",
        "--json",
        *common,
        "--window",
        "1",
        "--windows",
        "1",
    ]
    done = subprocess.run(load, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {"valid_windows", "valid_partition_ratio", "brokers"} <= set(report)
    assert sorted(b["id"] for b in report["brokers"]) == sorted(cluster.broker_ids)
    assert all({"id", "disk", "nw_in", "nw_out", "cpu", "state"} <= set(b) for b in report["brokers"])
    assert sum(b["disk"] for b in report["brokers"]) > 0


@pytest.fixture
def prometheus(cluster, tmp_path):
    """A real Prometheus server scraping every broker's exporter every 2 s."""
    targets = "".join(
        f"      - targets: ['{cluster.jmx_url(b).split('/')[2]}']\n        labels: {{broker: '{b}'}}\n"
        for b in cluster.broker_ids
    )
    with running_prometheus(tmp_path, "  - job_name: kafka\n    static_configs:\n" + targets) as url:
        yield url


def test_prometheus_sampler_agrees_with_jmx(cluster, samplers, prometheus, store, workload, tmp_path):
    """Configurable queries (10 s rates here) against the same brokers the JMX sampler scrapes."""
    overrides = tmp_path / "queries.json"
    rates = {
        "bytes_in": 'sum by (broker) (rate(kafka_server_brokertopicmetrics_bytesin_total{topic=""}[10s]))',
        "bytes_out": 'sum by (broker) (rate(kafka_server_brokertopicmetrics_bytesout_total{topic=""}[10s]))',
    }
    overrides.write_text(json.dumps({"broker": rates}))
    admin = samplers[0]
    all_samplers = [*samplers, PrometheusSampler(prometheus, admin, load_queries(overrides))]
    time.sleep(12)  # Prometheus needs two scrapes inside each rate window
    sample_loop(store, "it", all_samplers, interval_s=10.0, rounds=3)
    frame = store.broker_samples("it", 0, time.time() + 1).dropna(subset=["bytes_in"])
    table = frame.pivot_table(index=["ts", "broker"], columns="source", values="bytes_in").dropna()
    per_broker = table.groupby(level="broker").mean()
    busy = per_broker[per_broker.jmx > 20 * 1024]
    deviation = ((busy.prometheus - busy.jmx).abs() / busy.jmx).max()
    print(f"per-broker bytes in, Prometheus vs JMX: max deviation {deviation:.1%} over the run")
    assert len(busy) >= 2 and deviation < 0.15
    parts = store.partition_samples("it", 0, time.time() + 1)
    from_prometheus = parts[
        (parts.source == "prometheus") & parts.topic.str.startswith("metrics-") & parts.leader
    ]
    assert from_prometheus.bytes_out.sum() > 0  # consumers' bytes out, which the Admin API cannot see
    assert set(from_prometheus.broker) <= set(cluster.broker_ids)
