"""The metrics store at fleet scale: a synthetic fleet sampled each minute for simulated hours, then its load model.

.venv/bin/python bench/metrics_scale.py [--brokers 1000 --partitions 100000 --hours 24] [--store URL] [--output FILE]
    [--build-only: no rounds, the build only, from a store an earlier run filled; reports the rows it read]
    [--into-hour MINUTES: with --build-only, first that many rounds a minute apart into the next hour: a build
     during an hour reads the raw rows of the window in progress]

Time is simulated, not waited: each round is one `sample_round` (what the sample DAG runs) of a
synthetic sampler at the next minute's timestamp, so the store sees exactly the sampler's writes.
The fleet: 3 replicas per partition on random brokers, log-normal leader rates and sizes per
partition with +-10% noise per round, sizes growing; 1% of partitions reassigning during the second
hour (flags the load model must exclude). The store aggregates 1 h base windows (the build's window)
as soon as they close: each round that starts an hour aggregates the one before it. After the run:
rows and bytes in the store with the last hour still raw, then after the round that closes it (its
aggregation timed), ingest time per round (the store's share: the sampler's own generation time is
measured and taken out; rounds that aggregate an hour apart), and the build of the load model over
the complete 1 h windows the simulated time allows (up to 24). Peak RSS is the process's high-water
mark, before the build (the rounds hold one round of rows at a time) and after it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from kafka_medic.metrics.load_model import build_load_model
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.sampling import sample_round
from kafka_medic.metrics.store import MetricsStore

CLUSTER, KAFKA_ID = "fleet", "bench-fleet"
HOUR = 3600.0
START = 1_800_000_000.0  # a whole hour, so windows line up with the simulated hours


class FleetSampler:
    """One round of the synthetic fleet: every replica's size, the leaders' rates, every broker's CPU."""

    source = "bench"
    cluster_id = KAFKA_ID

    def __init__(self, brokers: int, partitions: int, per_topic: int, seed: int = 1) -> None:
        self.rng = np.random.default_rng(seed)
        self.brokers = brokers
        self.topics = [f"topic-{p // per_topic}" for p in range(partitions)]
        self.numbers = [p % per_topic for p in range(partitions)]
        pick = random.Random(seed)
        self.placement = [pick.sample(range(1, brokers + 1), 3) for _ in range(partitions)]
        self.bytes_in = self.rng.lognormal(np.log(20e3), 1.0, partitions)
        self.size = self.rng.lognormal(np.log(500e6), 1.0, partitions)
        self.moving = self.rng.random(partitions) < 0.01
        self.generate_s = 0.0

    def sample(self, ts: float) -> tuple[list[BrokerSample], list[PartitionSample]]:
        t0 = time.perf_counter()
        n = len(self.topics)
        noise = self.rng.uniform(0.9, 1.1, (3, n))
        bytes_in = (self.bytes_in * noise[0]).tolist()
        bytes_out = (2 * self.bytes_in * noise[1]).tolist()
        messages = (self.bytes_in / 1e3 * noise[2]).tolist()
        size = (self.size * (1 + (ts - START) / (24 * HOUR))).tolist()
        reassigning = (self.moving & (START + HOUR <= ts < START + 2 * HOUR)).tolist()
        placement = self.placement
        partitions = [
            PartitionSample(ts=ts, topic=self.topics[p], partition=self.numbers[p], broker=b, source=self.source,
                            leader=i == 0, reassigning=reassigning[p], size=size[p],
                            **({"bytes_in": bytes_in[p], "bytes_out": bytes_out[p], "messages_in": messages[p]}
                               if i == 0 else {}))
            for p in range(n)
            for i, b in enumerate(placement[p])
        ]  # fmt: skip
        cpu = self.rng.uniform(20, 60, self.brokers).tolist()
        brokers = [BrokerSample(ts=ts, broker=b + 1, source=self.source, cpu=cpu[b]) for b in range(self.brokers)]
        self.generate_s += time.perf_counter() - t0
        return brokers, partitions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=100_000)
    parser.add_argument("--partitions-per-topic", type=int, default=50)
    parser.add_argument("--hours", type=int, default=24, help="simulated hours of sampling")
    parser.add_argument("--interval", type=float, default=60.0, help="simulated seconds between rounds")
    parser.add_argument("--store", help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--output", type=Path, help="write the figures as JSON to this file")
    parser.add_argument(
        "--build-only", action="store_true",
        help="no rounds: build the load model from a store an earlier run filled (--store, same fleet options)",
    )  # fmt: skip
    parser.add_argument(
        "--into-hour", type=int, default=0, metavar="MINUTES",
        help="with --build-only: first sample that many more rounds, one a minute, into the hour after the store's "
             "last (raw rows of the window in progress, which a build during the hour reads), and build after them",
    )  # fmt: skip
    args = parser.parse_args()
    if args.build_only and not args.store:
        raise SystemExit("--build-only needs --store: the URL of a store an earlier run filled")
    with tempfile.TemporaryDirectory() as tmp, CountingStore(
        args.store or f"sqlite:///{tmp}/scale.db", aggregate_s=HOUR, aggregate_after_s=0.0
    ) as store:
        result = run(store, args)
    print(json.dumps(result, indent=2))
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")


class CountingStore(MetricsStore):
    """The store, counting the rows its reads return (what a build reads)."""

    rows_read = 0

    def _frame(self, query, columns: list[str]):
        frame = super()._frame(query, columns)
        self.rows_read += len(frame)
        return frame


def run(store: CountingStore, args: argparse.Namespace) -> dict:
    if args.build_only:
        now = START + args.hours * HOUR
        if args.into_hour:
            sampler = FleetSampler(args.brokers, args.partitions, args.partitions_per_topic)
            for minute in range(args.into_hour):
                sample_round(store, CLUSTER, [sampler], ts=now + 60 * minute)
            now += 60 * args.into_hour
        return {**_build(store, args, now, [round(os.getloadavg()[0], 1)]), "into_hour_minutes": args.into_hour}

    sampler = FleetSampler(args.brokers, args.partitions, args.partitions_per_topic)
    rounds = int(args.hours * HOUR / args.interval)
    load = [round(os.getloadavg()[0], 1)]
    plain, aggregating = [], []  # ingest s of rounds that only write, and of those that aggregate an hour too
    for r in range(rounds):
        before, t0 = sampler.generate_s, time.perf_counter()
        report = sample_round(store, CLUSTER, [sampler], ts=START + r * args.interval)
        if report.errors:
            raise SystemExit(f"round {r}: {report.errors}")
        spent = time.perf_counter() - t0 - (sampler.generate_s - before)
        (aggregating if r and (r * args.interval) % HOUR == 0 else plain).append(spent)
        if r % 60 == 59:
            load.append(round(os.getloadavg()[0], 1))
            print(f"round {r + 1}/{rounds}: {spent:.2f}s ingest, load average {load[-1]:.1f}", flush=True)
    raw_rows, raw_size = _rows_and_bytes(store)
    now = START + args.hours * HOUR
    t0 = time.perf_counter()
    store.aggregate(CLUSTER, now, KAFKA_ID)  # what the round at `now` does after writing: the last hour closed
    closing = time.perf_counter() - t0
    replicas = 3 * args.partitions
    return {
        "rounds": rounds,
        "rows_last_hour_raw": raw_rows,
        "store_bytes_last_hour_raw": raw_size,
        "ingest_s_per_round": _spread(plain),
        "ingest_rows_per_s": round((replicas + args.brokers) * len(plain) / sum(plain)),
        "aggregating_round_s": _spread(aggregating),
        "closing_aggregation_s": round(closing, 2),
        "sampler_generate_s": round(sampler.generate_s, 1),
        **_build(store, args, now, load),
    }


def _build(store: CountingStore, args: argparse.Namespace, now: float, load: list[float]) -> dict:
    """The 24 x 1 h (at most) load model at `now`: its time, memory and the rows it read; the store's rows."""
    rows, size = _rows_and_bytes(store)
    windows = min(24, args.hours)
    rss_before = _peak_rss_mb()
    store.rows_read = 0
    t0, cpu0 = time.perf_counter(), time.process_time()
    model = build_load_model(store, CLUSTER, now=now, window_s=HOUR, windows=windows, kafka_cluster_id=KAFKA_ID)
    built, built_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    load.append(round(os.getloadavg()[0], 1))
    total_rows = sum(rows.values())
    return {
        "store": store.engine.dialect.name,
        "brokers": args.brokers,
        "partitions": args.partitions,
        "replicas": 3 * args.partitions,
        "simulated_hours": args.hours,
        "interval_s": args.interval,
        "rows": rows,
        "store_bytes": size,
        "bytes_per_row": round(size / total_rows, 1),
        "windows": windows,
        "build_rows_read": store.rows_read,
        "build_s": round(built, 2),
        "build_cpu_s": round(built_cpu, 2),
        "peak_rss_before_build_mb": round(rss_before, 1),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "modelled_partitions": len(model.partition_load),
        "valid_windows": model.valid_windows,
        "valid_partition_ratio": round(model.valid_partition_ratio, 4),
        "load_average": {"min": min(load), "max": max(load), "mean": round(statistics.mean(load), 1)},
    }


def _spread(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    return {
        "mean": round(statistics.mean(seconds), 3),
        "median": round(statistics.median(seconds), 3),
        "max": round(max(seconds), 3),
    }


def _rows_and_bytes(store: MetricsStore) -> tuple[dict[str, int], int]:
    """Rows per sample table (for partition_window_sums, the windows and the partition sums packed in them),
    and the bytes the store takes: the SQLite file (WAL checkpointed into it first), or PostgreSQL's tables
    with their indexes and TOAST."""
    tables = ("partition_samples", "broker_samples", "partition_samples_kept", "partition_samples_latest",
              "partition_window_sums")
    with store.engine.begin() as conn:
        rows = {t: int(conn.scalar(sa.text(f"SELECT count(*) FROM {t}")) or 0) for t in tables}
        packed = sa.text('SELECT sum(length("partition")) / 4 FROM partition_window_sums')  # int32 each
        rows["window_sums"] = int(conn.scalar(packed) or 0)
        if conn.dialect.name == "postgresql":
            size = sum(int(conn.scalar(sa.text(f"SELECT pg_total_relation_size('{t}')")) or 0) for t in tables)
            return rows, size
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    database = store.engine.url.database or ""
    return rows, sum(os.path.getsize(p) for p in (database, f"{database}-wal") if os.path.exists(p))


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
