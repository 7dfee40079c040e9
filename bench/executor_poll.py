"""Executor bookkeeping at scale: what one poll of the move loop costs the executor's own process.

The dev cluster cannot hold 100,000 partitions on this machine, so this measures the part that grows
with the execution and not with Kafka: a journal of N replica moves (SQLite in a temporary directory,
or `--store`), `--in-flight` of them submitted, and a synthetic cluster state in which a tenth of
those just finished. It times each step of `moving.run_batches`' loop on that state (the cluster
reads and the broker calls aside), twice: the poll that sees moves finish, and a quiet one after it.

    .venv/bin/python bench/executor_poll.py [--moves 2000,100000,300000] [--brokers 1000] [--output FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from kafka_medic.executor import Journal
from kafka_medic.executor import journal as j
from kafka_medic.executor.batches import order_tasks, select_replica_tasks
from kafka_medic.executor.execution import Execution
from kafka_medic.executor.moving import _reconcile, _record_held, _watch_stalls
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.progress import ProgressMeter
from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.state import BrokerState, ClusterState, PartitionState
from kafka_medic.model import Move, Proposal
from kafka_medic.units import MB

PARTITIONS_PER_TOPIC = 100
THROTTLE = 50 * MB  # the byte budget then admits the whole --in-flight of 10 MB moves per destination spread


def synthetic(moves: int, brokers: int, seed: int = 1) -> list[Task]:
    """One move per partition: a replica of an RF-3 partition goes from one broker to another."""
    rng = random.Random(seed)
    tasks = []
    for i in range(moves):
        old = tuple(rng.sample(range(1, brokers + 1), 3))
        new = (*old[:2], rng.choice([b for b in range(1, brokers + 1) if b not in old][:50]))
        tasks.append(Task(f"t{i // PARTITIONS_PER_TOPIC}", i % PARTITIONS_PER_TOPIC, REPLICA, old, new,
                          old[0], new[0], rng.randint(1, 20) * MB))
    return tasks


def cluster_state(tasks: list[Task], brokers: int, in_flight: set, finished: set) -> ClusterState:
    """Moves in `in_flight` are reassigning (their new replica half copied), those in `finished` are at
    their new replicas, the rest untouched; every partition in sync, every broker alive."""
    partitions = []
    for t in tasks:
        if t.key in finished:
            replicas, adding, removing = list(t.new_replicas), [], []
        elif t.key in in_flight:
            replicas = list(dict.fromkeys(t.new_replicas + t.old_replicas))
            adding, removing = list(t.added), list(t.removed)
        else:
            replicas, adding, removing = list(t.old_replicas), [], []
        sizes = dict.fromkeys(replicas, t.size_bytes) | dict.fromkeys(adding, t.size_bytes // 2)
        partitions.append(PartitionState(t.topic, t.partition, replicas, replicas[0], replicas, sizes=sizes,
                                         adding_replicas=adding, removing_replicas=removing))
    states = {b: BrokerState(b, "localhost", 9092, None, True) for b in range(1, brokers + 1)}
    return ClusterState("bench", 1, states, partitions, {}, {}, "now")


def measure(moves: int, brokers: int, in_flight: int, store: str | None) -> dict:
    tasks = synthetic(moves, brokers)
    proposal = Proposal("bench", [], [Move(t.topic, t.partition, list(t.old_replicas), list(t.new_replicas),
                                           t.old_leader, t.new_leader) for t in tasks])
    options = ExecutionOptions(throttle=THROTTLE)
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(store or f"sqlite:///{Path(tmp) / 'store.db'}")
        try:
            started = time.perf_counter()
            execution_id = journal.create(f"bench-{moves}", proposal, options, tasks)
            assert execution_id
            row: dict = {"moves": moves, "brokers": brokers, "in_flight": in_flight,
                         "journal_create_s": round(time.perf_counter() - started, 3)}
            lines: list[str] = []
            execution = Execution(ClusterConfig(bootstrap="localhost:9092"), journal, execution_id, lines.append)
            submitted = tasks[:in_flight]
            journal.mark_submitted(execution_id, submitted)
            journal.confirm_submitted(execution_id, submitted)
            flying = {t.key for t in submitted}
            finished = {t.key for t in submitted[: in_flight // 10]}
            state = cluster_state(tasks, brokers, flying, finished)
            meter = ProgressMeter()
            execution.tasks()  # as `run_batches` does before its first poll
            row["polls"] = {name: poll(execution, state, meter, options)
                            for name in ("moves finished", "quiet")}
            row["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            row["log_lines"] = len(lines)
            row["longest_log_line"] = max(map(len, lines))
        finally:
            journal.close()
    return row


def poll(execution: Execution, state: ClusterState, meter: ProgressMeter, options: ExecutionOptions) -> dict:
    """One pass of the move loop's bookkeeping on `state`, each step timed (seconds)."""
    steps: dict[str, float] = {}

    def timed(name, call):
        started = time.perf_counter()
        result = call()
        steps[name] = round(steps.get(name, 0.0) + time.perf_counter() - started, 4)
        return result

    row = timed("heartbeat", execution.heartbeat)
    records = timed("journal read", execution.tasks)
    _, changed = timed("reconcile", lambda: _reconcile(execution, records, state, {}))
    if changed:
        records = timed("journal read", execution.tasks)
    timed("progress line", lambda: execution.log(meter.measure(records, state, row.batches, time.time()).line()))
    timed("stall watch", lambda: _watch_stalls(execution, records, meter, options))
    in_flight, waiting = timed("split", lambda: (
        [r.task for r in records if r.task.kind == REPLICA and r.state == j.SUBMITTED],
        [r for r in records if r.task.kind == REPLICA and r.state in (j.PENDING, j.HELD)]))
    pending = timed("order", lambda: order_tasks([r.task for r in waiting], state, options.strategy))
    selection = timed("select", lambda: select_replica_tasks(pending, in_flight, state, options))
    timed("held", lambda: _record_held(execution, waiting, selection.held))
    if selection.tasks:
        timed("journal submit", lambda: (execution.journal.mark_submitted(execution.id, selection.tasks),
                                         execution.journal.confirm_submitted(execution.id, selection.tasks)))
    steps["total"] = round(sum(steps.values()), 3)
    steps["selected"] = len(selection.tasks)
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", default="2000,100000,300000", help="comma-separated move counts")
    parser.add_argument("--brokers", type=int, default=1000)
    parser.add_argument("--in-flight", type=int, default=2000, help="moves submitted when the poll runs")
    parser.add_argument("--store", help="journal URL (default: SQLite in a temporary directory)")
    parser.add_argument("--output", help="write the rows as JSON here")
    args = parser.parse_args()
    try:
        sizes = [int(n) for n in args.moves.split(",")]
    except ValueError:
        print(f"--moves {args.moves!r}: expected comma-separated integers, e.g. 2000,100000", file=sys.stderr)
        return 2
    rows = []
    for moves in sizes:
        row = measure(moves, args.brokers, min(args.in_flight, moves), args.store)
        row["load_avg"] = round(os.getloadavg()[0], 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.output:
        Path(args.output).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
