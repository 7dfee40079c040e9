"""The CLI loads only the module of the command it runs, so its command table must match the modules."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

from kafka_medic.cli import COMMANDS


def registered_by(module: str) -> set[str]:
    parser = argparse.ArgumentParser()
    subparsers = parser.add_subparsers()
    importlib.import_module(module).register(subparsers)
    return set(subparsers.choices)


def test_the_command_table_names_each_command_with_the_module_that_registers_it():
    for module in set(COMMANDS.values()):
        assert registered_by(module) == {c for c, m in COMMANDS.items() if m == module}, module


def test_a_light_command_does_not_load_the_planner_or_the_store():
    code = ("import sys; from kafka_medic.cli import build_parser; build_parser('dev-cluster'); "
            "print(sorted(m for m in ('numpy', 'sqlalchemy', 'pandas') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
