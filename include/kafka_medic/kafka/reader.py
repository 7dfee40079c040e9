"""Read a live cluster into a ClusterState through the Admin API (and ZooKeeper for legacy clusters).

Broker liveness: a broker is alive when it is registered and not fenced. Brokers that the
cluster still assigns replicas to, or that the caller knew before (`known_brokers`), but that
are not registered (or are fenced) are reported dead, so a dead broker never silently vanishes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaConnectionError, KafkaError, UnknownTopicOrPartitionError
from kafka.protocol.admin import DescribeLogDirsRequest
from kafka.protocol.api_key import ApiKey

from kafka_medic.errors import MedicError
from kafka_medic.kafka.admin import admin_client
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.fanout import ask_each
from kafka_medic.kafka.offsets import end_offsets
from kafka_medic.kafka.state import (
    THROTTLE_RATE_CONFIGS,
    THROTTLE_REPLICA_CONFIGS,
    BrokerState,
    ClusterState,
    PartitionState,
)

READ_ATTEMPTS = 4
RETRY_DELAY_S = 2.0
# A killed KRaft broker stays in the metadata clients are given until the controller fences it (the
# session timeout, 9 s by default): a read that met it is retried at least this long.
FENCING_WAIT_S = 20.0
TOPIC_CONFIGS = ("min.insync.replicas", *THROTTLE_REPLICA_CONFIGS)
Read = TypeVar("Read")


def read_cluster_state(
    config: ClusterConfig, known_brokers: Mapping[int, str | None] | None = None,
    topics: Iterable[str] | None = None,
) -> ClusterState:
    """Everything the planner, executor and detector need to know about the cluster now.

    `known_brokers` maps broker id -> rack for brokers expected to exist (e.g. from earlier
    snapshots); any of them that is not registered is reported dead with that rack.
    `topics` bounds the read to those topics' partitions, sizes and configs (every live broker is still
    read: liveness, log dirs, throttle rates), for an executor whose steps need only its moves' topics:
    with 4,000 partitions in the cluster a whole read took 1.2-1.6 s, and a step made two or three.
    Brokers dead and holding replicas only of other topics are then unknown, not reported dead.
    """
    wanted = None if topics is None else sorted(set(topics))
    return _retrying(config, lambda admin: _read(admin, config, dict(known_brokers or {}), wanted))


def read_moving_topics(config: ClusterConfig, previous: ClusterState, topics: Iterable[str]) -> ClusterState:
    """`previous` brought up to date for an executor following moves of `topics` (KRaft clusters).

    Four requests and one log-dir read per live broker, however many topics the cluster has: brokers
    (liveness), the reassignments in flight, these topics' partitions, and every live broker's log
    dirs. Topic and broker configs (min ISR, throttles) are `previous`'s: the caller reads the whole
    cluster now and then for them. Other topics' partitions are `previous`'s too.
    """
    wanted = sorted(set(topics))

    def read(admin) -> ClusterState:
        taken_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        cluster = admin.describe_cluster()
        brokers = _kraft_brokers(cluster)
        partitions = _read_partitions(admin, wanted) if wanted else []
        reassignments = {(tp.topic, tp.partition): r for tp, r in admin.list_partition_reassignments().items()}
        for p in partitions:
            r = reassignments.get((p.topic, p.partition))
            if r:
                p.adding_replicas = list(r.get("adding_replicas", []))
                p.removing_replicas = list(r.get("removing_replicas", []))
        _add_missing_brokers(brokers, partitions, {b.id: b.rack for b in previous.brokers.values()})
        _read_log_dirs(admin, brokers, partitions, whole=False)
        others = [p for p in previous.partitions if p.topic not in wanted]
        return dataclasses.replace(
            previous, brokers=dict(sorted(brokers.items())), taken_at=taken_at,
            controller_id=cluster.get("controller_id") if cluster.get("controller_id", -1) >= 0 else None,
            partitions=sorted(others + partitions, key=lambda p: (p.topic, p.partition)))

    return _retrying(config, read)


@dataclass(frozen=True)
class LoadReading:
    """What one sampling round reads: the state, and the end offset of every led partition that answered."""

    state: ClusterState
    end_offsets: dict[tuple[str, int], int]
    offsets_at: float  # time.monotonic() midway through the ListOffsets requests


def read_load(config: ClusterConfig, known_brokers: Mapping[int, str | None] | None = None) -> LoadReading:
    """A sampling round's reads, through one client, in requests that grow with brokers, not partitions.

    DescribeCluster, one Metadata, ListPartitionReassignments, one DescribeLogDirs per live broker and
    one ListOffsets per leader, the last two sent to every broker at once. Topic and broker configs
    (min ISR, throttles) are left out (empty): sampling never reads them, and at 1,000 brokers they
    were 1,001 more requests a round.
    """

    def read(admin) -> LoadReading:
        state = _read(admin, config, dict(known_brokers or {}), configs=False)
        asked = time.monotonic()
        offsets = end_offsets(admin, state.partitions)
        return LoadReading(state, offsets, (asked + time.monotonic()) / 2)

    return _retrying(config, read)


def _retrying(config: ClusterConfig, read: Callable[..., Read]) -> Read:
    attempt, fenced_by = 1, time.monotonic() + FENCING_WAIT_S
    while True:
        try:
            with admin_client(config) as admin:  # a cluster that does not answer at all is a MedicError here
                return read(admin)
        except KafkaError as exc:
            # A broker that just died may still be the one the client sends requests to, until it is fenced;
            # a new client asks the cluster afresh.
            if attempt >= READ_ATTEMPTS and time.monotonic() >= fenced_by:
                raise MedicError(f"reading cluster state from {config.bootstrap} failed: {exc}") from exc
            attempt += 1
            time.sleep(RETRY_DELAY_S)


def _read(admin, config: ClusterConfig, known: dict[int, str | None], topics: list[str] | None = None,
          configs: bool = True) -> ClusterState:
    taken_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    cluster = admin.describe_cluster()
    if config.zookeeper:
        from kafka_medic.kafka.zookeeper import read_zookeeper

        zk = read_zookeeper(config.zookeeper)
        brokers = {b.id: b for b in zk.brokers}
        reassignments = zk.reassignments
        mode = "zookeeper"
    else:
        brokers = _kraft_brokers(cluster)
        reassignments = {}
        mode = "kraft"
    partitions = _read_partitions(admin, topics) if topics is None or topics else []
    if not config.zookeeper or ApiKey.ListPartitionReassignments in admin.api_versions():
        # ZooKeeper-mode brokers since 2.4 list every move, also those submitted through the API (not the znode)
        reassignments = {
            **reassignments, **{(tp.topic, tp.partition): r for tp, r in admin.list_partition_reassignments().items()}
        }
    for p in partitions:
        r = reassignments.get((p.topic, p.partition))
        if r:
            p.adding_replicas = list(r.get("adding_replicas", []))
            p.removing_replicas = list(r.get("removing_replicas", []))
    _add_missing_brokers(brokers, partitions, known)
    _read_log_dirs(admin, brokers, partitions, whole=topics is None)
    return ClusterState(
        cluster_id=cluster.get("cluster_id") or config.name,
        controller_id=cluster.get("controller_id") if cluster.get("controller_id", -1) >= 0 else None,
        brokers=dict(sorted(brokers.items())),
        partitions=partitions,
        topic_configs=_read_configs(admin, ConfigResourceType.TOPIC, sorted({p.topic for p in partitions}),
                                    TOPIC_CONFIGS) if configs else {},
        broker_configs=_read_broker_throttles(admin, [b.id for b in brokers.values() if b.alive]) if configs else {},
        taken_at=taken_at,
        mode=mode,
    )


def _kraft_brokers(cluster: dict) -> dict[int, BrokerState]:
    return {
        b["broker_id"]: BrokerState(
            id=b["broker_id"],
            host=b["host"],
            port=b["port"],
            rack=b.get("rack"),
            alive=not b.get("is_fenced", False),
        )
        for b in cluster["brokers"]
    }


def _read_partitions(admin, topics: list[str] | None = None) -> list[PartitionState]:
    """Every topic's partitions, or only these topics'. A topic deleted meanwhile has none."""
    partitions = []
    for topic in admin.describe_topics(topics):
        if topic["error_code"] == UnknownTopicOrPartitionError.errno:
            continue
        if topic["error_code"]:
            raise MedicError(f"describing topic {topic['name']!r} failed with error code {topic['error_code']}")
        for p in topic["partitions"]:
            leader = p["leader_id"]
            partitions.append(
                PartitionState(
                    topic=topic["name"],
                    partition=p["partition_index"],
                    replicas=list(p["replica_nodes"]),
                    leader=leader if leader >= 0 else None,
                    isr=list(p["isr_nodes"]),
                    offline_replicas=list(p.get("offline_replicas") or []),
                )
            )
    partitions.sort(key=lambda p: (p.topic, p.partition))
    return partitions


def _add_missing_brokers(
    brokers: dict[int, BrokerState], partitions: list[PartitionState], known: dict[int, str | None]
) -> None:
    """Brokers that hold replicas or were known before but are not registered are dead, not absent."""
    assigned = {b for p in partitions for b in p.replicas}
    for broker_id in sorted((assigned | set(known)) - set(brokers)):
        brokers[broker_id] = BrokerState(
            id=broker_id, host=None, port=None, rack=known.get(broker_id), alive=False
        )
    for broker_id, rack in known.items():
        if brokers[broker_id].rack is None:
            brokers[broker_id].rack = rack


def _read_log_dirs(admin, brokers: dict[int, BrokerState], partitions: list[PartitionState], whole: bool) -> None:
    """Replica sizes and log dirs from DescribeLogDirs on every live broker, for `partitions` only.

    `whole`: `partitions` are the whole cluster's, so each broker is asked for all its topics at once;
    otherwise the request names them (an executor following a few topics of a big cluster). With none
    named a broker still answers for its log dirs, and so for its liveness.

    A broker that is still registered but refuses connections (killed moments ago, before the
    controller fenced it) is reported dead: it is, and the controller will agree within its session
    timeout. A request that merely fails or times out does not make a broker dead.
    """
    by_key = {(p.topic, p.partition): p for p in partitions}
    # One request per broker, every broker at once: for all topics (null) when the read is the whole
    # cluster's, else naming the partitions read.
    topics = None if whole else _partitions_by_topic(by_key)
    answers = ask_each(admin, {b.id: DescribeLogDirsRequest(topics=topics) for b in brokers.values() if b.alive})
    for broker_id, answer in answers.items():
        broker = brokers[broker_id]
        if isinstance(answer.error, KafkaConnectionError):
            broker.alive = False  # it refuses connections: dead, whatever the controller says yet
            continue
        if answer.error is not None:
            continue  # busy or slow, not dead: its sizes are unknown this time
        broker.sizes_read_at = answer.at
        # Fields read as attributes: `to_dict()` took 26 ms per 4,000-partition answer (0.6 ms this way),
        # every poll of an executor moving thousands of partitions, on each broker's answer.
        for log_dir in answer.response.results:
            if log_dir.error_code:
                continue  # an offline log dir: its replicas show up as offline replicas instead
            broker.log_dirs[log_dir.log_dir] = (log_dir.total_bytes, log_dir.usable_bytes)  # -1 before v4
            for topic in log_dir.topics:
                for part in topic.partitions:
                    p = by_key.get((topic.name, part.partition_index))
                    if p is None or part.is_future_key:
                        continue
                    p.sizes[broker.id] = part.partition_size
                    p.log_dirs[broker.id] = log_dir.log_dir


def _partitions_by_topic(keys: Iterable[tuple[str, int]]) -> list[tuple[str, list[int]]]:
    """(topic, [partition, ...]) for each topic: how DescribeLogDirs names partitions."""
    named: dict[str, list[int]] = {}
    for topic_name, index in keys:
        named.setdefault(topic_name, []).append(index)
    return list(named.items())


def _read_broker_throttles(admin, broker_ids: list[int]) -> dict[int, dict[str, str]]:
    """Throttle rates per broker; each broker answers for itself, and one that stopped answering is skipped."""
    rates = {}
    for broker_id in broker_ids:
        try:
            rates[broker_id] = _read_configs(admin, ConfigResourceType.BROKER, [str(broker_id)], THROTTLE_RATE_CONFIGS)[
                str(broker_id)
            ]
        except KafkaError:
            continue
    return rates


def _read_configs(admin, resource_type, names: list[str], keys: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The effective value of `keys` for each resource; throttles only where someone set them."""
    if not names:
        return {}
    resources = [ConfigResource(resource_type, name, configs={k: None for k in keys}) for name in names]
    described = admin.describe_configs(resources, config_filter="all")
    result = described.get(resource_type.name.lower(), {})
    return {
        name: {k: entry["value"] for k, entry in result.get(name, {}).items() if _in_force(k, entry)}
        for name in names
    }


def _in_force(key: str, entry: dict) -> bool:
    """A built-in default throttle (an unlimited rate, an empty replica list) is no throttle."""
    if entry.get("value") is None:
        return False
    throttle = key in THROTTLE_RATE_CONFIGS or key in THROTTLE_REPLICA_CONFIGS
    return not (throttle and entry.get("config_source") == "DEFAULT_CONFIG")
