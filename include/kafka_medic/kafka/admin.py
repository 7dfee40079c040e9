"""Admin clients built from a ClusterConfig.

kafka-python is the client for cluster administration: unlike confluent-kafka it speaks
DescribeLogDirs, ListPartitionReassignments, AlterPartitionReassignments and ElectLeaders.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
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
        refused = refusal(config)
        if refused:
            raise MedicError(f"Kafka at {config.bootstrap} refused {config.describe_login()}: {refused}") from exc
        raise MedicError(f"cannot reach Kafka at {config.bootstrap}: {exc}") from exc
    try:
        yield client
    finally:
        client.close()


def refusal(config: ClusterConfig, timeout_s: float = 5.0) -> str | None:
    """Why the cluster turned a client away, if it did: a failed SASL login or TLS handshake.

    kafka-python only logs that and then times out as if nothing answered; librdkafka reports it.
    """
    errors: list[RdKafkaError] = []
    # confluent-kafka's stub types AdminClient config values as str/int/float/bool, but librdkafka
    # clients take callbacks such as error_cb too (as its Producer and Consumer stubs allow).
    probe = AdminClient({**config.confluent(), "error_cb": errors.append, "log_level": 0})  # type: ignore[dict-item]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            probe.list_topics(timeout=0.5)
            return None  # it answers: whatever failed, it was not a refusal
        except KafkaException:
            probe.poll(0.1)  # serves error_cb
        refused = [e for e in errors if e.code() in (RdKafkaError._AUTHENTICATION, RdKafkaError._SSL)]
        if refused:  # "sasl_plaintext://host:port/bootstrap: SASL authentication error: ... (after 301ms in ...)"
            return refused[0].str().split(": ", 1)[-1].split(" (after ")[0]
    return None
