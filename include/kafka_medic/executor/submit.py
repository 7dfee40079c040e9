"""The cluster writes that move partitions: submit, cancel (roll back) and preferred leader election.

KRaft clusters, and ZooKeeper-mode clusters whose brokers have it (Kafka 2.4+, KIP-455), take
AlterPartitionReassignments (kafka-python): moves can be added while others run, and cancelled.
ZooKeeper-mode clusters without it are given the /admin/reassign_partitions znode, as legacy
tooling does: one batch at a time (the znode must be gone before the next), and no cancel.
Each function returns the partitions the cluster refused, with the error, so callers can record
them instead of guessing.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from kafka import KafkaAdminClient, TopicPartition
from kafka.errors import KafkaError, for_code
from kafka.protocol.api_key import ApiKey

from kafka_medic.errors import MedicError
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.tasks import Task
from kafka_medic.kafka.admin import admin_client
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state, read_moving_topics
from kafka_medic.kafka.state import ClusterState
from kafka_medic.kafka.zookeeper import write_legacy_reassignment

PREFERRED = 0
ATTEMPTS, RETRY_DELAY_S = 5, 2.0
READ_PATIENCE_S = 120.0  # a cluster unreadable for this long fails the step (brokers being fenced take ~10s)
T = TypeVar("T")


# Per bootstrap list: every broker address seen, the brokers the last read found dead, and the servers
# that did not answer a probe after a failed bootstrap (until when they are left out).
_addresses: dict[str, dict[int, str]] = {}
_dead: dict[str, set[int]] = {}
_silent: dict[str, dict[str, float]] = {}
PROBE_TIMEOUT_MS = 5000
SILENT_FOR_S = 30.0


def remember_brokers(config: ClusterConfig, state: ClusterState) -> None:
    """Note which brokers are dead now, and every broker's address, for `reachable`."""
    _addresses.setdefault(config.bootstrap, {}).update(
        {b.id: f"{b.host}:{b.port}" for b in state.brokers.values() if b.host and b.port})
    _dead[config.bootstrap] = {b.id for b in state.brokers.values() if not b.alive}


def reachable(config: ClusterConfig) -> ClusterConfig:
    """The config without bootstrap servers that are brokers last seen dead (while another server is left).

    A paused broker (SIGSTOP, a frozen VM, a stuck disk) is fenced by the controller but still takes
    connections and answers nothing: every client that picks it to bootstrap from waits a whole
    request timeout (30 s by default). A killed one refuses at once, so leaving it out costs nothing.
    """
    known = _addresses.get(config.bootstrap, {})
    dead = {known[b] for b in _dead.get(config.bootstrap, ()) if b in known}
    now = time.monotonic()
    dead |= {server for server, until in _silent.get(config.bootstrap, {}).items() if until > now}
    servers = [s for s in config.bootstrap.split(",") if s.strip() not in dead]
    if not servers or len(servers) == len(config.bootstrap.split(",")):
        return config
    return dataclasses.replace(config, bootstrap=",".join(servers))


def probe_bootstrap(config: ClusterConfig) -> list[str]:
    """After a failed bootstrap: the servers that cannot bootstrap a client within 5 s, left out for 30 s.

    Until a read of the cluster shows a paused broker dead (its fencing takes a session timeout),
    nothing else says which bootstrap server made a client wait.
    """
    servers = [s.strip() for s in config.bootstrap.split(",")]

    def silent(server: str) -> bool:
        probe = dataclasses.replace(config, bootstrap=server, request_timeout_ms=PROBE_TIMEOUT_MS)
        try:
            KafkaAdminClient(**probe.kafka_python(), bootstrap_timeout_ms=PROBE_TIMEOUT_MS).close()
        except KafkaError:
            return True
        return False

    with ThreadPoolExecutor(len(servers)) as pool:
        found = [server for server, quiet in zip(servers, pool.map(silent, servers), strict=True) if quiet]
    until = time.monotonic() + SILENT_FOR_S
    _silent.setdefault(config.bootstrap, {}).update(dict.fromkeys(found, until))
    return found


def read_cluster(config: ClusterConfig, previous: ClusterState | None = None,
                 topics: Iterable[str] | None = None) -> ClusterState:
    """read_cluster_state, bootstrapping from servers not known dead, and noting who is dead now.

    `topics` bounds the read to those topics (None: the whole cluster); given `previous`, only
    `topics` and the moves in flight are read again (`read_moving_topics`).
    """
    try:
        state = (read_cluster_state(reachable(config), topics=topics) if previous is None
                 else read_moving_topics(reachable(config), previous, topics or ()))
    except MedicError as exc:
        if isinstance(exc.__cause__, KafkaError):
            probe_bootstrap(config)  # the caller tries again: then without the servers that did not answer
        raise
    remember_brokers(config, state)
    return state


def with_admin(config: ClusterConfig, action: Callable[..., T]) -> T:
    """`action(admin)` with a fresh client per attempt: a broker that just died may still be where requests go.

    A client that could not bootstrap is retried too, without the servers a probe finds silent: the
    one it tried may be a paused broker (it takes connections and answers nothing).
    Every action here is safe to repeat: the same target, cancel or config value sent twice is one change.
    """
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with admin_client(reachable(config)) as admin:
                return action(admin)
        except (KafkaError, MedicError) as exc:
            if isinstance(exc, MedicError) and not isinstance(exc.__cause__, KafkaError):
                raise  # the action's own verdict (e.g. a refused config change), not the connection
            if attempt == ATTEMPTS:
                raise MedicError(f"admin request to {config.bootstrap} failed: {exc}") from exc
            if isinstance(exc, MedicError):
                probe_bootstrap(config)
            time.sleep(RETRY_DELAY_S)
    raise AssertionError("unreachable")


def read_state(config: ClusterConfig, patience_s: float = READ_PATIENCE_S,
               topics: Iterable[str] | None = None) -> ClusterState:
    """The cluster's state (bounded to `topics` unless None), read again while it cannot be read, for up
    to `patience_s`.

    For the steps that must finish what they started (roll back, elect, verify, clear throttles):
    a broker dying or paused at that moment costs a retry, not an abandoned rollback.
    """
    wanted = None if topics is None else sorted(set(topics))
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return read_cluster(config, topics=wanted)
        except MedicError:
            if time.monotonic() > deadline:
                raise
            time.sleep(RETRY_DELAY_S)


def uses_znode(config: ClusterConfig, options: ExecutionOptions) -> bool:
    """Whether moves go through the legacy znode: ZooKeeper mode without AlterPartitionReassignments, or asked to."""
    if not config.zookeeper:
        return False
    if options.zk_submission == "znode":
        return True
    return not with_admin(config, lambda admin: ApiKey.AlterPartitionReassignments in admin.api_versions())


def submit_reassignments(config: ClusterConfig, tasks: list[Task], znode: bool = False) -> dict[str, str]:
    """Start these moves; returns partition name -> error for those the cluster refused."""
    if not tasks:
        return {}
    if znode:
        if not config.zookeeper:
            raise MedicError(f"cluster {config.name!r} has no ZooKeeper to submit moves through the legacy znode")
        write_legacy_reassignment(config.zookeeper, {t.key: list(t.new_replicas) for t in tasks})
        return {}
    request = {TopicPartition(t.topic, t.partition): list(t.new_replicas) for t in tasks}
    results = with_admin(config, lambda admin: admin.alter_partition_reassignments(request))
    return {f"{tp.topic}-{tp.partition}": err.__name__ for tp, err in results.items() if err is not None}


def restore_order(config: ClusterConfig, replicas: dict[tuple[str, int], list[int]]) -> dict[str, str]:
    """Put rolled-back partitions' replicas back in their original order (a cancel keeps the merged order).

    The set is already right, so this copies nothing; it only gives back each partition's preferred leader.
    """
    if not replicas:
        return {}
    request = {TopicPartition(t, p): list(r) for (t, p), r in replicas.items()}
    results = with_admin(config, lambda admin: admin.alter_partition_reassignments(request))
    return {f"{tp.topic}-{tp.partition}": err.__name__ for tp, err in results.items() if err is not None}


def cancel_reassignments(config: ClusterConfig, keys: Iterable[tuple[str, int]]) -> dict[str, str]:
    """Roll in-flight moves back to their original replicas; returns partition name -> error for refusals.

    A partition with no reassignment in flight (it finished meanwhile) is not an error.
    """
    request = {TopicPartition(t, p): None for t, p in keys}
    if not request:
        return {}
    results = with_admin(config, lambda admin: admin.alter_partition_reassignments(request))
    return {
        f"{tp.topic}-{tp.partition}": err.__name__
        for tp, err in results.items()
        if err is not None and err.__name__ != "NoReassignmentInProgressError"
    }


def elect_preferred_leaders(config: ClusterConfig, keys: Iterable[tuple[str, int]]) -> dict[str, str]:
    """Preferred leader election; returns partition name -> error for partitions that did not get it."""
    by_topic: dict[str, list[int]] = defaultdict(list)
    for topic, partition in keys:
        by_topic[topic].append(partition)
    if not by_topic:
        return {}
    response = with_admin(config, lambda admin: admin.elect_leaders(PREFERRED, dict(by_topic), raise_errors=False))
    errors = {}
    for result in response.replica_election_results:
        for p in result.partition_result:
            error = for_code(p.error_code)
            if p.error_code and error.__name__ != "ElectionNotNeededError":
                errors[f"{result.topic}-{p.partition_id}"] = p.error_message or error.__name__
    return errors

