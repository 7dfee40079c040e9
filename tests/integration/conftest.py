"""Session-wide real Kafka clusters for the integration tests.

Each cluster starts once per test session (about 20 s), on free ports and under pytest's tmp dir,
so sessions can run side by side; teardown always runs `down()`, also after a failed test. A module gets
the cluster as the module before it found it: the topics a module created are deleted when it ends, since
a rebalance or add-brokers plan weighs every topic, and one module's skewed placements left behind made
the next module's plans move less or nothing.
Tests that kill a broker ask for `healthy_kraft_cluster` / `healthy_zk_cluster`, which restart any
dead broker and remove any throttle first, so one test's damage (a test that failed before its own
cleanup) never leaks into the next.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from kafka_medic.devcluster import DevCluster

CLUSTER_FIXTURES = {"kafka": ("kraft_cluster", "healthy_kraft_cluster"), "zk": ("zk_cluster", "healthy_zk_cluster")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a cluster fixture gets its marker, so `-m "not kafka and not zk"` skips it."""
    for item in items:
        for marker, fixtures in CLUSTER_FIXTURES.items():
            if any(f in getattr(item, "fixturenames", ()) for f in fixtures):
                item.add_marker(marker)


def _session_cluster(tmp_path_factory: pytest.TempPathFactory, mode: str, brokers: int,
                     label: str = "") -> Iterator[DevCluster]:
    name = f"test-{mode}{label}-{os.getpid()}"
    cluster = DevCluster(
        name=name, home=tmp_path_factory.mktemp(name), brokers=brokers, racks=2, mode=mode, base_port=0
    )
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down()


def _module_topics_deleted(cluster: DevCluster) -> Iterator[DevCluster]:
    """The session's `cluster` for one module; at its end, healthy again and without the topics it created."""
    from .kafka_helpers import delete_topics, topic_names

    found = topic_names(cluster)
    yield cluster
    _healthy(cluster)
    delete_topics(cluster, *(topic_names(cluster) - found))


@pytest.fixture(scope="session")
def _kraft_session_cluster(tmp_path_factory) -> Iterator[DevCluster]:
    yield from _session_cluster(tmp_path_factory, "kraft", brokers=4)


@pytest.fixture(scope="module")
def kraft_cluster(_kraft_session_cluster) -> Iterator[DevCluster]:
    """Kafka 4 in KRaft mode: 1 controller, brokers 1-4 in racks r1/r2."""
    yield from _module_topics_deleted(_kraft_session_cluster)


@pytest.fixture(scope="session")
def _zk_session_cluster(tmp_path_factory) -> Iterator[DevCluster]:
    yield from _session_cluster(tmp_path_factory, "zk", brokers=3)


@pytest.fixture(scope="module")
def zk_cluster(_zk_session_cluster) -> Iterator[DevCluster]:
    """Kafka 3.9 with ZooKeeper: brokers 1-3 in racks r1/r2."""
    yield from _module_topics_deleted(_zk_session_cluster)


def _healthy(cluster: DevCluster) -> DevCluster:
    from kafka_medic.executor.throttles import BROKER, TOPIC, alter
    from kafka_medic.kafka.admin import admin_client
    from kafka_medic.kafka.config import ClusterConfig
    from kafka_medic.kafka.reader import read_cluster_state

    for broker in cluster.status()["brokers"]:
        if not broker["alive"]:
            cluster.start_broker(broker["id"])
    config = ClusterConfig(bootstrap=cluster.bootstrap, zookeeper=cluster.zookeeper_connect)
    left = read_cluster_state(config).throttles()
    if left["brokers"] or left["topics"]:
        with admin_client(config) as admin:
            alter(admin, BROKER, {str(b): dict.fromkeys(rates) for b, rates in left["brokers"].items()})
            alter(admin, TOPIC, {t: dict.fromkeys(replicas) for t, replicas in left["topics"].items()})
    return cluster


@pytest.fixture
def healthy_kraft_cluster(kraft_cluster) -> DevCluster:
    """`kraft_cluster` with every broker alive (restarted if an earlier test killed it) and no throttle."""
    return _healthy(kraft_cluster)


@pytest.fixture
def healthy_zk_cluster(zk_cluster) -> DevCluster:
    return _healthy(zk_cluster)
