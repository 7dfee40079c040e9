"""The throttle is honoured on real brokers: copy rate near R, execution time near bytes / R (bench/executor.py)."""

from __future__ import annotations

import importlib.util
import json
import re
import threading
import time
from pathlib import Path

import pytest

from kafka_medic.devcluster.workload import TopicLoad, run_workload
from kafka_medic.executor import ExecutionOptions, Journal, execute
from kafka_medic.executor.throttles import BROKER, alter
from kafka_medic.kafka.admin import admin_client
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.metrics.admin_sampler import AdminSampler
from kafka_medic.metrics.jmx_sampler import JmxSampler
from kafka_medic.metrics.sampling import sample_loop, sample_round
from kafka_medic.metrics.store import MetricsStore
from kafka_medic.units import MB

from .executor_helpers import our_throttles, placed_topic, proposal
from .kafka_helpers import create_topic

pytestmark = pytest.mark.kafka
BENCH = Path(__file__).parents[2] / "bench" / "executor.py"
OPERATORS_RATE = "3333333"
CAPACITY_KB = 4096  # network in and out per broker, KB/s: small enough that 600 kB/s of traffic shows


def test_throttled_execution_copies_at_the_throttle(healthy_kraft_cluster, tmp_path):
    spec = importlib.util.spec_from_file_location("bench_executor", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    row = bench.measure(healthy_kraft_cluster.bootstrap, throttle_mb=2, mb=60,
                        journal=Journal(f"sqlite:///{tmp_path / 'store.db'}"))
    assert row["status"] == "succeeded", json.dumps(row)
    # The throttle is in force: unthrottled, 60 MB copy here in 2-3 s (>10 x R). Kafka's quota is not
    # exact: after an idle spell a broker's quota window can let a burst through at the start, and once
    # exceeded it still lets one fetch response (up to 1 MB per partition in flight) through. One CI run
    # measured a mean of 1.22 x R. The 1.2 x R target is judged by the benchmark (bench/README.md); the
    # test bounds what the quota can let through, well below an unthrottled copy.
    assert row["mean_rate_vs_throttle"] <= 1.5, json.dumps(row)
    assert row["worst_11s_rate_vs_throttle"] <= 2.0, json.dumps(row)


def test_auto_throttle_is_the_sampled_headroom_and_is_cleared(healthy_kraft_cluster, tmp_path):
    """Samplers measure real traffic (the dev workload); the rates put on brokers are capacity x 0.8 minus it."""
    bootstrap = healthy_kraft_cluster.bootstrap
    name, topic, load = "ex-auto", "ex-auto", TopicLoad("ex-auto-load", 4, 1.0)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    capacity = tmp_path / "capacity.json"
    capacity.write_text(json.dumps({"default": {"disk": 500000, "nw_in": CAPACITY_KB, "nw_out": CAPACITY_KB,
                                                "cpu": 100}}))
    create_topic(bootstrap, load.name, partitions=load.partitions, replication=2)
    placed_topic(bootstrap, topic, [[1, 2], [2, 1]], mb=2)
    config = ClusterConfig(bootstrap, name=name)
    stop = threading.Event()
    workload = threading.Thread(target=run_workload, args=(bootstrap, 600),
                                kwargs={"rate_kbps": 600, "topics": (load,), "stop": stop}, daemon=True)
    workload.start()
    try:
        admin = AdminSampler(config)
        samplers = [admin, JmxSampler({b: healthy_kraft_cluster.jmx_url(b) for b in healthy_kraft_cluster.broker_ids},
                                      admin)]
        with MetricsStore(url) as store:
            sample_loop(store, name, samplers, interval_s=5.0, rounds=2)
            frame = store.broker_samples(name, time.time() - 300, time.time() + 1)
        jmx = frame[frame.source == "jmx"].dropna(subset=["bytes_in", "bytes_out"]).groupby("broker").last()
        traffic = {b: (r.bytes_in + r.replication_bytes_in, r.bytes_out + r.replication_bytes_out)
                   for b, r in jmx.iterrows()}
        assert 300 * 1000 < sum(r.bytes_in for _, r in jmx.iterrows()) < 900 * 1000, jmx  # the workload's 600 kB/s
        room = CAPACITY_KB * 1024 * 0.8
        expected = {str(b): {"leader.replication.throttled.rate": str(max(MB, int(room - out))),
                             "follower.replication.throttled.rate": str(max(MB, int(room - in_)))}
                    for b, (in_, out) in traffic.items()}
        assert any(int(r["follower.replication.throttled.rate"]) < room - 100 * 1000 for r in expected.values())

        seen: list[dict] = []

        def log(line: str) -> None:
            if line.startswith("batch 1: submitted"):
                seen.append(read_cluster_state(config).throttles()["brokers"])

        options = ExecutionOptions(auto_throttle=True, capacity_file=str(capacity))
        report = execute(config, proposal(name, topic, {0: ([1, 2], [3, 2]), 1: ([2, 1], [2, 4])}), options,
                         Journal(url), log)
    finally:
        stop.set()
        workload.join(60)
    assert report["status"] == "succeeded"
    [during] = seen
    assert {str(b): v for b, v in during.items()} == expected  # brokers 1-4, each with its own headroom
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}


def test_auto_throttle_is_recomputed_as_traffic_changes_and_not_from_its_own_copying(healthy_kraft_cluster,
                                                                                     tmp_path):
    """The workload stops once the moves start; samplers keep measuring. The recomputed rates give the
    destinations the room the clients left, although the destinations' replication traffic is now the
    moves' own copying (counted against the headroom, it would push the rate down to the floor instead)."""
    bootstrap = healthy_kraft_cluster.bootstrap
    name, topic, load = "ex-retune", "ex-retune", TopicLoad("ex-retune-load", 4, 1.0)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    capacity = tmp_path / "capacity.json"
    capacity.write_text(json.dumps({"default": {"disk": 500000, "nw_in": 2560, "nw_out": 2560, "cpu": 100}}))
    create_topic(bootstrap, load.name, partitions=load.partitions, replication=2)
    placed_topic(bootstrap, topic, [[1, 2], [2, 1]], mb=100)
    config = ClusterConfig(bootstrap, name=name)
    admin = AdminSampler(config)
    samplers = [admin, JmxSampler({b: healthy_kraft_cluster.jmx_url(b) for b in healthy_kraft_cluster.broker_ids},
                                  admin)]
    clients_stop, sampling_stop = threading.Event(), threading.Event()
    workload = threading.Thread(target=run_workload, args=(bootstrap, 600),
                                kwargs={"rate_kbps": 1200, "topics": (load,), "stop": clients_stop}, daemon=True)

    rated = threading.Semaphore(0)

    def sample() -> None:
        """A round every 4 s, as a sampler task takes them: rates are counter deltas over the interval (two
        rounds moments apart would read a fetch that lands between them as a burst several times its rate)."""
        with MetricsStore(url) as store:
            sample_round(store, name, samplers)  # priming: rates need two readings
            while not sampling_stop.wait(4.0):
                sample_round(store, name, samplers)
                rated.release()

    sampler = threading.Thread(target=sample, daemon=True)
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("batch 1: submitted"):
            clients_stop.set()
            with admin_client(config) as admin:  # an operator's own rate on broker 1, set mid-execution
                alter(admin, BROKER, {"1": {"leader.replication.throttled.rate": OPERATORS_RATE}})

    workload.start()
    sampler.start()
    try:
        for _ in range(2):  # two rounds of rates with the workload running
            assert rated.acquire(timeout=60)
        options = ExecutionOptions(auto_throttle=True, capacity_file=str(capacity), auto_throttle_interval_s=10)
        report = execute(config, proposal(name, topic, {0: ([1, 2], [3, 2]), 1: ([2, 1], [2, 4])}), options,
                         Journal(url), log)
    finally:
        clients_stop.set()
        sampling_stop.set()
        workload.join(60)
        sampler.join(60)
    assert report["status"] == "succeeded", lines
    [initial] = [line for line in lines if line.startswith("throttle (leader/follower MB/s)")]
    start = {int(b): float(r.split("/")[1]) for b, r in re.findall(r"(\d+): ([\d.]+/[\d.]+)", initial)}
    changes = {}
    for line in lines:
        if match := re.match(r"throttle: broker (\d) leader/follower [\d.]+/([\d.]+) -> [\d.]+/([\d.]+) MB/s", line):
            changes.setdefault(int(match[1]), []).append((float(match[2]), float(match[3])))
    for destination in (3, 4):  # the room the clients left, up to capacity x 0.8 = 2.0 MB/s
        assert changes.get(destination), (initial, [line for line in lines if line.startswith("throttle")])
        assert changes[destination][0][0] == start[destination]
        assert max(after for _, after in changes[destination]) > start[destination], changes
        assert all(after <= 2.0 for _, after in changes[destination]), changes
    # The operator's rate was left alone by every recompute and by the cleanup; the rest is cleared.
    assert not changes.get(1) and "throttle: broker 1 left as it is: its rates were changed outside kafka-medic" \
        in lines, [line for line in lines if line.startswith("throttle")]
    try:
        assert our_throttles(config, topic) == {
            "brokers": {1: {"leader.replication.throttled.rate": OPERATORS_RATE}}, "topic": {}}
    finally:
        with admin_client(config) as admin:
            alter(admin, BROKER, {"1": {"leader.replication.throttled.rate": None}})
    print(initial, *[line for line in lines if line.startswith("throttle")], sep="\n")
