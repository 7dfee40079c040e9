"""The cluster model file, "kafka-medic/cluster-model/v1" (see docs/cluster-model.md).

Other tools write these files too, so parsing follows the spec exactly: unknown keys are ignored,
`rack`, `excluded`, `decommission`, `follower_cpu_ratio` and `broker_sets` are optional, and every invalid entry
is reported by position and name. Writing is byte-stable: save, load and save again gives the same file.
"""

from __future__ import annotations

import os
from typing import Any

from kafka_medic.limits import INT32_MAX, MAX_NUMBER, MIN_CAPACITY
from kafka_medic.model.broker_sets import parse_broker_sets
from kafka_medic.model.cluster import RESOURCES, Broker, ClusterModel, ModelError, Partition
from kafka_medic.model.fields import Fields, bulk_objects, check_format, entry_name, load_document, write_json

MODEL_FORMAT = "kafka-medic/cluster-model/v1"
_ABSENT = object()


def parse_model(data: Any) -> ClusterModel:
    root = Fields(data, "cluster model")
    check_format(root, MODEL_FORMAT)
    ratio = root.number("follower_cpu_ratio", default=0.3)
    if ratio > 1:
        raise root.fail(f"'follower_cpu_ratio' must be between 0 and 1, got {ratio!r}")
    brokers = [_parse_broker(item, i) for i, item in enumerate(root.array("brokers"))]
    broker_ids = _unique_broker_ids(brokers)
    partitions = [
        _valid_partition(item, broker_ids) or _parse_partition(item, i, broker_ids)
        for i, item in enumerate(root.array("partitions"))
    ]
    _check_unique_partitions(partitions)
    sets = root.data.get("broker_sets")
    return ClusterModel(
        cluster=root.string("cluster"),
        brokers=brokers,
        partitions=partitions,
        taken_at=root.string("taken_at"),
        follower_cpu_ratio=ratio,
        broker_sets=parse_broker_sets(sets, broker_ids) if sets is not None else None,
    )


def load_model(path: str | os.PathLike) -> ClusterModel:
    return load_document(path, parse_model)


def model_to_dict(model: ClusterModel) -> dict[str, Any]:
    return {
        "format": MODEL_FORMAT,
        "cluster": model.cluster,
        "taken_at": model.taken_at,
        "follower_cpu_ratio": model.follower_cpu_ratio,
        "brokers": [_broker_to_dict(b) for b in model.brokers],
        "partitions": [
            {
                "topic": p.topic,
                "partition": p.partition,
                "replicas": list(p.replicas),
                "leader": p.leader,
                "load": {r: float(p.load[r]) for r in RESOURCES},
                **({"offline_replicas": list(p.offline_replicas)} if p.offline_replicas else {}),
            }
            for p in model.partitions
        ],
        **({"broker_sets": model.broker_sets.to_dict()} if model.broker_sets is not None else {}),
    }


def save_model(model: ClusterModel, path: str | os.PathLike) -> None:
    with bulk_objects():
        write_json(model_to_dict(model), path)


def _broker_to_dict(broker: Broker) -> dict[str, Any]:
    out: dict[str, Any] = {"id": broker.id}
    if broker.rack is not None:
        out["rack"] = broker.rack
    out["alive"] = broker.alive
    out["capacity"] = {r: float(broker.capacity[r]) for r in RESOURCES}
    if broker.excluded:
        out["excluded"] = True
    if broker.decommission:
        out["decommission"] = True
    if broker.host is not None:
        out["host"] = broker.host
    return out


def _parse_broker(item: Any, index: int) -> Broker:
    label = f"brokers[{index}]"
    if isinstance(item, dict) and isinstance(item.get("id"), int) and not isinstance(item["id"], bool):
        label += f" (id {item['id']})"
    fields = Fields(item, label)
    broker_id = fields.integer("id")
    capacity = fields.obj("capacity", "capacity")
    return Broker(
        id=broker_id,
        rack=fields.string("rack", default=None, nullable=True),
        alive=fields.boolean("alive"),
        capacity={r: capacity.number(r, minimum=MIN_CAPACITY) for r in RESOURCES},
        excluded=fields.boolean("excluded", default=False),
        decommission=fields.boolean("decommission", default=False),
        host=fields.string("host", default=None, nullable=True),
    )


def _valid_partition(item: Any, broker_ids: set[int]) -> Partition | None:
    """The partition when `item` is valid, else None (and `_parse_partition` says what is wrong).

    The same rules as `_parse_partition`, checked inline: its error-naming accessors cost ~15 us a
    partition, 0.3 s of a 20,000-partition model's load and most of a million-partition one's, for
    entries that in practice are valid.
    """
    if type(item) is not dict:
        return None
    topic, number, replicas = item.get("topic"), item.get("partition"), item.get("replicas")
    leader, offline, load = item.get("leader", _ABSENT), item.get("offline_replicas", []), item.get("load")
    if not (type(topic) is str and topic and type(number) is int and 0 <= number <= INT32_MAX):
        return None
    if not (type(replicas) is list and replicas and type(offline) is list and type(load) is dict):
        return None
    if not (all(type(b) is int for b in replicas) and broker_ids.issuperset(replicas)
            and len(set(replicas)) == len(replicas)):
        return None
    if not (leader is None or (type(leader) is int and leader in replicas)):
        return None
    if offline and not (all(type(b) is int for b in offline) and set(offline) <= set(replicas)
                        and len(set(offline)) == len(offline) and leader not in offline):
        return None
    loads: dict[str, Any] = {r: load.get(r) for r in RESOURCES}
    if not all(type(v) in (int, float) and 0 <= v <= MAX_NUMBER for v in loads.values()):
        return None  # NaN fails the comparison; infinity is above MAX_NUMBER
    try:
        topic.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return Partition(topic, number, replicas, leader, {r: float(v) for r, v in loads.items()}, offline)


def _parse_partition(item: Any, index: int, broker_ids: set[int]) -> Partition:
    label = f"partitions[{index}]"
    label += entry_name(item)
    fields = Fields(item, label)
    topic = fields.string("topic")
    if not topic:
        raise fields.fail("'topic' is empty")
    number = fields.integer("partition")
    if number < 0:
        raise fields.fail(f"'partition' must be >= 0, got {number}")
    replicas = fields.int_list("replicas")
    if not replicas:
        raise fields.fail("'replicas' is empty")
    unknown = [b for b in replicas if b not in broker_ids]
    if unknown:
        raise fields.fail(f"replica on unknown broker {unknown[0]} (replicas {replicas})")
    leader = fields.integer("leader", nullable=True)
    if leader is not None and leader not in replicas:
        raise fields.fail(f"leader {leader} is not one of the replicas {replicas}")
    offline = fields.int_list("offline_replicas", default=[])
    stray = [b for b in offline if b not in replicas]
    if stray:
        raise fields.fail(f"offline replica {stray[0]} is not one of the replicas {replicas}")
    if leader is not None and leader in offline:
        raise fields.fail(f"leader {leader} is also listed in offline_replicas")
    load = fields.obj("load", "load")
    return Partition(topic, number, replicas, leader, {r: load.number(r) for r in RESOURCES}, offline)


def _unique_broker_ids(brokers: list[Broker]) -> set[int]:
    seen: set[int] = set()
    for index, broker in enumerate(brokers):
        if broker.id in seen:
            raise ModelError(f"brokers[{index}] (id {broker.id}): duplicate broker id {broker.id}")
        seen.add(broker.id)
    return seen


def _check_unique_partitions(partitions: list[Partition]) -> None:
    seen: set[tuple[str, int]] = set()
    for index, p in enumerate(partitions):
        key = (p.topic, p.partition)
        if key in seen:
            raise ModelError(f"partitions[{index}] ({p.name}): duplicate partition {p.name}")
        seen.add(key)
