"""The production Airflow deployment, defined once: CeleryExecutor, its components as separate processes,
and the settings they all share.

Two things run it and must not drift apart: `docker-compose.yml` (one service per component, the same
command, the same settings) and a process-level stack (the same components as plain processes on
PostgreSQL and Redis, for tests). `tests/unit/test_compose.py` checks the compose file against this list.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

# Each worker names itself, so a task instance's `hostname` says which worker ran it. In compose each is a
# container with that hostname; as processes on one machine they share one, hence `worker_hostname`.
WORKERS = ("worker-1", "worker-2")
HOSTNAME_ENV = "KAFKA_MEDIC_AIRFLOW_HOSTNAME"


@dataclass(frozen=True)
class Component:
    name: str  # its compose service is `airflow-<name>`
    args: tuple[str, ...]  # the `airflow` subcommand that runs it

    @property
    def service(self) -> str:
        return f"airflow-{self.name}"


COMPONENTS = (
    Component("api-server", ("api-server",)),
    Component("scheduler", ("scheduler",)),
    Component("dag-processor", ("dag-processor",)),
    Component("triggerer", ("triggerer",)),
    # One task at a time per worker: two tasks of one DAG never share a worker by accident of free slots,
    # and a killed worker takes exactly one task with it.
    *(Component(w, ("celery", "worker", "--celery-hostname", f"{w}@%h", "--concurrency", "1")) for w in WORKERS),
)
# Workers run tasks through the api-server's Execution API: they start once it answers, or their first
# tasks fail on a refused connection.
NEEDS_API = WORKERS

# `airflow db migrate`, the `kafka` connections and one pool per cluster, before any component starts.
PROVISION = ("python", "-m", "kafka_medic.airflow.provision")


def settings(database: str, redis: str, api_url: str, clusters_file: str) -> dict[str, str]:
    """The environment every component shares, given where PostgreSQL (`user:password@host:port/db`),
    Redis (`host:port`), the api-server and clusters.json are. kafka-medic's store (metrics, journal,
    action log) is the same PostgreSQL database as Airflow's metadata, in tables of its own."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg://{database}",
        # psycopg 3 is async too; Airflow's default async driver for PostgreSQL (asyncpg) is not installed
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": f"postgresql+psycopg://{database}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://{redis}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg://{database}",
        # Workers fetch one message at a time: a queued task waits in Redis for a free worker, not in a
        # busy worker's prefetch buffer.
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url}/execution/",
        # A task reports to the api-server over HTTP; Airflow's 5 s default fails tasks of a busy deployment.
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "kafka_medic.airflow.topology.worker_hostname",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # A task whose worker died stops heartbeating; after this long the scheduler fails the try and the
        # retry goes to a live worker (Airflow's default, 300 s, leaves a heal standing for five minutes).
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
        "KAFKA_MEDIC_CLUSTERS": clusters_file,
        "KAFKA_MEDIC_STORE_URL": f"postgresql+psycopg://{database}",
    }


def worker_hostname() -> str:
    """Airflow's `hostname_callable`: the component's name where several run on one machine, else the host's."""
    return os.environ.get(HOSTNAME_ENV) or socket.getfqdn()
