"""The `kafka-medic` command: one argparse tree, each command group in its own module.

A command module exposes `register(subparsers)`; it adds its sub-command(s) and sets
`func` on them. `func(args)` returns the process exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from kafka_medic.errors import MedicError
from kafka_medic.tables import printable

# command -> the module that registers it. Only the module of the command being run is imported
# (Kafka clients, numpy and SQLAlchemy take seconds to load); help and unknown commands load all.
COMMANDS = {
    "dev-cluster": "kafka_medic.cli.dev_cluster",
    "state": "kafka_medic.cli.state",
    "snapshot": "kafka_medic.cli.state",
    "demo": "kafka_medic.cli.demo",
    "sample": "kafka_medic.cli.metrics",
    "load": "kafka_medic.cli.metrics",
    "bootstrap": "kafka_medic.cli.bootstrap",
    "execute": "kafka_medic.cli.execution",
    "executions": "kafka_medic.cli.execution",
    "execution": "kafka_medic.cli.execution",
    "stop": "kafka_medic.cli.execution",
    "plan": "kafka_medic.cli.planning",
    "check": "kafka_medic.cli.planning",
    "maintenance": "kafka_medic.cli.intent",
    "brokers": "kafka_medic.cli.intent",
    "store": "kafka_medic.cli.store",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser for `command` alone when it is known, else for every command."""
    parser = argparse.ArgumentParser(prog="kafka-medic", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[command]] if command in COMMANDS else dict.fromkeys(COMMANDS.values())
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command).parse_args(argv)
    try:
        return args.func(args) or 0
    except MedicError as exc:
        print(f"kafka-medic: error: {printable(str(exc))}", file=sys.stderr)  # one line, whatever names it quotes
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `kafka-medic state | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail too
        return 1
