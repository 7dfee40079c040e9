"""How long the store and the load model take for a cluster of a given size (synthetic samples).

.venv/bin/python bench/metrics_load_model.py --partitions 2000 --rounds 25
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time

from kafka_medic.metrics.load_model import build_load_model
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MetricsStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=2000)
    parser.add_argument("--brokers", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=25, help="sampling rounds, 12 s apart")
    parser.add_argument("--store", help="store URL (default: a temporary SQLite file)")
    args = parser.parse_args()
    rng = random.Random(1)
    placement = [rng.sample(range(1, args.brokers + 1), 3) for _ in range(args.partitions)]
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
        t0 = time.perf_counter()
        model = build_load_model(store, "bench", now=start + 12 * args.rounds, window_s=60.0, windows=4)
        built = time.perf_counter() - t0
    rows = args.rounds * 3 * args.partitions
    print(
        f"{rows} partition samples written in {written:.1f}s ({rows / written:.0f}/s); load model of "
        f"{len(model.partition_load)} partitions in {built:.2f}s, {model.valid_windows} valid windows"
    )


if __name__ == "__main__":
    main()
