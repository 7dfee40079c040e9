"""Helpers for the executor's integration and fault tests: placed topics, a checked acks=all producer,
consumers, and `kafka-medic execute` in a child process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator

import psutil
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from kafka_medic.errors import MedicError
from kafka_medic.executor import Journal
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.model import Move, Proposal, save_proposal

from .kafka_helpers import produce, wait_for


def temp_journal(tmp_path) -> Iterator[Journal]:
    """A journal of the test's own, closed afterwards: `yield from` it in a fixture."""
    journal = Journal(f"sqlite:///{tmp_path / 'store.db'}")
    yield journal
    journal.close()


def placed_topic(bootstrap: str, name: str, assignment: list[list[int]], mb: float, min_isr: int = 1) -> None:
    """A topic with exactly this replica placement, filled with about `mb` MB of 1 kB messages."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        admin.create_topics([NewTopic(name, -1, -1, replica_assignments=dict(enumerate(assignment)),
                                      topic_configs={"min.insync.replicas": str(min_isr)})])
    finally:
        admin.close()
    config = ClusterConfig(bootstrap)
    wait_for(lambda: any(p.topic == name for p in read_cluster_state(config).partitions), 30, f"topic {name}")
    produce(bootstrap, name, int(mb * 1024), size=1000)


def proposal(cluster: str, topic: str, moves: dict[int, tuple[list[int], list[int]]]) -> Proposal:
    return Proposal(cluster, [], [Move(topic, p, old, new, old[0], new[0]) for p, (old, new) in moves.items()])


def partitions_of(config: ClusterConfig, topic: str):
    return {p.partition: p for p in read_cluster_state(config).partitions if p.topic == topic}


def our_throttles(config: ClusterConfig, topic: str) -> dict:
    """Throttle values set on any broker or on the topic (empty when none are)."""
    state = read_cluster_state(config)
    throttles = state.throttles()
    return {"brokers": throttles["brokers"], "topic": throttles["topics"].get(topic, {})}


def checksum(values) -> tuple[int, int]:
    count = total = 0
    for v in values:
        count += 1
        total = (total + zlib.crc32(v)) % 2**64
    return count, total


class CheckedProducer:
    """Produces with acks=all (idempotent) in a thread and remembers every acknowledged value."""

    def __init__(self, bootstrap: str, topic: str, per_second: int = 400, value_bytes: int = 200) -> None:
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                                  "linger.ms": 5})
        self.topic, self.per_second, self.value_bytes = topic, per_second, value_bytes
        self.acked: list[bytes] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CheckedProducer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)
        assert self.producer.flush(60) == 0

    def _delivered(self, err, msg) -> None:
        if err is None:
            self.acked.append(msg.value())
        else:
            self.errors.append(str(err))

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            for _ in range(self.per_second // 10):
                value = f"{seq}:".encode() + os.urandom(self.value_bytes)
                self.producer.produce(self.topic, key=str(seq).encode(), value=value, on_delivery=self._delivered)
                seq += 1
            self.producer.poll(0)
            time.sleep(0.1)


def consume_values(bootstrap: str, topic: str, partitions: list[int]) -> list[bytes]:
    """Every value in the topic, read from the beginning up to the current end of each partition."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"check-{topic}-{time.time()}",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        values, positions = [], dict.fromkeys(partitions, 0)
        deadline = time.monotonic() + 60
        while any(positions[p] < ends[p] for p in partitions) and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=1):
                if msg.error():
                    continue
                positions[msg.partition()] = msg.offset() + 1
                values.append(msg.value())
        return values
    finally:
        consumer.close()


def broker_process(cluster, broker: int) -> psutil.Process:
    """The dev cluster broker's JVM, to pause (SIGSTOP) and resume (SIGCONT) it."""
    from kafka_medic.devcluster.cluster import _process

    proc = _process(cluster.state.broker(broker))
    assert proc is not None, f"broker {broker} is not running"
    return proc


def broker_alive(config: ClusterConfig, broker: int) -> bool | None:
    """True or False once the cluster says so; None while it cannot be read (a broker is being fenced)."""
    try:
        return broker in read_cluster_state(config).alive_brokers
    except MedicError:
        return None


def no_reassignments(config: ClusterConfig) -> bool:
    """Whether the cluster lists no reassignment. In KRaft any broker may answer as the "controller",
    one killed a moment ago included: a read that fails that way is retried until one answers."""
    def listed() -> list | None:
        try:
            return [read_cluster_state(config).reassigning_partitions()]
        except MedicError:
            return None
    return wait_for(listed, 60, "the cluster to list its reassignments")[0] == []


class Executor:
    """`kafka-medic execute` in a child process, its output collected line by line."""

    def __init__(self, home, *args: str) -> None:
        env = {**os.environ, "KAFKA_MEDIC_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "kafka_medic.cli", *args], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True)
        self._reader.start()

    def wait_for_line(self, text: str, timeout: float = 60) -> None:
        wait_for(lambda: any(text in line for line in self.lines) or self.proc.poll() is not None, timeout, text)
        assert any(text in line for line in self.lines), "".join(self.lines)

    def wait(self, timeout: float = 180) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(10)
        return code

    def submitted(self) -> list[str]:
        """Partitions named in this process's "batch N: submitted" lines."""
        return [name for line in self.lines if ": submitted " in line
                for name in re.findall(r"(\S+-\d+) \[", line.split(": submitted ", 1)[1])]

    def adopted(self) -> list[str]:
        """Partitions named in this process's "adopted N moves ...: names" lines: moves a killed owner left
        in flight, confirmed or written to the cluster but not yet confirmed (nor printed)."""
        return [name for line in self.lines if line.startswith("adopted ")
                for name in line.split(": ", 1)[1].strip().split(", ")]


def setup_moves(bootstrap: str, topic: str, tmp_path, partitions: int = 6, mb: float = 12):
    """A topic on brokers 1-2 and a proposal moving one replica of every partition to broker 3 or 4."""
    assignment = [[1, 2], [2, 1]] * (partitions // 2)
    placed_topic(bootstrap, topic, assignment, mb=mb)
    moves = {p: (r, [3 + p % 2, r[1]]) for p, r in enumerate(assignment)}
    path = tmp_path / f"{topic}.json"
    save_proposal(proposal(topic, topic, moves), path)
    return moves, path
