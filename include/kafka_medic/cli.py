"""The `kafka-medic` command: one argparse tree, each command group in its own module.

A command module exposes `register(subparsers)`; it adds its sub-command(s) and sets
`func` on them. `func(args)` returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from kafka_medic.errors import MedicError

COMMAND_MODULES = (
    "kafka_medic.devcluster.commands",
    "kafka_medic.kafka.commands",
    "kafka_medic.demo",
    "kafka_medic.metrics.commands",
    "kafka_medic.executor.commands",
    "kafka_medic.planning_commands",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kafka-medic", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except MedicError as exc:
        print(f"kafka-medic: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
