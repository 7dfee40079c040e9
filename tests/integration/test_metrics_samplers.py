"""Samplers, store and load model against real KRaft brokers with a skewed workload running."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from kafka_medic.devcluster.workload import TopicLoad, run_workload
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.metrics.admin_sampler import AdminSampler
from kafka_medic.metrics.jmx_sampler import JmxSampler
from kafka_medic.metrics.load_model import MB, build_load_model
from kafka_medic.metrics.sampling import sample_loop, sample_round
from kafka_medic.metrics.store import MetricsStore

from .kafka_helpers import create_topic, wait_for

pytestmark = pytest.mark.kafka

TOPICS = (TopicLoad("metrics-orders", 6, 0.7), TopicLoad("metrics-audit", 3, 0.3))
RATE_KBPS = 400.0


@pytest.fixture(scope="module")
def cluster(kraft_cluster):
    existing = read_cluster_state(ClusterConfig(bootstrap=kraft_cluster.bootstrap)).partitions
    for topic in TOPICS:
        if not any(p.topic == topic.name for p in existing):
            create_topic(kraft_cluster.bootstrap, topic.name, partitions=topic.partitions, replication=2)
    return kraft_cluster


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
    """The Admin API's estimate (size deltas) against the brokers' own BytesInPerSec counters."""
    sample_loop(store, "it", samplers, interval_s=10.0, rounds=3)
    frame = store.broker_samples("it", 0, time.time() + 1).dropna(subset=["bytes_in"])
    table = frame.pivot_table(index=["ts", "broker"], columns="source", values="bytes_in")
    assert len(table) == 3 * len(samplers[0].latest_state.alive_brokers)
    busy = table[table.jmx > 20 * 1024]  # brokers that lead produced partitions
    assert len(busy) >= 3
    deviation = ((busy.admin - busy.jmx).abs() / busy.jmx).max()
    print(f"per-broker bytes in, Admin API vs JMX: max deviation {deviation:.1%} over {len(busy)} readings")
    assert deviation < 0.15
    total_kbps = busy.groupby(level="ts").jmx.sum().mean() / 1024
    assert total_kbps == pytest.approx(RATE_KBPS * 1.024, rel=0.3)  # plus batch overhead, minus jitter


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
    cluster.kill_broker(victim)
    killed_at = time.time()
    try:
        reports = []
        sample_loop(store, "it", samplers, interval_s=2.0, rounds=8, on_round=reports.append)
        assert all(r.broker_samples for r in reports)  # every round still stored something
        model = build_load_model(store, "it", window_s=4.0, windows=2, min_valid_ratio=0.5)
        status = model.brokers[victim]
        assert status.state == "dead" and not status.alive
        assert status.last_sample is not None and status.last_sample < killed_at
        assert model.broker_load[victim]["disk"] == pytest.approx(disk_before, rel=0.05)
        survivors = [b for b in model.brokers if b != victim]
        assert all(model.brokers[b].alive for b in survivors)
    finally:
        cluster.start_broker(victim)
        wait_for(lambda: victim in read_cluster_state(ClusterConfig(cluster.bootstrap)).alive_brokers, 60,
                 f"broker {victim} to rejoin")  # fmt: skip


def test_sample_and_load_commands(cluster, tmp_path, workload):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
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
