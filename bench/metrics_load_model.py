"""How long the store and the load model take for a cluster of a given size (synthetic samples).

.venv/bin/python bench/metrics_load_model.py --partitions 2000 --rounds 25 [--output FILE]

Peak RSS is the process's after the build (the writes before it hold far less); RSS before the build
is printed beside it, so the build's own share is the difference.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path

from kafka_medic.metrics.load_model import build_load_model
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MetricsStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=2000)
    parser.add_argument("--brokers", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=25, help="sampling rounds, 12 s apart")
    parser.add_argument("--store", help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--output", type=Path, help="write the figures as JSON to this file")
    args = parser.parse_args()
    rng = random.Random(1)
    placement = [rng.sample(range(1, args.brokers + 1), 3) for _ in range(args.partitions)]
    load_at_start = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory() as tmp,
        MetricsStore(args.store or f"sqlite:///{tmp}/bench.db") as store,
    ):
        start, t0 = 600_000.0, time.perf_counter()
        for r in range(args.rounds):
            ts = start + 12 * r
            rates = {"bytes_in": 1e3, "bytes_out": 2e3, "messages_in": 10.0}
            rows = [
                PartitionSample(ts=ts, topic=f"t{p // 50}", partition=p % 50, broker=b, source="bench",
                                leader=i == 0, size=1e6 * (p % 7 + 1), **(rates if i == 0 else {}))
                for p, replicas in enumerate(placement)
                for i, b in enumerate(replicas)
            ]  # fmt: skip
            store.add_partition_samples("bench", rows)
            store.add_broker_samples(
                "bench",
                [BrokerSample(ts=ts, broker=b, source="bench", cpu=30.0) for b in range(1, args.brokers + 1)],
            )
        written = time.perf_counter() - t0
        rss_before_mb = _rss_mb()
        t0, cpu0 = time.perf_counter(), time.process_time()
        model = build_load_model(store, "bench", now=start + 12 * args.rounds, window_s=60.0, windows=4)
        built, built_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    rows = args.rounds * 3 * args.partitions
    result = {
        "partitions": args.partitions,
        "brokers": args.brokers,
        "rounds": args.rounds,
        "partition_samples": rows,
        "write_s": round(written, 2),
        "rows_per_s": round(rows / written),
        "build_s": round(built, 2),
        "build_cpu_s": round(built_cpu, 2),
        "rss_before_build_mb": round(rss_before_mb, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average_at_start": round(load_at_start, 1),
        "load_average_at_end": round(os.getloadavg()[0], 1),
        "modelled_partitions": len(model.partition_load),
        "valid_windows": model.valid_windows,
        "valid_partition_ratio": model.valid_partition_ratio,
    }
    print(
        f"{rows} partition samples written in {written:.1f}s ({rows / written:.0f}/s); load model of "
        f"{len(model.partition_load)} partitions in {built:.2f}s (cpu {built_cpu:.2f}s), "
        f"{model.valid_windows} valid windows; RSS {rss_before_mb:.0f} MB before the build, "
        f"peak {result['peak_rss_mb']:.0f} MB"
    )
    if args.output:
        args.output.write_text(json.dumps(result, indent=2) + "\n")


def _rss_mb() -> float:
    """The process's resident set now, from /proc (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


if __name__ == "__main__":
    main()
