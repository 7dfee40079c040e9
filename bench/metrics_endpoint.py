"""What /kafka-medic/metrics costs: a scrape over a full store, and the status row each detect run adds.

.venv/bin/python bench/metrics_endpoint.py [--clusters 10] [--tasks 10000] [--partitions 20000] [--output FILE]

Scrape: a temporary SQLite store with `--clusters` clusters, each with 7 days of status rows (one a
minute, the kept history), 20 open anomalies and 100 actions, and one cluster running an execution of
`--tasks` moves (half done, 100 in flight) with throttles on 100 brokers; one collector is timed over
its first scrape (which reads the moves' sizes) and `--scrapes` more (median, max). Detect: on a
synthetic model of `--partitions` partitions and `--brokers` brokers, the status row's extra work (the
goal checks for balancedness and the utilisation spread) and its write with the history in place.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from kafka_medic.detector import Anomaly, AnomalyLog
from kafka_medic.detector.status import KEEP_S, ClusterStatus, StatusLog, status, status_row
from kafka_medic.executor.journal import DONE, Journal
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.goals import DEFAULT_GOALS, check
from kafka_medic.model import Move, Proposal
from kafka_medic.model.placement import Placement
from kafka_medic.notify.action_log import ActionLog, ActionRecord
from kafka_medic.notify.exporter import StoreCollector, metrics_text
from kafka_medic.optimizer.balancedness import balancedness
from kafka_medic.optimizer.proposal import utilisation
from kafka_medic.synthetic import Scenario, synthetic_model

RESOURCES = ("disk", "nw_in", "nw_out", "cpu")


def a_status(cluster: str, at: float) -> ClusterStatus:
    return ClusterStatus(cluster, at, 99, 1, 3, 0, 91.2, dict.fromkeys(RESOURCES, 70.0),
                         dict.fromkeys(RESOURCES, 40.0), 5, 5, 1.0)


def fill(url: str, clusters: int, tasks: int) -> int:
    """The store described above; returns the status rows written."""
    now = time.time()
    names = [f"cluster-{i}" for i in range(clusters)]
    with StatusLog(url) as statuses:
        history = [{**status_row(a_status(c, now - KEEP_S + m * 60)), "latest": False}
                   for c in names for m in range(int(KEEP_S / 60) - 1)]
        with statuses.engine.begin() as conn:
            conn.execute(status.insert(), history)
        for c in names:
            statuses.record(a_status(c, now))
    with AnomalyLog(url) as anomalies:
        for c in names:
            anomalies.record(c, [Anomaly("under_replicated_partitions", f"under_replicated_partitions:t-{i}",
                                         "warning", "urp") for i in range(20)])
    with ActionLog(url) as actions:
        for c in names:
            for i in range(100):
                actions.write(ActionRecord(c, "rebalance", [], "", 10, 10, 10**9, "succeeded", now - i * 3600,
                                           now - i * 3600 + 600))
    task_list = [Task("t", i, REPLICA, (1, 2, 3), (4, 2, 3), 1, 4, 10**8) for i in range(tasks)]
    proposal = Proposal(names[0], [], [Move("t", i, [1, 2, 3], [4, 2, 3], 1, 4) for i in range(tasks)])
    with Journal(url) as journal:
        execution = journal.create(names[0], proposal, ExecutionOptions(), task_list)
        journal.mark_submitted(execution, task_list[: tasks // 2 + 100])
        journal.confirm_submitted(execution, task_list[: tasks // 2 + 100])
        journal.set_tasks_state(execution, task_list[: tasks // 2], DONE)
        for broker in range(100):
            for config in ("leader.replication.throttled.rate", "follower.replication.throttled.rate"):
                journal.remember_original(execution, "broker", str(broker), config, None)
                journal.record_applied(execution, "broker", str(broker), config, "52428800")
    return len(history) + clusters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--partitions", type=int, default=20_000)
    parser.add_argument("--brokers", type=int, default=100)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    figures: dict = {"clusters": args.clusters, "tasks": args.tasks, "load_avg_start": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        t0 = time.perf_counter()
        figures["status_rows"] = fill(url, args.clusters, args.tasks)
        figures["fill_s"] = round(time.perf_counter() - t0, 1)
        collector = StoreCollector(url)  # one per app, as the plugin's: the first scrape reads the moves' sizes
        times, cpu = [], []
        for _ in range(args.scrapes + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            body = metrics_text(collector)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        assert b"kafka_medic_up 1.0" in body
        first, later = times[0], times[1:]
        figures.update(first_scrape_s=round(first, 4), scrape_median_s=round(statistics.median(later), 4),
                       scrape_max_s=round(max(later), 4), first_scrape_cpu_s=round(cpu[0], 4),
                       scrape_cpu_median_s=round(statistics.median(cpu[1:]), 4), scrape_bytes=len(body),
                       scrape_samples=body.count(b"\n") - body.count(b"# "))
        model = synthetic_model(Scenario(brokers=args.brokers, partitions=args.partitions))
        t0, c0 = time.perf_counter(), time.process_time()
        placement = Placement.from_model(model)
        score = balancedness(check(placement, DEFAULT_GOALS))
        utilisation(placement, placement.metrics)
        figures.update(partitions=args.partitions, brokers=args.brokers, balancedness=score,
                       status_compute_s=round(time.perf_counter() - t0, 3),
                       status_compute_cpu_s=round(time.process_time() - c0, 3))
        with StatusLog(url) as statuses:
            t0 = time.perf_counter()
            statuses.record(a_status("cluster-0", time.time()))
            figures["status_write_s"] = round(time.perf_counter() - t0, 4)
    figures["load_avg_end"] = os.getloadavg()[0]
    print(json.dumps(figures, indent=2))
    if args.output:
        args.output.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
