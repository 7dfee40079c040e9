"""Which bootstrap servers the executor's clients use: none that is a broker last seen dead, while another is left."""

from __future__ import annotations

from kafka_medic.executor.submit import reachable, remember_brokers
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.state import BrokerState, ClusterState


def state(alive: dict[int, bool], hosts: bool = True) -> ClusterState:
    brokers = {b: BrokerState(b, "h" if hosts else None, 9000 + b if hosts else None, None, ok)
               for b, ok in alive.items()}
    return ClusterState(cluster_id="c", controller_id=1, brokers=brokers, partitions=[], topic_configs={},
                        broker_configs={}, taken_at="", mode="zookeeper")


def test_dead_brokers_leave_the_bootstrap_list_and_come_back_when_alive():
    config = ClusterConfig("h:9001,h:9002,h:9003", name="unit-reachable")
    assert reachable(config) is config  # nothing known yet
    remember_brokers(config, state({1: True, 2: True, 3: True}))
    remember_brokers(config, state({1: True, 2: False, 3: True}, hosts=False))  # ZooKeeper: gone, no address
    assert reachable(config).bootstrap == "h:9001,h:9003"  # its address was seen before
    assert reachable(config).name == "unit-reachable"
    remember_brokers(config, state({1: True, 2: True, 3: True}))
    assert reachable(config) is config


def test_a_cluster_all_dead_keeps_its_list():
    config = ClusterConfig("h:9001,h:9002", name="unit-all-dead")
    remember_brokers(config, state({1: False, 2: False}))
    assert reachable(config) is config
