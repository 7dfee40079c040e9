"""Admin clients built from a ClusterConfig.

kafka-python is the client for cluster administration: unlike confluent-kafka it speaks
DescribeLogDirs, ListPartitionReassignments, AlterPartitionReassignments and ElectLeaders.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from kafka_medic.errors import MedicError
from kafka_medic.kafka.config import ClusterConfig


@contextmanager
def admin_client(config: ClusterConfig) -> Iterator[KafkaAdminClient]:
    """An admin client that is always closed; an unreachable cluster is a one-line MedicError."""
    try:
        client = KafkaAdminClient(client_id=f"kafka-medic-{config.name}", **config.kafka_python())
    except KafkaError as exc:
        raise MedicError(f"cannot reach Kafka at {config.bootstrap}: {exc}") from exc
    try:
        yield client
    finally:
        client.close()
