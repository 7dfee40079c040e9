"""One Admin API sampling round on real brokers: wall time and the requests it sent, counted by the brokers.

.venv/bin/python bench/sampling_real.py [--partitions 5000] [--rounds 3] [--home DIR] [--keep] [--output FILE]

Starts a dev cluster (KRaft, `--brokers` brokers in 2 racks, free ports, under `--home` or a temporary
directory; with `--home` of a running one it is reused), creates `--partitions` partitions (topics of
100, replication 2; no data: what a round asks depends on partitions and brokers, not on bytes), then
runs a priming round and `--rounds` measured rounds of `sample_round` with the Admin sampler alone into
a temporary SQLite store.
Requests are the brokers' own counters (the JMX exporter's kafka.network RequestMetrics, summed over
brokers) read before and after each round, by request type; the same counters over an idle interval
of the same length show what the cluster sends itself (replication Fetch), which is left out.
Run it against the code before and after a change (`PYTHONPATH=<old checkout>/include`, `--home` and
`--keep` to reuse one cluster) to compare the two on the same brokers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from kafka_medic.devcluster.cluster import DevCluster
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.metrics.admin_sampler import AdminSampler
from kafka_medic.metrics.sampling import sample_round
from kafka_medic.metrics.store import MetricsStore

PER_TOPIC = 100
NAME = "bench-sampling"
INTERNAL = {"Fetch", "FetchFollower"}  # followers replicating: the cluster's own traffic, not the sampler's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=5000)
    parser.add_argument("--brokers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--home", type=Path, help="the dev cluster's home (reused when it is running)")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running")
    parser.add_argument("--output", type=Path, help="write the figures as JSON to this file")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="kafka-medic-bench-sampling."))
    cluster = DevCluster(name=NAME, home=home, brokers=args.brokers, racks=2, base_port=0)
    cluster.up()
    try:
        _ensure_partitions(cluster.bootstrap, args.partitions)
        result = run(cluster, args)
    finally:
        if not args.keep:
            cluster.down()
    print(json.dumps(result, indent=2))
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")


def run(cluster: DevCluster, args: argparse.Namespace) -> dict:
    load = [round(os.getloadavg()[0], 1)]
    sampler = AdminSampler(ClusterConfig(bootstrap=cluster.bootstrap, name=NAME))
    walls, counts = [], []
    with tempfile.TemporaryDirectory() as tmp, MetricsStore(f"sqlite:///{tmp}/metrics.db") as store:
        sample_round(store, NAME, [sampler])  # priming: the first round has no rates to compute
        for _ in range(args.rounds):
            before = _requests(cluster)
            t0 = time.perf_counter()
            report = sample_round(store, NAME, [sampler])
            walls.append(time.perf_counter() - t0)
            counts.append(_requests(cluster) - before)
            load.append(round(os.getloadavg()[0], 1))
            if report.errors:
                raise SystemExit(f"round failed: {report.errors}")
        rows = report.broker_samples + report.partition_samples
    before = _requests(cluster)
    time.sleep(statistics.mean(walls))
    idle = _requests(cluster) - before
    per_round = {k: round(sum(c[k] for c in counts) / len(counts), 1) for k in sorted(set().union(*counts))}
    sampled = {k: v for k, v in per_round.items() if k not in INTERNAL}
    state = sampler.latest_state
    assert state is not None
    return {
        "brokers": len(state.alive_brokers),
        "partitions": len(state.partitions),
        "replicas": sum(len(p.replicas) for p in state.partitions),
        "led_partitions_with_rates": sum(1 for s in sampler.latest.values() if s.messages_in is not None),
        "rows_per_round": rows,
        "rounds": args.rounds,
        "round_wall_s": {"mean": round(statistics.mean(walls), 3), "max": round(max(walls), 3)},
        "requests_per_round": sum(sampled.values()),
        "requests_per_round_by_type": sampled,
        "internal_requests_per_round": {k: v for k, v in per_round.items() if k in INTERNAL},
        "idle_interval_requests_by_type": dict(sorted(idle.items())),
        "load_average": {"min": min(load), "max": max(load)},
    }


def _requests(cluster: DevCluster) -> Counter:
    """Requests every broker has served so far, by type (all versions)."""
    total: Counter = Counter()
    for broker in cluster.broker_ids:
        with urllib.request.urlopen(cluster.jmx_url(broker), timeout=60) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name == "kafka_network_requestmetrics_requests":
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        total[sample.labels["request"]] += int(sample.value)
    return total


def _ensure_partitions(bootstrap: str, partitions: int) -> None:
    """Topics of PER_TOPIC partitions up to `partitions` in all."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [f"sampling-{i:03d}" for i in range(-(-partitions // PER_TOPIC))]
    missing = [n for n in names if n not in admin.list_topics(timeout=30).topics]
    if not missing:
        return
    for future in admin.create_topics([NewTopic(n, PER_TOPIC, 2) for n in missing]).values():
        future.result(timeout=120)
    deadline = time.monotonic() + 300
    while set(missing) - set(admin.list_topics(timeout=30).topics):
        if time.monotonic() > deadline:
            raise SystemExit("topics did not appear within 300 s")
        time.sleep(2)


if __name__ == "__main__":
    main()
