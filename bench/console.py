"""What the operator console's pages cost the server on a large cluster, and what detect's snapshot adds.

.venv/bin/python bench/console.py [--brokers 1000] [--partitions 100000] [--repeat 5] [--output FILE]

A temporary SQLite store holds, for one cluster: a synthetic model (`synthetic.py`) of `--brokers` brokers
and `--partitions` partitions as detect's model snapshot; a day of detect status rows (one a minute; the
week kept at most is measured too with --days 7); 20 open and 200 past anomalies; 500 actions; and a
running execution of `--tasks` moves (half done, 100 in flight). The console never reads the metric
samples (the snapshot and the status rows carry what it shows), so none are written here.

Timed, median and max of `--repeat` runs, each from the store to the finished HTML (the route's work but
the auth check, one indexed read of Airflow's DAG table): the cluster page (target < 2 s), the partition
page (target < 1 s) by disk, by cpu with a topic regex, and its last page; and, once, detect's extra work
per run: the snapshot of the live model and its write.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from kafka_medic.console.cluster import cluster_view
from kafka_medic.console.pages import cluster_page, partitions_page
from kafka_medic.console.partitions import PER_PAGE, heaviest
from kafka_medic.detector import Anomaly, AnomalyLog
from kafka_medic.detector.snapshot import ModelSnapshot, SnapshotLog
from kafka_medic.detector.status import ClusterStatus, StatusLog, status, status_row
from kafka_medic.executor.journal import DONE, Journal
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.model import Move, Proposal
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.notify.action_log import ActionLog, ActionRecord
from kafka_medic.remediation.policy import ClusterPolicy
from kafka_medic.synthetic import Scenario, synthetic_model

CLUSTER = "big"


def a_status(at: float, brokers: int) -> ClusterStatus:
    return ClusterStatus(CLUSTER, at, brokers - 1, 1, 3, 0, 91.2, dict.fromkeys(RESOURCES, 70.0),
                         dict.fromkeys(RESOURCES, 40.0), 24, 24, 1.0)


def fill(url: str, brokers: int, partitions: int, days: float, tasks: int) -> dict[str, float]:
    now = time.time()
    started = time.perf_counter()
    model = synthetic_model(Scenario(brokers=brokers, partitions=partitions, racks=10, dead=1), cluster=CLUSTER)
    built = time.perf_counter()
    snapshot = ModelSnapshot.of(model, now)
    reduced = time.perf_counter()
    with SnapshotLog(url) as snapshots:
        snapshots.record(CLUSTER, snapshot)
        written = time.perf_counter()
        with snapshots.engine.connect() as conn:
            size = conn.exec_driver_sql("SELECT length(arrays) FROM detector_model_snapshot").scalar()
    minutes = int(days * 24 * 60)
    with StatusLog(url) as statuses, statuses.engine.begin() as conn:
        conn.execute(status.insert(), [{**status_row(a_status(now - 60 * m, brokers)), "latest": m == 0}
                                       for m in range(minutes)])
    with AnomalyLog(url) as anomalies:
        found = [Anomaly("under_replicated_partitions", f"under_replicated_partitions:t-{i}", "warning", "urp")
                 for i in range(220)]
        anomalies.record(CLUSTER, found, now=now - 60)
        anomalies.record(CLUSTER, found[:20], now=now)
    with ActionLog(url) as actions:
        for i in range(500):
            actions.write(ActionRecord(CLUSTER, ("heal", "rebalance")[i % 2], ["why"], "auto", 10, 10, 10**9,
                                       "succeeded", now - i * 600 - 300, now - i * 600))
    task_list = [Task("t", i, REPLICA, (1, 2, 3), (4 + i % (brokers - 4), 2, 3), 1, 4 + i % (brokers - 4), 10**8)
                 for i in range(tasks)]
    proposal = Proposal(CLUSTER, [], [Move(t.topic, t.partition, list(t.old_replicas), list(t.new_replicas),
                                           t.old_leader, t.new_leader) for t in task_list])
    with Journal(url) as journal:
        execution = journal.create(CLUSTER, proposal, ExecutionOptions(), task_list)
        journal.mark_submitted(execution, task_list[: tasks // 2 + 100])
        journal.confirm_submitted(execution, task_list[: tasks // 2 + 100])
        journal.set_tasks_state(execution, task_list[: tasks // 2], DONE)
    return {"model_build_s": built - started, "snapshot_of_s": reduced - built, "snapshot_write_s": written - reduced,
            "snapshot_bytes": float(size), "status_rows": float(minutes)}


def timed(work: Callable[[], object], repeat: int) -> dict[str, float]:
    """Wall time, and the process's CPU time: on a machine shared far past its cores the wall time is mostly
    waiting for a core, the CPU time what the page costs."""
    times, cpu = [], []
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        work()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return {"median_s": statistics.median(times), "max_s": max(times), "median_cpu_s": statistics.median(cpu),
            "max_cpu_s": max(cpu), "runs_s": times, "runs_cpu_s": cpu}


def partition_page(url: str, resource: str, topic: str = "", page: int = 1) -> str:
    with SnapshotLog(url) as snapshots:
        snapshot = snapshots.latest(CLUSTER)
    assert snapshot is not None
    return partitions_page(CLUSTER, heaviest(snapshot, resource, topic, page))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=100_000)
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'store.db'}"
        setup = fill(url, args.brokers, args.partitions, args.days, args.tasks)
        last = -(-args.partitions // PER_PAGE)
        pages = {
            "cluster_page": timed(lambda: cluster_page(cluster_view(CLUSTER, ClusterPolicy(), url), True), args.repeat),
            "partitions_disk_page_1": timed(lambda: partition_page(url, "disk"), args.repeat),
            "partitions_cpu_topic_regex": timed(lambda: partition_page(url, "cpu", "topic-0[0-4].*"), args.repeat),
            "partitions_disk_last_page": timed(lambda: partition_page(url, "disk", page=last), args.repeat),
        }
    result = {
        "brokers": args.brokers, "partitions": args.partitions, "status_days": args.days, "tasks": args.tasks,
        "repeat": args.repeat, "setup": setup, "pages": pages, "load_avg_1m": os.getloadavg()[0],
    }
    print(json.dumps(result, indent=2))
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
