"""Admin clients built from a ClusterConfig, and the first contact with a cluster, bounded in time.

kafka-python is the client for cluster administration: unlike confluent-kafka it speaks
DescribeLogDirs, ListPartitionReassignments, AlterPartitionReassignments and ElectLeaders.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager

from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from kafka_medic.errors import MedicError
from kafka_medic.kafka.config import ClusterConfig

# How long the first contact waits for any bootstrap address to answer. kafka-python alone waits its
# request timeout (30 s) per client, and callers that build several clients (stop, sample) added up to
# minutes against an unreachable address before failing, or exited 0.
CONNECT_TIMEOUT_S = 10.0
# ApiVersions v0 (api key 18), correlation id 1, client id "kafka-medic": every Kafka broker answers it,
# before any SASL login too; a TCP accept alone proves nothing behind a proxy or a load balancer.
_CLIENT_ID = b"kafka-medic"
_API_VERSIONS = (18).to_bytes(2, "big") + (0).to_bytes(2, "big") + (1).to_bytes(4, "big") + \
    len(_CLIENT_ID).to_bytes(2, "big") + _CLIENT_ID
API_VERSIONS_REQUEST = len(_API_VERSIONS).to_bytes(4, "big") + _API_VERSIONS


def check_reachable(config: ClusterConfig, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """The SSL files exist and some bootstrap address answers within `timeout_s`, else a MedicError
    "no broker answered at HOST:PORT within 10 s (why)"; the addresses are tried at once. A plaintext
    listener must answer a Kafka ApiVersions request; a TLS one accept a connection (the client's TLS
    handshake that follows is bounded by its own bootstrap timeout).

    Only the first contact is cut short: a read in a live cluster that meets one dead broker keeps its
    retries (kafka.reader), as other bootstrap addresses answer here.
    """
    config.check_files()
    servers = [s.strip() for s in config.bootstrap.split(",")]
    reasons: dict[str, str] = {}
    pool = ThreadPoolExecutor(max_workers=len(servers), thread_name_prefix="kafka-medic-connect")
    plaintext = not config.security_protocol.endswith("SSL")
    futures = {pool.submit(_answer, server, timeout_s, plaintext): server for server in servers}
    try:
        for future in as_completed(futures, timeout=timeout_s):
            reason = future.result()
            if reason is None:
                return
            reasons[futures[future]] = reason
    except TimeoutError:
        pass
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a connect still waiting ends at its own timeout
    why = "; ".join(f"{s}: {reasons.get(s, 'timed out')}" for s in servers) if len(servers) > 1 else \
        reasons.get(servers[0], "timed out")
    raise MedicError(f"no broker answered at {', '.join(servers)} within {timeout_s:g} s ({why})")


def _answer(server: str, timeout_s: float, plaintext: bool) -> str | None:
    """None when `server` (host:port) answers (see check_reachable), else why not."""
    host, _, port = server.rpartition(":")
    deadline = time.monotonic() + timeout_s
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s) as sock:
            if not plaintext:
                return None
            sock.sendall(API_VERSIONS_REQUEST)
            header = b""
            while len(header) < 8:  # the response's size and correlation id
                sock.settimeout(max(deadline - time.monotonic(), 0.001))
                chunk = sock.recv(8 - len(header))
                if not chunk:
                    return "connection closed without a Kafka answer"
                header += chunk
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__
    return None if header[4:8] == (1).to_bytes(4, "big") else "not a Kafka broker"


@contextmanager
def admin_client(config: ClusterConfig) -> Iterator[KafkaAdminClient]:
    """An admin client that is always closed; an unreachable cluster is a one-line MedicError within
    CONNECT_TIMEOUT_S (twice that when the address answers TCP but no Kafka protocol)."""
    check_reachable(config)
    try:
        client = KafkaAdminClient(client_id=f"kafka-medic-{config.name}", bootstrap_timeout_ms=int(
            CONNECT_TIMEOUT_S * 1000), **config.kafka_python())
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
