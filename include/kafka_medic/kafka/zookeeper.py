"""ZooKeeper-mode clusters: broker registrations and the legacy reassignment znode, through kazoo.

A broker's registration is an ephemeral znode under /brokers/ids: present means alive. Legacy
tooling (and kafka-medic on clusters older than 2.4) moves partitions by writing
/admin/reassign_partitions; the controller deletes it when every listed move has finished. Such a
move cannot be cancelled safely (deleting the znode leaves the controller half way): on 2.4+
brokers AlterPartitionReassignments cancels it, and takes precedence over the znode.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

from kafka_medic.errors import MedicError
from kafka_medic.kafka.state import BrokerState

BROKER_IDS = "/brokers/ids"
REASSIGN_PARTITIONS = "/admin/reassign_partitions"


@dataclass
class ZookeeperView:
    brokers: list[BrokerState]
    # (topic, partition) -> {"replicas": [...], "adding_replicas": [...], "removing_replicas": [...]}
    reassignments: dict[tuple[str, int], dict[str, list[int]]]


@contextmanager
def zookeeper_client(connect: str, timeout: float = 15.0) -> Iterator[KazooClient]:
    client = KazooClient(hosts=connect, timeout=timeout)
    try:
        client.start(timeout=timeout)
    except KazooTimeoutError as exc:
        raise MedicError(f"cannot reach ZooKeeper at {connect} within {timeout:.0f}s") from exc
    try:
        yield client
    finally:
        client.stop()
        client.close()


def read_zookeeper(connect: str) -> ZookeeperView:
    try:
        with zookeeper_client(connect) as zk:
            return ZookeeperView(brokers=_registered_brokers(zk), reassignments=_legacy_reassignments(zk))
    except KazooException as exc:
        raise MedicError(f"reading ZooKeeper at {connect} failed: {exc!r}") from exc


def _registered_brokers(zk: KazooClient) -> list[BrokerState]:
    brokers = []
    for child in sorted(zk.get_children(BROKER_IDS), key=int):
        try:
            data, _ = zk.get(f"{BROKER_IDS}/{child}")
        except NoNodeError:
            continue  # deregistered between listing and reading: it just died
        reg = json.loads(data)
        brokers.append(
            BrokerState(id=int(child), host=reg.get("host"), port=reg.get("port"), rack=reg.get("rack"), alive=True)
        )
    return brokers


def _legacy_reassignments(zk: KazooClient) -> dict[tuple[str, int], dict[str, list[int]]]:
    """In-flight moves from the znode, with adding/removing derived from the current assignment."""
    try:
        data, _ = zk.get(REASSIGN_PARTITIONS)
    except NoNodeError:
        return {}
    result = {}
    for entry in json.loads(data).get("partitions", []):
        topic, partition, target = entry["topic"], entry["partition"], entry["replicas"]
        current = _current_replicas(zk, topic, partition)
        result[(topic, partition)] = {
            "replicas": target,
            "adding_replicas": [b for b in target if b not in current],
            "removing_replicas": [b for b in current if b not in target],
        }
    return result


def _current_replicas(zk: KazooClient, topic: str, partition: int) -> list[int]:
    try:
        data, _ = zk.get(f"/brokers/topics/{topic}")
    except NoNodeError:
        return []
    return json.loads(data).get("partitions", {}).get(str(partition), [])


def legacy_reassignment_pending(connect: str) -> bool:
    """The znode still exists: the controller has not finished (or not yet removed) the last reassignment."""
    try:
        with zookeeper_client(connect) as zk:
            return zk.exists(REASSIGN_PARTITIONS) is not None
    except KazooException as exc:
        raise MedicError(f"reading ZooKeeper at {connect} failed: {exc!r}") from exc


def write_legacy_reassignment(connect: str, moves: dict[tuple[str, int], list[int]]) -> None:
    """Submit moves through /admin/reassign_partitions; refuses while another reassignment runs."""
    payload = {
        "version": 1,
        "partitions": [{"topic": t, "partition": p, "replicas": r} for (t, p), r in sorted(moves.items())],
    }
    with zookeeper_client(connect) as zk:
        if zk.exists(REASSIGN_PARTITIONS):
            raise MedicError(f"{REASSIGN_PARTITIONS} exists: another reassignment is in progress")
        zk.create(REASSIGN_PARTITIONS, json.dumps(payload).encode())
