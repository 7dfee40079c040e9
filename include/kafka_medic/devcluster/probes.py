"""Asking the running cluster itself which brokers it has: the test of "registered and serving"."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient


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
