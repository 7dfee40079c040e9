"""Prepare an Airflow deployment for kafka-medic before its components start: migrate the metadata
database, import the clusters' `kafka` connections, and create each cluster's one-slot pool.

    python -m kafka_medic.airflow.provision [--connections connections.json]

docker-compose's `airflow-init` service runs this, and so does the tests' process-level stack, so both
start from the same state. It runs `airflow` commands rather than Airflow's internals (the commands are the
interface Airflow keeps stable across releases), through Airflow's own command parser in this one process:
importing Airflow costs seconds, and more on a busy machine, so it is imported once, not per command.
Every step is idempotent: a restarted deployment runs it again.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from kafka_medic.airflow.clusters import load_clusters

DEFAULT_CLUSTERS = Path(__file__).resolve().parents[3] / "dags" / "clusters.json"


def pools(clusters_file: str | Path = DEFAULT_CLUSTERS) -> dict[str, dict]:
    """`airflow pools import`'s file: one slot per cluster, so two executions never overlap on one."""
    return {c.pool: {"slots": 1, "description": "one execution at a time on this cluster", "include_deferred": False}
            for c in load_clusters(clusters_file)}


def provision(connections: Path | None = None) -> None:
    from airflow.cli.cli_parser import get_parser  # Airflow only here: `pools` is imported by tests without it

    parser = get_parser()

    def airflow(*argv: str) -> None:
        args = parser.parse_args(argv)
        args.func(args)

    airflow("db", "migrate")
    if connections is not None:
        airflow("connections", "import", "--overwrite", str(connections))
    with tempfile.NamedTemporaryFile("w", suffix=".json") as file:
        json.dump(pools(), file)
        file.flush()
        airflow("pools", "import", file.name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kafka_medic.airflow.provision", description=__doc__)
    parser.add_argument("--connections", type=Path, help="an `airflow connections import` file")
    provision(parser.parse_args(argv).connections)


if __name__ == "__main__":
    main()
