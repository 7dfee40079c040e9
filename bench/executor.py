"""Throttle benchmark: does a throttled execution copy at the throttle, and take as long as physics says?

Moves one replica of every partition of a fresh topic onto one broker under a throttle R, while a
thread samples that broker's copy of the topic (DescribeLogDirs) every half second. Reports the copy
rate (whole move, and the worst 11 s window) against R, and the execution's time (wall, and the
move phase from first submission to last move done) against the physical bound: bytes to move / R,
since one destination broker takes at most R whatever the concurrency. Runs on a temporary dev
cluster unless --bootstrap is given.

The machine's load average (1 min, sampled with the copy) is part of every row: on a shared 2-core
machine it decides most of the fixed overhead. `--output` keeps the row as JSON (bench/results/).

    .venv/bin/python bench/executor.py [--bootstrap HOST:PORT] [--throttle 2] [--mb 60] [--output FILE]
    .venv/bin/python bench/executor.py --many 2000 [--rounds 6] [--kb 10] [--throttle 2] [--output FILE]
    .venv/bin/python bench/executor.py --controller-sweep 250,500,1000,2000 [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Producer
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic

from kafka_medic.executor import ExecutionOptions, Journal, execute
from kafka_medic.executor.throttles import BROKER, TOPIC, alter, read_dynamic
from kafka_medic.kafka.admin import admin_client
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.kafka.state import THROTTLE_RATE_CONFIGS, THROTTLE_REPLICA_CONFIGS
from kafka_medic.model import Move, Proposal
from kafka_medic.units import KB, MB

PARTITIONS = 8
WINDOW_S = 11.0  # Kafka's replication quota window: replication.quota.window.num (11) x 1 s
SOURCE, DESTINATION = 2, 3


def measure(bootstrap: str, throttle_mb: float, mb: float, concurrency: int | None = None,
            journal: Journal | None = None, verbose: bool = False) -> dict:
    topic = f"bench-throttle-{int(time.time())}"
    assignment = _create_topic(bootstrap, topic, PARTITIONS)
    _fill(bootstrap, topic, mb)
    config = ClusterConfig(bootstrap, name=topic)
    moves = [Move(topic, p, r, [DESTINATION if b == SOURCE else b for b in r], r[0],
                  DESTINATION if r[0] == SOURCE else r[0]) for p, r in assignment.items()]
    with Copying(config, topic, PARTITIONS) as copying:
        started = time.monotonic()
        marks = Marks(started, verbose)
        report = execute(config, Proposal(topic, [], moves), ExecutionOptions(throttle=throttle_mb * MB,
                         concurrency=concurrency), journal or Journal(), log=marks.log)
        elapsed = time.monotonic() - started
        moving = marks.done - marks.submitted
        finished = time.monotonic()
    samples, growing = copying.samples, copying.growing()
    rate = throttle_mb * MB
    moved = growing[-1][1]  # what the destination really copied (planned sizes can lag the producer)
    first, last = _first_and_last(growing)
    mean = (last[1] - first[1]) / (last[0] - first[0])
    # Kafka enforces the throttle over its quota window (11 x 1 s), so judge it over windows that long.
    worst = max((b2 - b1) / (t2 - t1) for t1, b1 in growing for t2, b2 in growing
                if WINDOW_S <= t2 - t1 < WINDOW_S + 0.6)
    bound = moved / rate
    return {
        "status": report["status"], "throttle_mb_s": throttle_mb, "mb_moved": round(moved / MB, 1),
        "partitions": PARTITIONS, "concurrency": concurrency or "default", "bound_s": round(bound, 1),
        "execute_s": round(elapsed, 1), "time_vs_bound": round(elapsed / bound, 2),
        "moving_s": round(moving, 1), "moving_vs_bound": round(moving / bound, 2),
        "mean_rate_vs_throttle": round(mean / rate, 2), "worst_11s_rate_vs_throttle": round(worst / rate, 2),
        "before_first_submission_s": round(marks.submitted - started, 1),
        "after_last_done_s": round(finished - marks.done, 1),
        "load_avg_1m": round(sum(load for _, _, load in samples) / len(samples), 1),
        "cpus": os.cpu_count(),
    }


def measure_many(bootstrap: str, throttle_mb: float, partitions: int = 2000, kb: float = 10.0,
                 concurrency: int | None = None, journal: Journal | None = None, verbose: bool = False,
                 rounds: int = 1) -> dict:
    """Many small partitions: the executor against the physical bound and against the controller alone.

    Each round makes two identical topics (`partitions` partitions of `kb` kB on brokers 1 and 2), each
    just before its move, and moves broker 2's replicas of both to 3 under the same throttle: the twin's in one
    AlterPartitionReassignments call, timed until the controller lists none (the controller's own time,
    which no pacing can beat), the other topic's with the executor (`concurrency`, None: its defaults).
    The brokers' replica creation and Kafka's quota burst make either time vary 3x from run to run, so
    with `rounds` > 1 the two alternate which goes first and the row is the medians of the rounds.
    """
    results = [_many_round(bootstrap, throttle_mb, partitions, kb, concurrency, journal, verbose,
                           executor_first=bool(i % 2)) for i in range(rounds)]
    if rounds == 1:
        return results[0]
    medians = {k: round(statistics.median(r[k] for r in results), 2)
               for k in ("controller_alone_s", "execute_s", "bound_s", "time_vs_max_bound_controller",
                         "before_first_submission_s", "after_last_done_s", "load_avg_1m")}
    return {"status": "succeeded" if all(r["status"] == "succeeded" for r in results) else "failed",
            "throttle_mb_s": throttle_mb, "partitions": partitions, "rounds": rounds, "median": {
                **medians, "execute_vs_max_bound_controller": round(
                    medians["execute_s"] / max(medians["bound_s"], medians["controller_alone_s"]), 2)},
            "within_1_3": sum(r["time_vs_max_bound_controller"] <= 1.3 for r in results),
            "each": results, "cpus": os.cpu_count()}


def _many_round(bootstrap: str, throttle_mb: float, partitions: int, kb: float, concurrency: int | None,
                journal: Journal | None, verbose: bool, executor_first: bool) -> dict:
    stamp = int(time.time())
    twin, topic = f"bench-many-twin-{stamp}", f"bench-many-{stamp}"
    assignment = _assignment(partitions)
    target = {p: [DESTINATION if b == SOURCE else b for b in r] for p, r in assignment.items()}
    config = ClusterConfig(bootstrap, name=topic)
    load_before = os.getloadavg()[0]
    for i, which in enumerate(("executor", "twin") if executor_first else ("twin", "executor")):
        if i:
            # Each broker's replication quota counts the throttled bytes of its last WINDOW_S seconds,
            # whoever moved them: the second would pay for the first's copying. Both start with an
            # empty window.
            time.sleep(WINDOW_S + 1)
        with _filled_topic(bootstrap, twin if which == "twin" else topic, partitions, kb):
            if which == "twin":
                with Copying(config, twin, partitions) as twin_copying:
                    twin_started, controller_s = _controller_alone(config, twin, target, int(throttle_mb * MB))
                continue
            moves = [Move(topic, p, r, target[p], r[0], target[p][0]) for p, r in assignment.items()]
            options = ExecutionOptions(throttle=throttle_mb * MB, concurrency=concurrency)
            with Copying(config, topic, partitions) as copying:
                started, cpu = time.monotonic(), time.process_time()
                marks = Marks(started, verbose)
                report = execute(config, Proposal(topic, [], moves), options, journal or Journal(), log=marks.log)
                finished, cpu = time.monotonic(), time.process_time() - cpu
            moved = _bytes_on(config, topic, DESTINATION)
    load = (load_before + os.getloadavg()[0]) / 2
    elapsed = finished - started
    bound = moved / (throttle_mb * MB)
    floor = max(bound, controller_s)
    return {
        "status": report["status"], "throttle_mb_s": throttle_mb, "mb_moved": round(moved / MB, 1),
        "partitions": partitions, "concurrency": concurrency or "default", "first": "executor" if executor_first
        else "twin", "batches": report["batches"], "bound_s": round(bound, 1),
        "controller_alone_s": round(controller_s, 1),
        "execute_s": round(elapsed, 1), "time_vs_bound": round(elapsed / bound, 2),
        "time_vs_max_bound_controller": round(elapsed / floor, 2),
        "overhead_per_move_ms": round(1000 * (elapsed - bound) / partitions, 1),
        "overhead_per_move_over_controller_ms": round(1000 * (elapsed - floor) / partitions, 1),
        "moving_s": round(marks.done - marks.submitted, 1),
        "moving_vs_max_bound_controller": round((marks.done - marks.submitted) / floor, 2),
        "before_first_submission_s": round(marks.submitted - started, 1),
        "after_last_done_s": round(finished - marks.done, 1),
        "log_lines": marks.lines, "load_avg_1m": round(load, 1), "cpus": os.cpu_count(),
        "executor_cpu_s": round(cpu, 1),  # this process's, the sampling thread's included
        # From each one's submission: when the destination's first and last bytes came, and the rate between.
        "twin_copy": twin_copying.timeline(twin_started), "executor_copy": copying.timeline(marks.submitted),
    }


@contextmanager
def _filled_topic(bootstrap: str, topic: str, partitions: int, kb: float) -> Iterator[None]:
    """`topic` made, `kb` kB in each partition, copied on both replicas; deleted afterwards.

    The twin and the executor each get a topic made and filled just before their move, with no other one
    on the cluster: when both were filled before either moved, whichever topic was filled second copied
    2-4x slower, whoever moved it (session 18; a third topic filled after both did not change that,
    session 19). That is Kafka's, not the mover's, and it decided the row."""
    _create_topic(bootstrap, topic, partitions)
    try:
        _fill(bootstrap, topic, partitions * kb * KB / MB, partitions, acks="1")
        _wait_in_sync(bootstrap, {topic})
        _wait_copied(ClusterConfig(bootstrap, name=topic), [topic])
        yield
    finally:  # thousands of partitions a round left on --bootstrap's cluster soon exhaust a dev broker's heap
        _delete_topics(bootstrap, [topic])


class Marks:
    """The executor's log, read for the move phase: first submission to the last move seen done."""

    def __init__(self, started: float, verbose: bool) -> None:
        self.started, self.verbose = started, verbose
        self.submitted = self.done = started
        self.lines = 0
        self._seen_submission = False

    def log(self, line: str) -> None:
        self.lines += 1
        if ": submitted " in line and not self._seen_submission:
            self.submitted, self._seen_submission = time.monotonic(), True
        if line.startswith("done ") and " -> " in line:  # a move, not the report's "done (8): ..."
            self.done = time.monotonic()
        if self.verbose:
            print(f"{time.monotonic() - self.started:6.1f} {line}", flush=True)


def controller_sweep(bootstrap: str, sizes: list[int], kb: float = 10.0, throttle_mb: float = 100.0) -> dict:
    """How the controller takes N reassignments submitted at once, for each N in `sizes`: one topic with
    sum(sizes) partitions of `kb` kB, moved chunk after chunk, each chunk timed as `_controller_alone`
    times the twin (data far below the throttle, so the time is the controller's and the brokers')."""
    topic = f"bench-sweep-{int(time.time())}"
    total = sum(sizes)
    assignment = _create_topic(bootstrap, topic, total)
    _fill(bootstrap, topic, total * kb * KB / MB, total, acks="1")
    _wait_in_sync(bootstrap, {topic})
    config = ClusterConfig(bootstrap, name=topic)
    rows, start = [], 0
    for size in sizes:
        chunk = {p: [DESTINATION if b == SOURCE else b for b in assignment[p]] for p in range(start, start + size)}
        _, seconds = _controller_alone(config, topic, chunk, int(throttle_mb * MB))
        rows.append({"moves": size, "seconds": round(seconds, 1), "moves_per_s": round(size / seconds),
                     "load_avg_1m": round(os.getloadavg()[0], 1)})
        start += size
    return {"status": "succeeded", "sweep": rows, "kb_per_partition": kb, "cpus": os.cpu_count()}


def _controller_alone(config: ClusterConfig, topic: str, target: dict[int, list[int]],
                      rate: int) -> tuple[float, float]:
    """When one AlterPartitionReassignments with every move was sent (monotonic), and the seconds until the
    controller listed none of them, throttled as an execution is (rates on brokers 1-3, every replica of
    the topic throttled)."""
    brokers = [str(b) for b in (1, SOURCE, DESTINATION)]
    with admin_client(config) as admin:
        alter(admin, BROKER, {b: dict.fromkeys(THROTTLE_RATE_CONFIGS, str(rate)) for b in brokers})
        alter(admin, TOPIC, {topic: dict.fromkeys(THROTTLE_REPLICA_CONFIGS, "*")})
        started = time.monotonic()
        admin.alter_partition_reassignments({TopicPartition(topic, p): r for p, r in target.items()})
        while any(tp.topic == topic for tp in admin.list_partition_reassignments()):
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        alter(admin, TOPIC, {topic: dict.fromkeys(THROTTLE_REPLICA_CONFIGS, None)})
        alter(admin, BROKER, {b: dict.fromkeys(THROTTLE_RATE_CONFIGS, None) for b in brokers})
        # Config changes reach the brokers through the metadata log: wait until the rates are gone, or
        # the execution may read them still there, take them for the original values and leave none.
        while any(v is not None for values in read_dynamic(admin, BROKER, brokers, THROTTLE_RATE_CONFIGS).values()
                  for v in values.values()):
            time.sleep(0.2)
    return started, elapsed


def _assignment(partitions: int) -> dict[int, list[int]]:
    """Every bench topic's placement: each partition on brokers 1 and SOURCE, leaders alternating."""
    return {p: [1, SOURCE] if p % 2 else [SOURCE, 1] for p in range(partitions)}


def _create_topic(bootstrap: str, topic: str, partitions: int) -> dict[int, list[int]]:
    """`topic` placed as `_assignment` says; that assignment."""
    assignment = _assignment(partitions)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        admin.create_topics([NewTopic(topic, -1, -1, replica_assignments=assignment)])
    finally:
        admin.close()
    return assignment


def _delete_topics(bootstrap: str, topics: list[str]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap.split(","))
    try:
        admin.delete_topics(topics)
    finally:
        admin.close()


def _wait_in_sync(bootstrap: str, topics: set[str], timeout_s: float = 300.0) -> None:
    """Until every replica of these topics is in sync: a fill with acks=1 leaves followers behind, and a
    partition under min.insync.replicas is held back by the executor (rightly), not by its pacing."""
    deadline = time.monotonic() + timeout_s
    while any(p.under_replicated for p in read_cluster_state(ClusterConfig(bootstrap)).partitions if p.topic in topics):
        if time.monotonic() > deadline:
            raise SystemExit(f"topics {sorted(topics)} not in sync after {timeout_s:.0f}s")
        time.sleep(2)


def _wait_copied(config: ClusterConfig, topics: list[str], timeout_s: float = 300.0) -> None:
    """Until brokers 1 and 2 hold the same bytes of every partition of these topics.

    In the ISR is not copied: a follower stays in it while it lags less than replica.lag.time.max.ms,
    and a fill with acks=1 is acknowledged before followers fetch it. Moved right after the fill, a
    partition whose leader left could lose what only that leader had: executions moved 10.0 and
    15.3 MB of a 20 MB topic in three rounds that started just after the fill."""
    deadline = time.monotonic() + timeout_s
    with admin_client(config) as admin:
        while any(_sizes(admin, t, 1) != _sizes(admin, t, SOURCE) for t in topics):
            if time.monotonic() > deadline:
                raise SystemExit(f"brokers 1 and {SOURCE} hold different bytes of {topics} after {timeout_s:.0f}s")
            time.sleep(1)


def _bytes_on(config: ClusterConfig, topic: str, broker: int) -> int:
    with admin_client(config) as admin:
        return sum(_sizes(admin, topic, broker).values())


def _sizes(admin, topic: str, broker: int, partitions: int | None = None) -> dict[int, int]:
    """partition -> bytes of `topic` on `broker` (its current log dirs, not a move's future one).

    With `partitions` the request names them: unnamed, the broker answers for every replica it holds,
    which the client decodes into dicts. Sampled every half second beside the copy being measured,
    that took 13.8-16.8 cpu s of the bench process over an executor's run; named, 9.9-12.5 s."""
    named = {topic: list(range(partitions))} if partitions else None
    return {p["partition_index"]: p["partition_size"]
            for response in admin.describe_log_dirs(topic_partitions=named, brokers=[broker])
            for log_dir in response["log_dirs"] for t in log_dir["topics"] if t["name"] == topic
            for p in t["partitions"] if not p["is_future_key"]}


def _fill(bootstrap: str, topic: str, mb: float, partitions: int = PARTITIONS, acks: str = "all") -> None:
    """About `mb` MB of 1 kB messages, spread evenly over the partitions, every one delivered.

    Thousands of partitions are filled with acks=1: with acks=all each request waits for followers
    that fetch thousands of partitions, and the fill took minutes on a loaded machine. A message the
    producer gave up on (a partition whose leader its metadata did not know yet, just after the topic
    was made) is sent again: a run once compared a 10 MB topic with a 20 MB twin."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": acks, "linger.ms": 20})
    payload = b"x" * 1000
    failed: list[int] = []

    def delivered(err, message) -> None:
        if err is not None:
            failed.append(int(message.key()))

    todo = list(range(int(mb * MB / 1000)))
    for _ in range(5):
        for n, i in enumerate(todo):
            producer.produce(topic, key=str(i).encode(), value=payload, partition=i % partitions,
                             on_delivery=delivered)
            if n % 1000 == 0:
                producer.poll(0)
        assert producer.flush(300) == 0
        if not failed:
            return
        todo, failed = failed, []
        time.sleep(1)
    raise SystemExit(f"{len(todo)} messages to {topic} not delivered after 5 attempts")


class Copying:
    """The destination's bytes of a topic over time, sampled by a thread every half second while the block
    runs. Each sample is stamped at the middle of its DescribeLogDirs round trip (on a loaded machine the
    response can come a second after the broker measured)."""

    def __init__(self, config: ClusterConfig, topic: str, partitions: int) -> None:
        self.config, self.topic, self.partitions = config, topic, partitions
        self.samples: list[tuple[float, int, float]] = []  # (monotonic s, bytes, 1-minute load)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Copying:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def timeline(self, since: float) -> dict:
        """When, from `since`, the first byte and the last byte were seen on the destination, and the copy
        rate in between: it splits a move's time into the brokers' replica creation and the copy."""
        growing = self.growing()
        if not growing:
            return {}
        first, last = _first_and_last(growing)
        return {"first_byte_s": round(first[0] - since, 1), "all_bytes_s": round(last[0] - since, 1),
                "copy_mb_s": round((last[1] - first[1]) / MB / max(last[0] - first[0], 0.5), 1),
                "mb_at_s": [(round(t - since, 1), round(b / MB, 1)) for t, b in growing if t <= last[0]]}

    def growing(self) -> list[tuple[float, int]]:
        """(time, bytes) of the samples in which the destination held some of the topic."""
        return [(t, b) for t, b, _ in self.samples if b > 0]

    def _run(self) -> None:
        with admin_client(self.config) as admin:
            while not self._stop.is_set():
                asked = time.monotonic()
                size = sum(_sizes(admin, self.topic, DESTINATION, self.partitions).values())
                self.samples.append(((asked + time.monotonic()) / 2, size, os.getloadavg()[0]))
                self._stop.wait(0.5)


def _first_and_last(growing: list[tuple[float, int]]) -> tuple[tuple[float, int], tuple[float, int]]:
    """The first sample with bytes, and the first that holds as many as the last one: the copy's span."""
    return growing[0], next(s for s in growing if s[1] >= growing[-1][1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", help="an existing cluster with brokers 1-3 (default: a temporary dev cluster)")
    parser.add_argument("--many", type=int, metavar="PARTITIONS",
                        help="the many-small-partitions row: this many partitions of --kb each (e.g. 2000)")
    parser.add_argument("--controller-sweep", metavar="N,N,...",
                        help="time the controller alone on N reassignments at once, for each N (250,500,1000,2000)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="--many: rounds, alternating which of twin and executor goes first; "
                        "the row is their medians")
    parser.add_argument("--kb", type=float, default=10.0, help="--many: kB per partition (default 10)")
    parser.add_argument("--throttle", type=float, default=2.0, help="MB/s (default 2)")
    parser.add_argument("--mb", type=float, default=60.0, help="data to move (default 60)")
    parser.add_argument("--concurrency", type=int, help="moves per broker (default: the executor's own)")
    parser.add_argument("--output", help="write the row as JSON to this file (e.g. bench/results/executor.json)")
    parser.add_argument("--verbose", action="store_true", help="print the executor's log with timestamps")
    args = parser.parse_args()

    def run(bootstrap: str, journal: Journal) -> dict:
        if args.controller_sweep:
            return controller_sweep(bootstrap, [int(n) for n in args.controller_sweep.split(",")], args.kb)
        if args.many:
            return measure_many(bootstrap, args.throttle, args.many, args.kb, args.concurrency, journal, args.verbose,
                                args.rounds)
        return measure(bootstrap, args.throttle, args.mb, args.concurrency, journal, args.verbose)

    with tempfile.TemporaryDirectory() as home:
        journal = Journal(f"sqlite:///{Path(home) / 'metrics.db'}")
        if args.bootstrap:
            row = run(args.bootstrap, journal)
        else:
            from kafka_medic.devcluster import DevCluster

            cluster = DevCluster(name="bench-executor", home=Path(home) / "cluster", brokers=3)
            cluster.up()
            try:
                row = run(cluster.bootstrap, journal)
            finally:
                cluster.down()
    print(" | ".join(f"{k}={v}" for k, v in row.items()))
    if args.output:
        Path(args.output).write_text(json.dumps({**row, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=2)
                                     + "\n")
    return 0 if row["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
