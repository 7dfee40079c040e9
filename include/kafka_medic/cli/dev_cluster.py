"""`kafka-medic dev-cluster ...`: start, inspect, break and stop a local cluster from a shell."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from kafka_medic.cli.output import add_json_flag, print_json, print_table
from kafka_medic.devcluster.cluster import MODES, DevCluster
from kafka_medic.devcluster.ports import DEFAULT_BASE_PORT


def register(subparsers) -> None:
    parser = subparsers.add_parser("dev-cluster", help="run a real local Kafka cluster for the demo and tests")
    commands = parser.add_subparsers(dest="dev_cluster_command", required=True, metavar="SUBCOMMAND")

    up = commands.add_parser("up", help="start the cluster (fetches the Kafka jars once) and wait until it serves")
    _add_location(up)
    up.add_argument("--brokers", type=int, default=4, help="number of brokers (default 4)")
    up.add_argument("--racks", type=int, default=2, help="racks r1..rR assigned round robin (default 2)")
    up.add_argument("--controllers", type=int, default=1, help="KRaft controllers: 1, 3 or 5 (default 1)")
    up.add_argument("--mode", choices=MODES, default="kraft", help="kraft (Kafka 4) or zk (Kafka 3.9 + ZooKeeper)")
    up.add_argument("--log-dirs", type=int, default=1, help="log dirs (disks) per broker, up to 4 (default 1)")
    up.add_argument("--kafka-version", help="Kafka version from Maven Central (default: newest for the mode)")
    up.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_BASE_PORT,
        help=f"brokers listen on BASE+0.., controllers on BASE+100.., JMX on BASE+300.. "
        f"(default {DEFAULT_BASE_PORT}; 0 picks free ports)",
    )
    add_json_flag(up)
    up.set_defaults(func=_up)

    down = commands.add_parser("down", help="stop every process of the cluster and delete its data")
    _add_location(down)
    down.set_defaults(func=_down)

    status = commands.add_parser("status", help="brokers, racks, ports and whether each node is alive")
    _add_location(status)
    add_json_flag(status)
    status.set_defaults(func=_status)

    kill = commands.add_parser("kill-broker", help="SIGKILL one broker, as a crash would")
    _add_location(kill)
    kill.add_argument("broker_id", metavar="ID", type=int)
    kill.set_defaults(func=_kill_broker)

    start = commands.add_parser("start-broker", help="restart a stopped broker on its data and wait for it")
    _add_location(start)
    start.add_argument("broker_id", metavar="ID", type=int)
    start.set_defaults(func=_start_broker)

    fail = commands.add_parser("fail-disk", help="fail one log dir of a broker started with --log-dirs 2+")
    _add_location(fail)
    fail.add_argument("broker_id", metavar="ID", type=int)
    fail.add_argument("--disk", type=int, default=0, help="which of its log dirs, from 0 (default 0)")
    fail.set_defaults(func=_fail_disk)

    add = commands.add_parser("add-broker", help="start a new, empty broker (the next id), as adding a machine")
    _add_location(add)
    add.add_argument("--rack", help="its rack (default: the rack with the fewest brokers)")
    add.set_defaults(func=_add_broker)

    remove = commands.add_parser(
        "remove-broker", help="stop an empty broker for good and unregister it (decommission it first)"
    )
    _add_location(remove)
    remove.add_argument("broker_id", metavar="ID", type=int)
    remove.set_defaults(func=_remove_broker)

    load = commands.add_parser("load", help="produce and consume a skewed workload: load to sample")
    _add_location(load)
    load.add_argument("--duration", type=float, default=300.0, metavar="SECONDS", help="default 300")
    load.add_argument("--rate", type=float, default=500.0, metavar="KBPS", help="total KB/s (default 500)")
    load.add_argument("--message-bytes", type=int, default=1000, help="message size (default 1000)")
    load.add_argument("--no-consume", action="store_true", help="produce only (no bytes out)")
    load.set_defaults(func=_load)


def _add_location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", default="dev", help="cluster name (default dev)")
    parser.add_argument("--home", help="state directory (default $KAFKA_MEDIC_HOME/devcluster/NAME)")


def _up(args) -> int:
    cluster = DevCluster(
        name=args.name,
        home=args.home,
        brokers=args.brokers,
        racks=args.racks,
        controllers=args.controllers,
        mode=args.mode,
        version=args.kafka_version,
        base_port=args.base_port,
        log_dirs=args.log_dirs,
    )
    with _progress():
        cluster.up()
    _print_status(cluster.status(), args.json)
    return 0


def _down(args) -> int:
    cluster = DevCluster(name=args.name, home=args.home)
    with _progress():
        stopped = cluster.down()
    if stopped:
        print(f"dev-cluster {args.name!r} stopped; its data is deleted, logs kept in {cluster.layout.logs_root}")
    else:
        print(f"no dev-cluster {args.name!r} was running")
    return 0


def _status(args) -> int:
    _print_status(DevCluster.load(args.name, args.home).status(), args.json)
    return 0


def _kill_broker(args) -> int:
    with _progress():
        DevCluster.load(args.name, args.home).kill_broker(args.broker_id)
    return 0


def _start_broker(args) -> int:
    with _progress():
        DevCluster.load(args.name, args.home).start_broker(args.broker_id)
    return 0


def _fail_disk(args) -> int:
    path = DevCluster.load(args.name, args.home).fail_disk(args.broker_id, args.disk)
    print(f"broker {args.broker_id}: log dir {path} failed; its replicas there go offline within seconds")
    return 0


def _add_broker(args) -> int:
    cluster = DevCluster.load(args.name, args.home)
    with _progress():
        broker_id = cluster.add_broker(args.rack)
    print(f"broker {broker_id} added, empty; fill it with the add_brokers DAG or `kafka-medic plan` "
          f"(bootstrap now {cluster.bootstrap})")
    return 0


def _remove_broker(args) -> int:
    with _progress():
        DevCluster.load(args.name, args.home).remove_broker(args.broker_id)
    return 0


def _load(args) -> int:
    from kafka_medic.devcluster.workload import create_skewed_topics, run_workload

    cluster = DevCluster.load(args.name, args.home)
    replication = min(3, len(cluster.broker_ids))
    created = create_skewed_topics(cluster.bootstrap, cluster.broker_ids, replication=replication)
    if created:
        print(f"created skewed topics: {', '.join(created)}", file=sys.stderr)
    print(f"producing {args.rate:g} KB/s for {args.duration:g}s (Ctrl-C stops)", file=sys.stderr)
    report = run_workload(
        cluster.bootstrap, args.duration, rate_kbps=args.rate, message_bytes=args.message_bytes,
        consume=not args.no_consume,
    )  # fmt: skip
    print(
        f"produced {sum(report.produced.values())} messages ({report.bytes_produced / 2**20:.1f} MB) in "
        f"{report.seconds:.0f}s, consumed {sum(report.consumed.values())}; per topic: {report.produced}"
    )
    return 0


def _print_status(status: dict, as_json: bool) -> None:
    if as_json:
        print_json(status)
        return
    print(f"dev-cluster {status['name']!r}: Kafka {status['version']} ({status['mode']}), home {status['home']}")
    print(f"bootstrap: {status['bootstrap']}")
    if status["zookeeper_connect"]:
        print(f"zookeeper: {status['zookeeper_connect']}")
    servers = status["controllers"] or [status["zookeeper"]]
    server_role = "controller" if status["controllers"] else "zookeeper"
    rows = [(server_role, s["id"], None, _yes_no(s["alive"]), s["port"], s["pid"], None) for s in servers]
    rows += [
        ("broker", b["id"], b["rack"], _yes_no(b["alive"]), b["port"], b["pid"], b["jmx_url"])
        for b in status["brokers"]
    ]
    print_table(rows, ["ROLE", "ID", "RACK", "ALIVE", "PORT", "PID", "METRICS"])


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "NO"


@contextmanager
def _progress() -> Iterator[None]:
    """Long operations report what they do on stderr, keeping stdout for results (and --json)."""
    logger = logging.getLogger("kafka_medic.devcluster")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    level, logger.level = logger.level, logging.INFO
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
