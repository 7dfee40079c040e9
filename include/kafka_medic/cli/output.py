"""What CLI commands print and write: every table has a `--json` twin; output files are checked first."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from kafka_medic.errors import MedicError
from kafka_medic.safe_write import UnwritableTarget, check_target
from kafka_medic.tables import format_table


def add_json_flag(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def check_output_file(path: str, option: str = "--output") -> None:
    """Refuse an output file that could not be written before the command does its work (planning a large
    cluster takes minutes): a missing or read-only directory, a directory, a device, a FIFO."""
    try:
        check_target(path)
    except UnwritableTarget as exc:
        raise MedicError(f"{option} {path!r} {exc}") from None


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def print_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    print(format_table(rows, headers))
