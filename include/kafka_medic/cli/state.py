"""`kafka-medic state` and `kafka-medic snapshot`: look at a live cluster.

Both include what kafka-medic remembers of it (`kafka_medic.remediation.intent`): `state` shows the
maintenance switch and the brokers remembered as decommissioned or demoted, and the model of `snapshot`
(and so of `plan` and `check` on the live cluster) has those brokers excluded, as the DAGs' plans do.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from kafka_medic.cli.intent import format_time
from kafka_medic.cli.metrics import add_store_arg, add_window_args
from kafka_medic.cli.output import add_json_flag, check_output_file, print_json, print_table
from kafka_medic.cli.target import add_cluster_args, resolve_cluster
from kafka_medic.tables import printable

if TYPE_CHECKING:
    from kafka_medic.kafka.state import ClusterState
    from kafka_medic.model import ClusterModel


def register(subparsers) -> None:
    state = subparsers.add_parser("state", help="brokers, unhealthy partitions, reassignments and throttles")
    add_cluster_args(state)
    add_json_flag(state)
    state.set_defaults(func=run_state)

    snap = subparsers.add_parser("snapshot", help="write the cluster model file of a live cluster")
    snap.add_argument("--output", "-o", required=True, help="model file to write")
    add_snapshot_args(snap)
    snap.set_defaults(func=run_snapshot)


def add_snapshot_args(parser: argparse.ArgumentParser) -> None:
    """Which live cluster to snapshot, and where its loads come from."""
    add_cluster_args(parser)
    parser.add_argument("--capacity", metavar="FILE",
                        help="capacity file (default: log-dir size, 1 Gbit/s, 100%% CPU)")
    parser.add_argument("--require-complete", action="store_true",
                        help="fail unless the metrics store has a complete load model")
    add_store_arg(parser)
    add_window_args(parser)


def run_state(args: argparse.Namespace) -> int:
    from kafka_medic.kafka.reader import read_cluster_state

    config, known = resolve_cluster(args)
    state = read_cluster_state(config, known)
    summary = state_summary(state) | intent_summary(config.name)
    if args.json:
        print_json(summary)
        return 0
    print(printable(f"cluster {state.cluster_id} ({state.mode}), controller {state.controller_id}, "
                    f"taken at {state.taken_at}"))
    print_table(
        [
            (b.id, b.host, b.port, b.rack, "yes" if b.alive else "DEAD", _replica_count(state, b.id),
             round(sum(p.sizes.get(b.id, 0) for p in state.partitions) / 2**20, 1))
            for b in state.brokers.values()
        ],
        ["broker", "host", "port", "rack", "alive", "replicas", "size_mb"],
    )
    print(f"\n{len(state.partitions)} partitions; under-replicated: {len(summary['under_replicated'])}; "
          f"offline: {len(summary['offline'])}; reassigning: {len(summary['reassigning'])}")
    for key in ("under_replicated", "offline", "reassigning"):
        if summary[key]:
            print(printable(f"{key.replace('_', '-')}: {', '.join(summary[key])}"))
    throttles = summary["throttles"]
    if throttles["brokers"] or throttles["topics"]:
        print(printable(f"throttles: {throttles}"))
    if summary["maintenance"]:
        switch = summary["maintenance"]
        print(printable(f"maintenance: on since {format_time(switch['since'])} by {switch['by']}: "
                        f"{switch['reason'] or 'no reason given'} (automated actions paused)"))
    for intent in summary["remembered_brokers"]:
        print(printable(f"broker {intent['broker']}: {intent['intent']} (by {intent['by']}); plans give it nothing "
                        "until `kafka-medic brokers readd`"))
    return 0


def intent_summary(cluster: str) -> dict:
    """The cluster's maintenance switch and remembered brokers, from the store the DAGs share."""
    from kafka_medic.remediation.intent import IntentStore

    with IntentStore() as intents:
        switch, remembered = intents.maintenance(cluster), intents.active(cluster)
    return {"maintenance": switch.as_dict() if switch else None,
            "remembered_brokers": [i.as_dict() for i in remembered]}


def run_snapshot(args: argparse.Namespace) -> int:
    from kafka_medic.model import save_model

    check_output_file(args.output)
    model, summary = live_model(args)
    save_model(model, args.output)
    print(printable(f"wrote {args.output}: {summary}"))
    return 0


def live_model(args: argparse.Namespace) -> tuple[ClusterModel, str]:
    """The live cluster's model (see `kafka_medic.live_model`) and a one-line summary of what it holds; an
    incomplete load model is a warning, or an error with --require-complete."""
    from kafka_medic.kafka.reader import read_cluster_state
    from kafka_medic.live_model import LoadWindows, build_live_model  # pandas: only when a snapshot needs it

    config, known = resolve_cluster(args)
    state = read_cluster_state(config, known)
    windows = LoadWindows(window_s=args.window, windows=args.windows, min_valid_ratio=args.min_valid_ratio)
    model, loads = build_live_model(state, config.name, args.store, windows, args.capacity, args.require_complete)
    remembered = intent_summary(config.name)["remembered_brokers"]
    model.mark_brokers(excluded=[i["broker"] for i in remembered])
    if not loads.complete:
        print(f"warning: {loads.valid_windows} of {loads.windows} load windows are valid; network and CPU loads "
              "are partial or zero (run `kafka-medic sample` for longer)", file=sys.stderr)
    dead = state.dead_brokers
    spared = f"; excluded as remembered: {[i['broker'] for i in remembered]}" if remembered else ""
    return model, (f"{len(model.brokers)} brokers ({len(dead)} dead{': ' + str(dead) if dead else ''}), "
                   f"{len(model.partitions)} partitions; load from {loads.valid_windows} of {loads.windows} "
                   f"valid windows{spared}")


def state_summary(state: ClusterState) -> dict:
    return {
        "cluster_id": state.cluster_id,
        "mode": state.mode,
        "controller_id": state.controller_id,
        "taken_at": state.taken_at,
        "brokers": [
            {"id": b.id, "host": b.host, "port": b.port, "rack": b.rack, "alive": b.alive,
             "replicas": _replica_count(state, b.id)}
            for b in state.brokers.values()
        ],
        "partitions": len(state.partitions),
        "under_replicated": [p.name for p in state.under_replicated_partitions()],
        "offline": [p.name for p in state.offline_partitions()],
        "reassigning": [p.name for p in state.reassigning_partitions()],
        "throttles": state.throttles(),
    }


def _replica_count(state: ClusterState, broker_id: int) -> int:
    return sum(broker_id in p.replicas for p in state.partitions)
