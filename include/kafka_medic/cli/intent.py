"""`kafka-medic maintenance` and `kafka-medic brokers`: what operators mean, kept for every later run.

`maintenance on` pauses every automated action on the cluster (the scheduled rebalance, the asset-started
heal, detector-started remediation: each skips, saying why) until `maintenance off`. `brokers exclude`
remembers brokers as decommissioned or demoted, as a decommission or demote DAG run does when it finishes,
so later plans (`kafka-medic plan`, the DAGs) give them nothing; `brokers readd` forgets that. Both write
the store the DAGs read (`kafka_medic.remediation.intent`).
"""

from __future__ import annotations

import argparse
import getpass
import time

from kafka_medic.cli.output import add_json_flag, print_json, print_table
from kafka_medic.cli.values import integer, positive_number
from kafka_medic.limits import INT32_MAX


def register(subparsers) -> None:
    switch = subparsers.add_parser("maintenance", help="pause (on) or resume (off) a cluster's automated actions")
    switch.add_argument("action", choices=("on", "off", "status"))
    switch.add_argument("--reason", default="", help="why: shown in every run it skips")
    _add_cluster_name(switch)
    add_json_flag(switch)
    switch.set_defaults(func=run_maintenance)

    brokers = subparsers.add_parser("brokers", help="brokers remembered as decommissioned or demoted")
    actions = brokers.add_subparsers(dest="action", required=True, metavar="ACTION")
    listed = actions.add_parser("list", help="the remembered brokers")
    add_json_flag(listed)
    exclude = actions.add_parser("exclude", help="remember brokers: later plans give them nothing")
    exclude.add_argument("--as", dest="intent", choices=("decommissioned", "demoted"), default="decommissioned")
    exclude.add_argument("--ttl-hours", type=positive_number(24 * 365.0), help="forget after this long")
    readd = actions.add_parser("readd", help="forget brokers: later plans may use them again")
    for parser in (exclude, readd):
        parser.add_argument("ids", nargs="+", type=integer(0, INT32_MAX), metavar="ID")
    for parser in (listed, exclude, readd):
        _add_cluster_name(parser)
        parser.set_defaults(func=run_brokers)


def _add_cluster_name(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster", default="dev", help="cluster name, as in clusters.json (default: dev)")


def run_maintenance(args: argparse.Namespace) -> int:
    from kafka_medic.remediation.intent import IntentStore

    with IntentStore() as intents:
        if args.action != "status":
            intents.set_maintenance(args.cluster, args.action == "on", args.reason, by=f"cli:{getpass.getuser()}")
        switch = intents.maintenance(args.cluster)
    if args.json:
        print_json({"cluster": args.cluster, "maintenance": switch.as_dict() if switch else None})
    elif switch:
        print(f"cluster {args.cluster}: in maintenance since {format_time(switch.since)} (by {switch.by})"
              + (f": {switch.reason}" if switch.reason else ""))
    else:
        print(f"cluster {args.cluster}: not in maintenance; automated actions run")
    return 0


def run_brokers(args: argparse.Namespace) -> int:
    from kafka_medic.remediation.intent import IntentStore

    with IntentStore() as intents:
        if args.action == "exclude":
            ttl = args.ttl_hours * 3600 if args.ttl_hours else None
            intents.remember(args.cluster, args.ids, args.intent, by=f"cli:{getpass.getuser()}", ttl_s=ttl)
        elif args.action == "readd":
            had = intents.readd(args.cluster, args.ids)
            unknown = sorted(set(args.ids) - set(had))
            if unknown:
                print(f"not remembered: {', '.join(map(str, unknown))}")
        remembered = intents.active(args.cluster)
    if getattr(args, "json", False):
        print_json([i.as_dict() for i in remembered])
    else:
        rows = [(i.broker, i.intent, format_time(i.since), format_time(i.until) if i.until else "until re-added", i.by)
                for i in remembered]
        print_table(rows, ["broker", "intent", "since", "until", "by"])
    return 0


def format_time(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))
