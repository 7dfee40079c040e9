"""A skewed workload for the dev cluster, so there is real, unbalanced load to see, sample and fix.

Topics are created with an explicit replica assignment that crowds leaders onto the first
brokers, and produced to at rates skewed across topics and (Zipf-like) across partitions, with
one consumer group per topic so brokers also serve bytes out.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_medic.errors import MedicError


@dataclass(frozen=True)
class TopicLoad:
    name: str
    partitions: int
    share: float  # fraction of the total produce rate


# Brokers are killed on purpose: back off instead of redialling a dead one thousands of times a second,
# and keep librdkafka's informational chatter out of the demo's output.
CLIENT_DEFAULTS = {"reconnect.backoff.ms": 500, "reconnect.backoff.max.ms": 5000, "log_level": 3}

DEFAULT_TOPICS = (
    TopicLoad("orders", 12, 0.6),
    TopicLoad("clicks", 6, 0.3),
    TopicLoad("audit", 3, 0.1),
)


@dataclass
class WorkloadReport:
    produced: dict[str, int]
    consumed: dict[str, int]
    bytes_produced: int
    seconds: float


def skewed_assignment(partitions: int, brokers: list[int], replication: int) -> dict[int, list[int]]:
    """Replica lists that put every leader on the first half of the brokers and leave the last one light."""
    brokers = sorted(brokers)
    if replication > len(brokers):
        raise MedicError(f"replication factor {replication} needs at least {replication} brokers, have {len(brokers)}")
    heavy = brokers[: max(1, len(brokers) // 2)]
    assignment = {}
    for p in range(partitions):
        leader = heavy[p % len(heavy)]
        # Followers come from the front of the list too, so the last broker rarely gets a replica.
        followers = [b for b in brokers if b != leader][: replication - 1]
        if p % 4 == 3 and replication > 1:
            followers[-1] = brokers[-1]
        assignment[p] = [leader, *followers]
    return assignment


def create_skewed_topics(
    bootstrap: str, brokers: list[int], topics: tuple[TopicLoad, ...] = DEFAULT_TOPICS, replication: int = 3
) -> list[str]:
    """Create the missing topics with a skewed placement; returns the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=15).topics)
    new = [
        NewTopic(
            t.name,
            num_partitions=t.partitions,  # librdkafka wants the count spelled out beside an assignment
            replica_assignment=list(skewed_assignment(t.partitions, brokers, replication).values()),
        )
        for t in topics
        if t.name not in existing
    ]
    if not new:
        return []
    for name, future in admin.create_topics(new).items():
        try:
            future.result(timeout=30)
        except KafkaException as exc:
            raise MedicError(f"creating topic {name!r} failed: {exc}") from exc
    _wait_visible(admin, {t.name: t.partitions for t in topics if t.name not in existing})
    return [t.topic for t in new]


def _wait_visible(admin: AdminClient, partitions: dict[str, int], timeout_s: float = 30) -> None:
    """Return once the brokers' metadata shows each new topic with all its partitions led.

    The controller answers the create before every broker has applied it, so a metadata read (a producer's,
    or a plan's snapshot of the cluster) right after can still miss the topic on a loaded machine.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        topics = admin.list_topics(timeout=10).topics
        missing = sorted(name for name, count in partitions.items()
                         if name not in topics or len(topics[name].partitions) != count
                         or any(p.leader < 0 for p in topics[name].partitions.values()))
        if not missing:
            return
        if time.monotonic() > deadline:
            raise MedicError(f"topic(s) {', '.join(missing)} created but not in the brokers' metadata "
                             f"after {timeout_s:.0f} s")
        time.sleep(0.2)


def partition_weights(partitions: int) -> list[float]:
    """Zipf-like weights: partition 0 is the hottest, each next one hotter than the last by 1/(i+1)."""
    raw = [1.0 / (i + 1) for i in range(partitions)]
    total = sum(raw)
    return [w / total for w in raw]


def run_workload(
    bootstrap: str,
    duration_s: float,
    rate_kbps: float = 200.0,
    message_bytes: int = 1000,
    topics: tuple[TopicLoad, ...] = DEFAULT_TOPICS,
    consume: bool = True,
    stop: threading.Event | None = None,
) -> WorkloadReport:
    """Produce at `rate_kbps` KB/s in total for `duration_s` seconds (acks=all), consuming in parallel."""
    if rate_kbps <= 0 or duration_s <= 0 or message_bytes <= 0:
        raise MedicError("workload rate, duration and message size must be positive")
    stop = stop or threading.Event()
    consumed = {t.name: 0 for t in topics}
    consumers = (
        [threading.Thread(target=_consume, args=(bootstrap, t.name, consumed, stop), daemon=True) for t in topics]
        if consume
        else []
    )
    for thread in consumers:
        thread.start()
    producer = Producer({**CLIENT_DEFAULTS, "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 50,
                         "enable.idempotence": True})
    produced = {t.name: 0 for t in topics}
    errors: list[str] = []

    def delivered(err, msg):
        if err is not None:
            errors.append(str(err))
        else:
            produced[msg.topic()] += 1

    plan = [(t.name, p, t.share * w) for t in topics for p, w in enumerate(partition_weights(t.partitions))]
    messages_per_s = rate_kbps * 1000 / message_bytes
    payload = b"m" * message_bytes
    credit = [0.0] * len(plan)
    start = time.monotonic()
    last = start
    while not stop.is_set() and (now := time.monotonic()) - start < duration_s:
        elapsed, last = now - last, now
        for i, (topic, partition, share) in enumerate(plan):
            credit[i] += share * messages_per_s * elapsed
            while credit[i] >= 1:
                producer.produce(topic, value=payload, partition=partition, on_delivery=delivered)
                credit[i] -= 1
        producer.poll(0.05)
    producer.flush(30)
    stop.set()
    for thread in consumers:
        thread.join(timeout=15)
    if errors:
        raise MedicError(f"{len(errors)} messages were not acknowledged, first: {errors[0]}")
    total = sum(produced.values())
    return WorkloadReport(produced, consumed, total * message_bytes, time.monotonic() - start)


def _consume(bootstrap: str, topic: str, counts: dict[str, int], stop: threading.Event) -> None:
    consumer = Consumer(
        {
            **CLIENT_DEFAULTS,
            "bootstrap.servers": bootstrap,
            "group.id": f"kafka-medic-workload-{topic}",
            "auto.offset.reset": "latest",
            "enable.auto.commit": True,
        }
    )
    consumer.subscribe([topic])
    try:
        while not stop.is_set():
            for msg in consumer.consume(num_messages=500, timeout=0.5):
                if msg.error() is None:
                    counts[topic] += 1
    finally:
        consumer.close()
