"""The state reader on a ZooKeeper-mode cluster (Kafka 3.9): kazoo reads registrations and legacy moves."""

from __future__ import annotations

import time

import pytest

from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.kafka.snapshot import state_to_model
from kafka_medic.kafka.zookeeper import read_zookeeper, write_legacy_reassignment

from .kafka_helpers import create_topic, produce, wait_for

pytestmark = pytest.mark.zk


@pytest.fixture(scope="module")
def config(zk_cluster) -> ClusterConfig:
    create_topic(zk_cluster.bootstrap, "zk-orders", partitions=6, replication=2)
    produce(zk_cluster.bootstrap, "zk-orders", 2000, size=500)
    return ClusterConfig(bootstrap=zk_cluster.bootstrap, zookeeper=zk_cluster.zookeeper_connect)


def test_brokers_come_from_zookeeper_registrations(config, zk_cluster):
    view = read_zookeeper(config.zookeeper)
    assert [b.id for b in view.brokers] == zk_cluster.broker_ids
    assert all(b.alive and b.rack in ("r1", "r2") and b.port for b in view.brokers)
    state = read_cluster_state(config)
    assert state.mode == "zookeeper" and state.alive_brokers == zk_cluster.broker_ids
    orders = [p for p in state.partitions if p.topic == "zk-orders"]
    assert len(orders) == 6 and all(set(p.sizes) == set(p.replicas) for p in orders)
    assert sum(p.size_bytes for p in orders) > 2000 * 500


def test_legacy_reassignment_znode_moves_a_partition(config, zk_cluster):
    state = read_cluster_state(config)
    p = next(p for p in state.partitions if p.topic == "zk-orders")
    spare = next(b for b in state.alive_brokers if b not in p.replicas)
    target = [spare, *p.replicas[1:]]
    write_legacy_reassignment(config.zookeeper, {(p.topic, p.partition): target})
    moved = wait_for(
        lambda: (s := read_cluster_state(config))
        and next(q for q in s.partitions if q.name == p.name).replicas == target
        and not read_zookeeper(config.zookeeper).reassignments and s,
        60, "the legacy reassignment to complete",
    )
    assert next(q for q in moved.partitions if q.name == p.name).sizes.keys() == set(target)


def test_dead_broker_loses_its_registration(config, zk_cluster):
    victim = zk_cluster.broker_ids[-1]
    racks = {b.id: b.rack for b in read_zookeeper(config.zookeeper).brokers}
    zk_cluster.kill_broker(victim)
    try:
        started = time.monotonic()
        wait_for(lambda: victim not in {b.id for b in read_zookeeper(config.zookeeper).brokers},
                 30, f"broker {victim}'s registration to expire")
        assert time.monotonic() - started < 30
        state = read_cluster_state(config, known_brokers=racks)
        assert victim in state.dead_brokers
        model = state_to_model(state, cluster="zk")
        assert model.broker(victim).alive is False and model.broker(victim).rack == racks[victim]
    finally:
        zk_cluster.start_broker(victim)
    wait_for(lambda: not read_cluster_state(config).dead_brokers, 60, f"broker {victim} to register again")
