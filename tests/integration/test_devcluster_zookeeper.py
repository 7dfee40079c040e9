"""The session ZooKeeper-mode dev cluster (Kafka 3.9): brokers register in ZooKeeper, and leave it when killed."""

from __future__ import annotations

from kazoo.client import KazooClient

from kafka_medic.devcluster.probes import registered_brokers

from .kafka_helpers import wait_for


def test_brokers_register_under_brokers_ids_with_their_racks(healthy_zk_cluster):
    cluster = healthy_zk_cluster
    status = cluster.status()
    assert status["mode"] == "zk" and status["version"].startswith("3.9.")
    assert status["zookeeper"]["alive"] and status["controllers"] == []
    with _zookeeper(cluster) as zk:
        assert sorted(zk.get_children("/brokers/ids"), key=int) == ["1", "2", "3"]
    assert registered_brokers(cluster.bootstrap) == {1: "r1", 2: "r2", 3: "r1"}


def test_a_killed_broker_leaves_zookeeper_and_comes_back(healthy_zk_cluster):
    cluster = healthy_zk_cluster
    cluster.kill_broker(2)
    with _zookeeper(cluster) as zk:
        wait_for(lambda: "2" not in zk.get_children("/brokers/ids"), 30, "broker 2's znode to expire")
        cluster.start_broker(2)
        assert "2" in zk.get_children("/brokers/ids")
    assert cluster.status()["brokers"][1]["alive"]


def test_an_added_broker_registers_in_the_least_used_rack_and_leaves_when_removed(healthy_zk_cluster):
    cluster = healthy_zk_cluster
    assert cluster.add_broker() == 4
    try:
        assert registered_brokers(cluster.bootstrap) == {1: "r1", 2: "r2", 3: "r1", 4: "r2"}
        assert cluster.status()["brokers"][3]["alive"]
    finally:
        cluster.remove_broker(4)
    with _zookeeper(cluster) as zk:  # a clean shutdown ends its session at once
        assert sorted(zk.get_children("/brokers/ids"), key=int) == ["1", "2", "3"]
    assert [b["id"] for b in cluster.status()["brokers"]] == [1, 2, 3]


class _zookeeper:
    def __init__(self, cluster):
        self.client = KazooClient(hosts=cluster.zookeeper_connect)

    def __enter__(self) -> KazooClient:
        self.client.start(timeout=15)
        return self.client

    def __exit__(self, *exc) -> None:
        self.client.stop()
        self.client.close()
