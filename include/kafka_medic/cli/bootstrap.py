"""`kafka-medic bootstrap`: fill the load windows from Prometheus history, so a fresh install can plan at once."""

from __future__ import annotations

import argparse

from kafka_medic.cli.metrics import add_store_arg, add_window_args
from kafka_medic.cli.output import add_json_flag, print_json, print_table
from kafka_medic.cli.target import add_cluster_args, resolve_cluster
from kafka_medic.cli.values import positive_number

SAMPLE_STEP_S = 15.0  # the sample DAG's and `kafka-medic sample`'s interval


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bootstrap", help="fill the metrics store's load windows from Prometheus history (range queries)"
    )
    add_cluster_args(parser)
    add_store_arg(parser)
    parser.add_argument("--prometheus", metavar="URL", required=True, help="the Prometheus server to read history from")
    parser.add_argument("--prometheus-queries", metavar="FILE", help="JSON file overriding the default queries")
    parser.add_argument("--hours", type=positive_number(24 * 14), default=24.0, help="history to fill, hours back (24)")
    parser.add_argument("--step", type=positive_number(), default=SAMPLE_STEP_S, metavar="SECONDS",
                        help=f"between history points: the sampling interval ({SAMPLE_STEP_S:g})")
    add_window_args(parser)
    add_json_flag(parser)
    parser.set_defaults(func=run_bootstrap)


def run_bootstrap(args: argparse.Namespace) -> int:
    from kafka_medic.metrics.bootstrap import bootstrap_cluster, check_hours
    from kafka_medic.metrics.store import MetricsStore

    check_hours(args.hours, args.step)  # before the cluster is contacted
    config, _ = resolve_cluster(args)
    with MetricsStore(args.store) as store:
        report = bootstrap_cluster(store, config.name, config, args.prometheus, args.hours, args.step,
                                   args.window, args.windows, args.min_valid_ratio, args.prometheus_queries)
    if args.json:
        print_json(report)
        return 0
    print_table([[report["cluster"], report["rounds"], report["broker_samples"] + report["partition_samples"],
                  f"{report['valid_windows_before']} -> {report['valid_windows']} of {report['windows']}",
                  report["windows_filled"], f"{report['valid_partition_ratio']:.1%}",
                  "yes" if report["complete"] else "no"]],
                ["cluster", "history points", "samples written", "valid windows", "filled", "partitions complete",
                 "complete"])
    if report["skipped"]:
        print(f"nothing written: {report['skipped']}")
    return 0
