"""`kafka-medic demo`: the newcomer's first run.

Starts the local 4-broker dev cluster, creates topics with a deliberately skewed placement,
runs a skewed produce/consume workload, and prints the cluster state the balancer will fix.
"""

from __future__ import annotations

import argparse

from kafka_medic.devcluster import DevCluster
from kafka_medic.devcluster.workload import create_skewed_topics, run_workload
from kafka_medic.kafka.commands import run_state


def register(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="start the dev cluster with a skewed workload and show its state")
    demo.add_argument("--workload-seconds", type=float, default=30.0, help="how long to produce (default 30)")
    demo.add_argument("--rate", type=float, default=500.0, help="total produce rate in KB/s (default 500)")
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    cluster = DevCluster(name="dev")
    cluster.up()
    print(f"dev cluster up: bootstrap {cluster.bootstrap}")
    created = create_skewed_topics(cluster.bootstrap, cluster.broker_ids)
    if created:
        print(f"created skewed topics: {', '.join(created)}")
    print(f"running a skewed workload at {args.rate:.0f} KB/s for {args.workload_seconds:.0f}s ...")
    report = run_workload(cluster.bootstrap, args.workload_seconds, rate_kbps=args.rate)
    print(f"produced {sum(report.produced.values())} messages ({report.bytes_produced / 2**20:.1f} MB), "
          f"consumed {sum(report.consumed.values())}; per topic: {report.produced}\n")
    return run_state(argparse.Namespace(bootstrap=None, zookeeper=None, cluster="dev", json=False))
