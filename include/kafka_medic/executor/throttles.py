"""Replication throttles: set for the moves in flight, and put back exactly as they were afterwards.

As `kafka-reassign-partitions.sh --throttle` does, a rate goes on every broker a move involves
(`leader.` and `follower.replication.throttled.rate`), and each topic lists the replicas to throttle:
the current replicas as leaders (any of them may serve the copy) and the new replicas as followers.
Only partitions in flight are listed, so finished moves and other traffic run unthrottled; Kafka
never throttles replicas that are in sync, so the throttle cannot push a follower out of the ISR.

Before changing any value the journal keeps the value found (or that there was none). Clearing
removes only what kafka-medic added: a topic keeps entries someone else listed, and a broker rate
someone changed since kafka-medic set it is left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType, ConfigSourceType

from kafka_medic.errors import MedicError
from kafka_medic.executor.journal import Journal
from kafka_medic.executor.tasks import Task
from kafka_medic.kafka.state import THROTTLE_RATE_CONFIGS, THROTTLE_REPLICA_CONFIGS

LEADER_REPLICAS, FOLLOWER_REPLICAS = THROTTLE_REPLICA_CONFIGS
BROKER, TOPIC = "broker", "topic"
WILDCARD_PARTITIONS = 100  # partitions of one topic in flight above which its lists are "*" (throttled_value)
_RESOURCE_TYPES = {BROKER: ConfigResourceType.BROKER, TOPIC: ConfigResourceType.TOPIC}
_DYNAMIC_SOURCES = {
    BROKER: ConfigSourceType.DYNAMIC_BROKER_CONFIG.name,
    TOPIC: ConfigSourceType.DYNAMIC_TOPIC_CONFIG.name,
}


def replica_entries(tasks: Iterable[Task]) -> dict[str, dict[str, set[str]]]:
    """topic -> config -> "partition:broker" entries that throttle these moves."""
    result: dict[str, dict[str, set[str]]] = {}
    for t in tasks:
        topic = result.setdefault(t.topic, {LEADER_REPLICAS: set(), FOLLOWER_REPLICAS: set()})
        topic[LEADER_REPLICAS].update(f"{t.partition}:{b}" for b in t.old_replicas)
        topic[FOLLOWER_REPLICAS].update(f"{t.partition}:{b}" for b in t.added)
    return result


def split_entries(value: str | None) -> list[str]:
    return [e.strip() for e in (value or "").split(",") if e.strip()]


def throttled_value(current: str | None, original: str | None, previously_ours: str | None,
                    ours: set[str]) -> str | None:
    """A topic's throttled-replica list for the moves in flight: "*" while more than `WILDCARD_PARTITIONS`
    of its partitions are moving, else `merge_entries`.

    A broker creates every new replica's log with the topic's whole config: with 1,000 moves of a
    2,000-partition topic in flight (an 8 kB list), the destination created about one replica a second
    on the loaded dev cluster, and 2,000 small moves took 196 s where the controller alone, with "*",
    took 20 s (bench/executor.py --many 2000). "*" also throttles the topic's other followers that are
    not in sync, which only slows replicas already behind. Leaving it puts the original back first: an
    entry someone else added while "*" stood is not kept.
    """
    if len({entry.split(":")[0] for entry in ours}) > WILDCARD_PARTITIONS:
        return "*"
    if previously_ours == "*":
        return merge_entries(original, original, None, ours)
    return merge_entries(current, original, previously_ours, ours)


def merge_entries(current: str | None, original: str | None, previously_ours: str | None, ours: set[str]) -> str | None:
    """The list with kafka-medic's entries replaced by `ours`; entries anyone else added are kept.

    Returns the original value exactly when nothing of kafka-medic's remains, None for "unset".
    """
    base = set(split_entries(original))
    mine_before = set(split_entries(previously_ours)) - base
    mine_now = ours - base
    kept = [e for e in split_entries(current) if e not in mine_before]
    entries = kept + sorted(mine_now - set(kept), key=_entry_order)
    if set(entries) == base:
        return original
    return ",".join(entries) or None


def read_dynamic(admin, resource: str, names: Iterable[str], configs: Iterable[str]) -> dict[str, dict]:
    """Values set on each resource itself (not defaults, not cluster-wide broker defaults); None when unset."""
    names, configs = list(names), list(configs)
    if not names:
        return {}
    described = admin.describe_configs(
        [ConfigResource(_RESOURCE_TYPES[resource], name, configs=dict.fromkeys(configs)) for name in names],
        config_filter="all",
    ).get(resource, {})
    return {
        name: {
            c: entry["value"] if (entry := described.get(name, {}).get(c)) and
            entry.get("config_source") == _DYNAMIC_SOURCES[resource] else None
            for c in configs
        }
        for name in names
    }


def alter(admin, resource: str, values: dict[str, dict[str, str | None]]) -> None:
    """Set (or, for None, delete) config values; a refused change is a MedicError naming it."""
    if not values:
        return
    resources = [
        ConfigResource(_RESOURCE_TYPES[resource], name, configs={
            c: (AlterConfigOp.DELETE, None) if v is None else (AlterConfigOp.SET, v) for c, v in configs.items()
        })
        for name, configs in values.items()
    ]
    results = admin.alter_configs(resources, raise_on_unknown=False, incremental=True).get(resource, {})
    failed = {name: result for name, result in results.items() if result != "OK"}
    if failed:
        name, result = next(iter(failed.items()))
        raise MedicError(f"changing throttle configs of {resource} {name} failed: {result}")


def set_broker_rates(admin, journal: Journal, execution_id: str, rates: dict[int, tuple[int, int]],
                     expected: dict[int, tuple[int, int]] | None = None) -> list[int]:
    """Put (leader, follower) rates in bytes/s on brokers, remembering what each had first.

    With `expected` (the rates kafka-medic put on before), a broker whose rates differ from them was
    changed by someone else meanwhile and is left alone; returns those brokers.
    """
    current = read_dynamic(admin, BROKER, [str(b) for b in rates], THROTTLE_RATE_CONFIGS)
    # A value equal to the new rates is ours too: a retried call whose first attempt went through.
    changed_outside = [b for b in rates if expected is not None and b in expected and
                       tuple(current[str(b)][c] for c in THROTTLE_RATE_CONFIGS)
                       not in (tuple(map(str, expected[b])), tuple(map(str, rates[b])))]
    rates = {b: pair for b, pair in rates.items() if b not in changed_outside}
    changes: dict[str, dict[str, str | None]] = {}
    for broker, pair in rates.items():
        name = str(broker)
        for config, rate in zip(THROTTLE_RATE_CONFIGS, pair, strict=True):
            journal.remember_original(execution_id, BROKER, name, config, current[name][config])
            if current[name][config] != str(rate):
                changes.setdefault(name, {})[config] = str(rate)
    alter(admin, BROKER, changes)
    for broker, pair in rates.items():
        for config, rate in zip(THROTTLE_RATE_CONFIGS, pair, strict=True):
            journal.record_applied(execution_id, BROKER, str(broker), config, str(rate))
    return changed_outside


def set_replica_throttles(admin, journal: Journal, execution_id: str, in_flight: Iterable[Task]) -> None:
    """Make each topic's throttled-replica lists cover exactly the moves in flight (plus anyone else's entries)."""
    wanted = replica_entries(in_flight)
    known = {r.name for r in journal.throttles(execution_id) if r.resource == TOPIC and not r.cleared}
    topics = sorted(set(wanted) | known)
    current = read_dynamic(admin, TOPIC, topics, THROTTLE_REPLICA_CONFIGS)
    records = {(r.name, r.config): r for r in journal.throttles(execution_id) if r.resource == TOPIC}
    changes: dict[str, dict[str, str | None]] = {}
    for topic in topics:
        for config in THROTTLE_REPLICA_CONFIGS:
            ours = wanted.get(topic, {}).get(config, set())
            record = records.get((topic, config))
            if record is None:
                if not ours:
                    continue
                journal.remember_original(execution_id, TOPIC, topic, config, current[topic][config])
                original, previous = current[topic][config], None
            else:
                original, previous = record.original, record.applied
            if original == "*":
                continue  # every replica of the topic is throttled already
            value = throttled_value(current[topic][config], original, previous, ours)
            if value != current[topic][config]:
                changes.setdefault(topic, {})[config] = value
            journal.record_applied(execution_id, TOPIC, topic, config, value)
    alter(admin, TOPIC, changes)


def clear_throttles(admin, journal: Journal, execution_id: str, alive: set[int],
                    log: Callable[[str], None]) -> list[str]:
    """Put back every throttle value this execution changed; returns what could not be cleared yet, and why."""
    set_replica_throttles(admin, journal, execution_id, [])
    records = [r for r in journal.throttles(execution_id) if not r.cleared]
    for r in records:
        if r.resource == TOPIC:
            journal.mark_cleared(execution_id, r.resource, r.name, r.config)
    left: list[str] = []
    brokers = sorted({r.name for r in records if r.resource == BROKER}, key=int)
    reachable = [b for b in brokers if int(b) in alive]
    left += [f"broker {b} is down: its throttle rates stay until it is back and throttles are cleared again"
             for b in brokers if int(b) not in alive]
    current = read_dynamic(admin, BROKER, reachable, THROTTLE_RATE_CONFIGS)
    changes: dict[str, dict[str, str | None]] = {}
    done = []
    for r in records:
        if r.resource != BROKER or r.name not in current:
            continue
        value = current[r.name][r.config]
        if r.applied is not None and value == r.applied and value != r.original:
            changes.setdefault(r.name, {})[r.config] = r.original
        elif r.applied is not None and value != r.applied:
            log(f"broker {r.name} {r.config} is {value}, not the {r.applied} kafka-medic set: left as it is")
        done.append(r)
    alter(admin, BROKER, changes)
    for r in done:
        journal.mark_cleared(execution_id, r.resource, r.name, r.config)
    return left


def _entry_order(entry: str) -> tuple[int, int]:
    partition, _, broker = entry.partition(":")
    return (int(partition), int(broker)) if partition.isdigit() and broker.isdigit() else (-1, -1)
