"""The cluster state reader and snapshots against real KRaft brokers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from kafka import TopicPartition

from kafka_medic.executor import throttles
from kafka_medic.goals import DEFAULT_GOALS
from kafka_medic.kafka.admin import admin_client
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.kafka.snapshot import state_to_model
from kafka_medic.kafka.state import THROTTLE_RATE_CONFIGS, THROTTLE_REPLICA_CONFIGS
from kafka_medic.model import load_model, load_proposal, save_model

from .executor_helpers import placed_topic
from .kafka_helpers import create_topic, produce, wait_for

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def config(kraft_cluster) -> ClusterConfig:
    create_topic(kraft_cluster.bootstrap, "reader-orders", partitions=8, replication=3)
    produce(kraft_cluster.bootstrap, "reader-orders", 4000, size=1000)
    return ClusterConfig(bootstrap=kraft_cluster.bootstrap)


def test_reads_brokers_partitions_sizes_and_configs(config, healthy_kraft_cluster):
    state = read_cluster_state(config)
    assert state.alive_brokers == [1, 2, 3, 4]
    assert {b.rack for b in state.brokers.values()} == {"r1", "r2"}
    orders = [p for p in state.partitions if p.topic == "reader-orders"]
    assert [p.partition for p in orders] == list(range(8))
    for p in orders:
        assert len(p.replicas) == 3 and p.leader == p.replicas[0]
        assert sorted(p.isr) == sorted(p.replicas)
        assert set(p.sizes) == set(p.replicas) and set(p.log_dirs) == set(p.replicas)
    # 4000 messages of 1 kB were produced; every replica holds a copy on disk.
    assert sum(p.size_bytes for p in orders) > 4000 * 1000
    assert state.min_insync_replicas("reader-orders") == 2
    assert all(b.log_dirs and all(total > 0 for total, _ in b.log_dirs.values()) for b in state.brokers.values())


def test_reads_throttles_and_inflight_reassignment(config, healthy_kraft_cluster):
    """A reassignment held back by a 1 kB/s throttle stays in flight long enough to be seen."""
    # More data than one replica fetch (1 MB) carries, so the throttle holds the copy back.
    create_topic(config.bootstrap, "reader-throttled", partitions=1, replication=3)
    produce(config.bootstrap, "reader-throttled", 6000, size=1000)
    state = read_cluster_state(config)
    p = next(p for p in state.partitions if p.topic == "reader-throttled")
    target = [b for b in state.alive_brokers if b not in p.replicas][:1] + p.replicas[1:]
    throttle_brokers = sorted(set(p.replicas) | set(target))
    rates = {str(b): dict.fromkeys(THROTTLE_RATE_CONFIGS, "1000") for b in throttle_brokers}
    replicas = {p.topic: dict.fromkeys(THROTTLE_REPLICA_CONFIGS, "*")}
    with admin_client(config) as admin:
        throttles.alter(admin, throttles.BROKER, rates)
        throttles.alter(admin, throttles.TOPIC, replicas)
        admin.alter_partition_reassignments({TopicPartition(p.topic, p.partition): target})
        try:
            moving = wait_for(
                lambda: next((q for q in read_cluster_state(config).reassigning_partitions()
                              if (q.topic, q.partition) == (p.topic, p.partition)), None),
                30, "the reassignment to show as in flight",
            )
            assert moving.adding_replicas == [target[0]]
            assert moving.removing_replicas == [p.replicas[0]]
            seen = read_cluster_state(config).throttles()
            assert seen["brokers"][throttle_brokers[0]]["leader.replication.throttled.rate"] == "1000"
            assert seen["topics"][p.topic]["follower.replication.throttled.replicas"] == "*"
        finally:
            admin.alter_partition_reassignments({TopicPartition(p.topic, p.partition): None})  # cancel: roll back
            throttles.alter(admin, throttles.BROKER, {b: dict.fromkeys(c) for b, c in rates.items()})
            throttles.alter(admin, throttles.TOPIC, {t: dict.fromkeys(c) for t, c in replicas.items()})
    after = wait_for(lambda: (s := read_cluster_state(config)) and not s.reassigning_partitions() and s,
                     30, "the cancelled reassignment to finish")
    # Cancelling keeps the original replicas but, in KRaft, not necessarily their order.
    assert sorted(next(q for q in after.partitions if q.name == p.name).replicas) == sorted(p.replicas)
    assert after.throttles() == {"brokers": {}, "topics": {}}


def test_dead_broker_reported_with_exactly_its_under_replicated_partitions(config, kraft_cluster, tmp_path):
    victim = 3
    kraft_cluster.kill_broker(victim)
    killed_at = time.monotonic()
    state = wait_for(lambda: (s := read_cluster_state(config)) and victim in s.dead_brokers and s,
                     30, f"broker {victim} to be reported dead")
    assert time.monotonic() - killed_at < 30
    hosted = {p.name for p in state.partitions if victim in p.replicas}
    # Leadership and ISR shrink follow the fencing within a few seconds.
    state = wait_for(
        lambda: (s := read_cluster_state(config)) and {p.name for p in s.under_replicated_partitions()} == hosted and s,
        30, "exactly the dead broker's partitions to be under-replicated",
    )
    assert hosted and all(victim not in p.isr for p in state.partitions if p.name in hosted)

    model = state_to_model(state, cluster="dev")
    dead = model.broker(victim)
    assert dead.alive is False and dead.rack == "r1"
    assert {p.name for p in model.partitions if victim in p.replicas} == hosted
    save_model(model, tmp_path / "dead.json")
    assert json.loads((tmp_path / "dead.json").read_text())["brokers"][victim - 1]["alive"] is False

    kraft_cluster.start_broker(victim)
    healthy = wait_for(
        lambda: (s := read_cluster_state(config)) and not s.dead_brokers and not s.under_replicated_partitions() and s,
        90, "the cluster to be healthy again",
    )
    assert healthy.alive_brokers == [1, 2, 3, 4]


def test_snapshot_cli_round_trip(config, healthy_kraft_cluster, tmp_path):
    out = tmp_path / "model.json"
    subprocess.run(
        [sys.executable, "-m", "kafka_medic.cli", "snapshot", "--bootstrap", config.bootstrap, "--output", str(out)],
        check=True, capture_output=True, text=True,
    )
    data = json.loads(out.read_text())
    assert data["format"] == "kafka-medic/cluster-model/v1"
    assert [b["id"] for b in data["brokers"]] == [1, 2, 3, 4]
    orders = [p for p in data["partitions"] if p["topic"] == "reader-orders"]
    assert len(orders) == 8 and sum(p["load"]["disk"] for p in orders) > 3.8  # MB, real sizes
    again = tmp_path / "again.json"
    save_model(load_model(out), again)
    assert again.read_bytes() == out.read_bytes()


def test_plan_and_check_without_a_model_file_snapshot_the_live_cluster(config, healthy_kraft_cluster, tmp_path):
    # Nothing on brokers 3 and 4, and 16 replicas a broker on 1 and 2 where topic_replica_distribution allows
    # 8 +- 2: the default goals move some onto 3 and 4 whatever the session's other topics hold (with 8
    # partitions, 4 a broker was within that band and the plan could balance the cluster with other topics).
    placed_topic(config.bootstrap, "reader-crowded", [[1, 2], [2, 1]] * 8, mb=1)
    env = {**os.environ, "KAFKA_MEDIC_HOME": str(tmp_path)}  # an empty store: loads are zero, sizes are real
    out = tmp_path / "proposal.json"
    planned = subprocess.run(
        [sys.executable, "-m", "kafka_medic.cli", "plan", "--bootstrap", config.bootstrap, "--output", str(out)],
        capture_output=True, text=True, env=env,
    )
    assert planned.returncode == 0, planned.stderr
    assert "snapshot of cluster 'dev': 4 brokers (0 dead)" in planned.stderr
    current = {(p.topic, p.partition): p.replicas for p in read_cluster_state(config).partitions}
    proposal = load_proposal(out)
    assert all(list(m.old_replicas) == current[(m.topic, m.partition)] for m in proposal.moves)
    assert {b for m in proposal.moves if m.topic == "reader-crowded" for b in m.new_replicas} & {3, 4}
    checked = subprocess.run(
        [sys.executable, "-m", "kafka_medic.cli", "check", "--bootstrap", config.bootstrap, "--json"],
        capture_output=True, text=True, env=env,
    )
    assert checked.returncode in (0, 1), checked.stderr
    assert [r["goal"] for r in json.loads(checked.stdout)] == list(DEFAULT_GOALS)
