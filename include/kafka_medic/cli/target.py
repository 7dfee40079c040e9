"""Which cluster a CLI command talks to: `--bootstrap` if given, else the running dev cluster.

Every command that talks to a cluster resolves it here, and the first contact is made here too, so an
unreachable address fails the command within seconds, before any other client waits on it.
"""

from __future__ import annotations

import argparse

from kafka_medic.kafka.admin import check_reachable
from kafka_medic.kafka.config import ClusterConfig


def add_cluster_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap", metavar="HOST:PORT[,...]", help="bootstrap servers (default: the dev cluster)")
    parser.add_argument("--zookeeper", metavar="HOST:PORT", help="ZooKeeper connect string (ZooKeeper-mode clusters)")
    parser.add_argument("--cluster", default="dev", help="cluster name (default: dev)")


def resolve_cluster(args: argparse.Namespace) -> tuple[ClusterConfig, dict[int, str | None]]:
    """The connection config and the brokers known to exist (id -> rack), from flags or the dev cluster;
    MedicError when no broker answers."""
    if args.bootstrap:
        config = ClusterConfig.from_env(args.bootstrap, name=args.cluster)
        if args.zookeeper:
            config = ClusterConfig(**{**config.__dict__, "zookeeper": args.zookeeper})
        check_reachable(config)
        return config, {}
    from kafka_medic.devcluster import DevCluster

    dev = DevCluster.load(name=args.cluster)
    status = dev.status()
    config = ClusterConfig(bootstrap=dev.bootstrap, name=args.cluster, zookeeper=dev.zookeeper_connect)
    check_reachable(config)
    return config, {b["id"]: b.get("rack") for b in status["brokers"]}
