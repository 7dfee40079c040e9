"""`kafka-medic sample` and `kafka-medic load`: fill the metrics store, and see what load it implies.

With no flags both use the running dev cluster (Admin API plus each broker's JMX exporter) and
the default store, so a newcomer needs no configuration.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from kafka_medic.capacity import load_capacities
from kafka_medic.cli.output import add_json_flag, print_json, print_table
from kafka_medic.cli.target import add_cluster_args, resolve_cluster
from kafka_medic.cli.values import fraction, integer, positive_number
from kafka_medic.errors import MedicError
from kafka_medic.tables import printable

if TYPE_CHECKING:
    from kafka_medic.metrics.load_model import LoadModel
    from kafka_medic.metrics.sampling import RoundReport

RESOURCES = ("disk", "nw_in", "nw_out", "cpu")
UNITS = {"disk": "MB", "nw_in": "KB/s", "nw_out": "KB/s", "cpu": "%"}


def add_store_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help="SQLAlchemy URL of the metrics store (default: $KAFKA_MEDIC_STORE_URL, "
        "else sqlite:///$KAFKA_MEDIC_HOME/metrics.db)",
    )


def add_window_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--window", type=positive_number(), default=300.0, metavar="SECONDS",
                        help="window length (300)")
    parser.add_argument("--windows", type=integer(), default=5, help="number of complete windows to use (5)")
    parser.add_argument(
        "--min-valid-ratio", type=fraction(), default=0.95, help="share of partitions that must be complete (0.95)"
    )


def register(subparsers) -> None:
    sample = subparsers.add_parser("sample", help="sample broker and partition load into the metrics store")
    add_cluster_args(sample)
    add_store_arg(sample)
    mode = sample.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one round of rates (two readings), then exit")
    mode.add_argument("--rounds", type=int, help="this many rounds, then exit (default: loop until Ctrl-C)")
    sample.add_argument("--interval", type=float, default=15.0, metavar="SECONDS", help="between rounds (15)")
    sample.add_argument(
        "--retention", type=float, default=24.0, metavar="HOURS", help="prune older samples (24)"
    )
    sample.add_argument(
        "--jmx-url", action="append", default=[], metavar="ID=URL",
        help="a broker's JMX exporter (repeatable; default: the dev cluster's exporters)",
    )  # fmt: skip
    sample.add_argument("--no-jmx", action="store_true", help="sample through the Admin API only")
    sample.add_argument("--prometheus", metavar="URL", help="also query this Prometheus server")
    sample.add_argument(
        "--prometheus-queries", metavar="FILE", help="JSON file overriding the default queries"
    )
    sample.set_defaults(func=run_sample)

    load = subparsers.add_parser(
        "load", help="per-broker utilisation from the metrics store, and how complete"
    )
    load.add_argument("--cluster", default="dev", help="cluster name in the store (default: dev)")
    add_store_arg(load)
    add_window_args(load)
    load.add_argument("--capacity", metavar="FILE", help="capacity file (default: built-in broker capacity)")
    add_json_flag(load)
    load.set_defaults(func=run_load)


def run_sample(args: argparse.Namespace) -> int:
    # Samplers, pandas and SQLAlchemy load here, not when the CLI starts.
    from kafka_medic.metrics.samplers import make_samplers
    from kafka_medic.metrics.sampling import sample_loop
    from kafka_medic.metrics.store import MetricsStore

    jmx_urls = _jmx_urls(args)  # a bad --jmx-url is refused before the cluster is contacted
    config, known = resolve_cluster(args)
    samplers = make_samplers(config, known, jmx_urls, args.prometheus, args.prometheus_queries)
    rounds = 1 if args.once else args.rounds
    names = ", ".join(s.source for s in samplers)
    print(f"sampling cluster {config.name!r} ({names}) every {args.interval:g}s", file=sys.stderr)

    def report(r: RoundReport) -> None:
        print(f"round at {r.ts:.0f}: {r.broker_samples} broker and {r.partition_samples} partition samples")

    with MetricsStore(args.store) as store:
        print(f"store: {store.safe_url}", file=sys.stderr)
        sample_loop(store, config.name, samplers, args.interval, rounds, args.retention * 3600, report)
    return 0


def run_load(args: argparse.Namespace) -> int:
    from kafka_medic.metrics.load_model import build_load_model
    from kafka_medic.metrics.store import MetricsStore

    capacities = load_capacities(args.capacity)
    with MetricsStore(args.store) as store:
        model = build_load_model(
            store,
            args.cluster,
            window_s=args.window,
            windows=args.windows,
            min_valid_ratio=args.min_valid_ratio,
        )
        if not model.partition_load and not args.json:
            print(f"no samples of cluster {args.cluster!r} in {store.safe_url}; run `kafka-medic sample`")
            return 0
    brokers = [_broker_row(model, b, capacities.for_broker(b).as_dict()) for b in model.broker_load]
    if args.json:
        print_json(
            {
                "cluster": model.cluster,
                "brokers": brokers,
                "valid_windows": model.valid_windows,
                "windows": model.windows,
                "window_s": model.window_s,
                "valid_partition_ratio": model.valid_partition_ratio,
                "complete": model.complete,
                "incomplete": {f"{t}-{p}": why for (t, p), why in sorted(model.incomplete.items())},
                "offline": sorted(f"{t}-{p}" for t, p in model.offline),
            }
        )
        return 0
    headers = ["broker", "state"] + [f"{r} {UNITS[r]}" for r in RESOURCES] + [f"{r} util%" for r in RESOURCES]
    print_table(
        [
            [b["id"], b["state"], *(b[r] for r in RESOURCES), *(b["utilisation"][r] for r in RESOURCES)]
            for b in brokers
        ],
        headers,
    )
    print(
        f"\n{model.valid_windows} of {model.windows} windows of {model.window_s:g}s valid; "
        f"{model.valid_partition_ratio:.1%} of {len(model.partition_load) - len(model.offline)} partitions "
        f"complete (need {model.min_valid_ratio:.0%})"
    )
    if not model.complete:
        try:
            model.require_complete()
        except MedicError as exc:
            print(printable(f"not ready to plan: {exc}"))
    return 0


def _broker_row(model: LoadModel, broker: int, capacity: dict[str, float]) -> dict:
    load = model.broker_load[broker]
    status = model.brokers.get(broker)
    return {
        "id": broker,
        **{r: round(load[r], 3) for r in RESOURCES},
        "state": status.state if status else "no fresh samples",
        "last_sample": status.last_sample if status else None,
        "capacity": capacity,
        "utilisation": {r: round(100 * load[r] / capacity[r], 2) for r in RESOURCES},
        "measured": status.measured if status else {},
    }


def _jmx_urls(args: argparse.Namespace) -> dict[int, str]:
    if args.no_jmx:
        return {}
    if args.jmx_url:
        urls = {}
        for item in args.jmx_url:
            broker, sep, url = item.partition("=")
            if not sep or not broker.isdigit() or not url:
                raise MedicError(f"--jmx-url {item!r} is not ID=URL (e.g. 1=http://host:7071/metrics)")
            urls[int(broker)] = url
        return urls
    if args.bootstrap:
        return {}
    from kafka_medic.devcluster import DevCluster

    dev = DevCluster.load(name=args.cluster)
    return {b: dev.jmx_url(b) for b in dev.broker_ids}
