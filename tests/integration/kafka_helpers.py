"""Small helpers for tests that talk to real brokers: topics, producing, waiting."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic


def create_topic(bootstrap: str, name: str, partitions: int, replication: int = 3, config: dict | None = None) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=replication, config=config or {})]
    )
    futures[name].result(timeout=30)
    wait_for(lambda: name in admin.list_topics(timeout=10).topics, 30, f"topic {name} to appear")


def produce(bootstrap: str, topic: str, count: int, size: int = 1000) -> None:
    """`count` messages of `size` bytes, keyed round robin, all acknowledged by all in-sync replicas.

    A loaded broker can fall behind the producer; then the local queue fills and
    `produce` waits for deliveries instead of failing.
    """
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
    payload = b"x" * size
    for i in range(count):
        while True:
            try:
                producer.produce(topic, key=str(i).encode(), value=payload)
                break
            except BufferError:  # the local queue is full: wait for deliveries to drain it
                producer.poll(0.5)
        producer.poll(0)
    assert producer.flush(60) == 0, "producer did not deliver every message"


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.5):
    """Poll until `condition()` is truthy and return its value; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def every_topic_but(topic: str) -> str:
    """A topic regex (RE2: no lookaround) that fully matches every name except `topic`: the tests'
    `excluded_topics` for "move only this topic" on a cluster other tests also use.

    A name other than `topic` differs at some character, is a proper prefix of it, or extends it."""
    differs = [f"{re.escape(topic[:i])}[^{re.escape(c)}].*" for i, c in enumerate(topic)]
    prefixes = [re.escape(topic[:i]) for i in range(len(topic))]
    return "|".join([*differs, *prefixes, f"{re.escape(topic)}.+"])


def only_spreading(topic: str) -> dict:
    """A remediation conf that plans for `topic` alone, to spread it evenly over every broker (racks kept),
    whatever the rest of the shared cluster holds: by the default goals a topic skewed onto two brokers
    could need as few as two moves when the topics it may not move skew the other way (earlier modules'
    rebalances move the session's own topics), and the tests need several moves to watch. The band is
    the mean +- 2 replicas a broker (`topic_min_gap`): a topic needs more than 8 replicas to move at all."""
    return {"excluded_topics": every_topic_but(topic), "goals": ["rack_aware", "topic_replica_distribution"]}


def all_succeeded(states: dict[str, str]) -> bool:
    """Every task of the run succeeded, but `replan`, which runs only when the plan went stale before the first
    move (`kafka_medic.airflow.fidelity`) and skips otherwise."""
    others = {state for task, state in states.items() if task != "replan"}
    return states.get("replan", "skipped") == "skipped" and others == {"success"}


def topic_names(cluster) -> set[str]:
    """The cluster's topics but Kafka's internal ones (`__consumer_offsets`, `__transaction_state`)."""
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    return {name for name in admin.list_topics(timeout=30).topics if not name.startswith("__")}


def delete_topics(cluster, *topics: str) -> None:
    """Those of `topics` that exist (a test that failed early made fewer), so the session's shared cluster
    carries no test's placements into the next."""
    if not topics:
        return
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
    for future in admin.delete_topics(list(topics)).values():
        try:
            future.result(60)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise
