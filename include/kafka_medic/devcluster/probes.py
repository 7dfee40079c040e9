"""Asking the running cluster itself which brokers it has: the test of "registered and serving"."""

from __future__ import annotations

import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from kafka_medic.errors import MedicError
from kafka_medic.kafka.zookeeper import BROKER_IDS, zookeeper_client


def registered_brokers(bootstrap: str, timeout_s: float = 5.0) -> dict[int, str | None]:
    """Broker id -> rack for every broker the cluster's metadata lists (KRaft: unfenced ones).

    Returns {} while no broker answers. A fresh client each time, so no cached metadata is reused.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})  # quiet while brokers boot
    try:
        description = admin.describe_cluster(request_timeout=timeout_s).result()
    except KafkaException:
        return {}
    return {node.id: node.rack for node in description.nodes}


def wait_for_stale_registration(zookeeper: str, broker_id: int, timeout_s: float) -> None:
    """Wait until a killed broker's ephemeral /brokers/ids/<id> znode has expired.

    A ZooKeeper-mode broker restarted while its old session's znode still exists exits at start-up
    with NodeExistsException, so a restart must outwait the ZooKeeper session timeout.
    """
    deadline = time.monotonic() + timeout_s
    with zookeeper_client(zookeeper) as zk:
        while zk.exists(f"{BROKER_IDS}/{broker_id}"):
            if time.monotonic() > deadline:
                raise MedicError(f"broker {broker_id}'s old ZooKeeper registration did not expire in {timeout_s:.0f}s")
            time.sleep(0.5)


def replicas_on(bootstrap: str, broker_id: int, timeout_s: float = 10.0) -> list[str]:
    """Names (topic-partition) of the partitions with a replica on the broker, per the cluster's metadata."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise MedicError(f"cannot read the partitions of {bootstrap}: {exc}") from exc
    return sorted(
        f"{topic.topic}-{partition.id}"
        for topic in metadata.topics.values()
        for partition in topic.partitions.values()
        if broker_id in partition.replicas
    )
