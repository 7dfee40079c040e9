"""docker-compose.yml's Airflow as plain processes: the tests' production-shaped stack.

PostgreSQL (tests/postgres_server.py) holds Airflow's metadata, Celery's results and kafka-medic's store;
redis-server (Debian package) is Celery's broker; every component of `kafka_medic.airflow.topology`
(api-server, scheduler, dag-processor, triggerer, two Celery workers) runs as its own process with the
topology's command and settings, after the same provisioning step as compose's `airflow-init`. So what
these tests show of the CeleryExecutor (tasks spread over workers, a dead worker's task retried on the
other) is what the compose file deploys. No Docker engine is needed.

Each component leads a process group of its own: `kill_worker` SIGKILLs one worker with every process it
started, as a worker machine dying does, and `stop` leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil

from kafka_medic.airflow import topology
from kafka_medic.airflow.standalone import AIRFLOW, StandaloneAirflow

from ..postgres_server import PostgresServer
from .kafka_helpers import wait_for
from .servers import free_port


@contextmanager
def running_redis(directory: Path) -> Iterator[str]:
    """redis-server on a free loopback port, nothing persisted; its `host:port`."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (Debian package redis-server; .ci/install-system-packages)"
    port = free_port()
    log = (directory / "redis.log").open("wb")
    server = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory),
                               "--save", "", "--appendonly", "no"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _redis_pong(port) or server.poll() is not None, 30, "redis-server")
        assert server.poll() is None, (directory / "redis.log").read_text()
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class CeleryAirflow(StandaloneAirflow):
    """The topology's components as processes, with `StandaloneAirflow`'s REST helpers.

    Connections come from a file, imported by the provisioning step as compose imports deploy's."""

    def __init__(self, home: Path, clusters: list[dict], connections: dict[str, dict], database: str,
                 redis: str) -> None:
        super().__init__(home, free_port(), clusters, {})
        (self.home / "connections.json").write_text(json.dumps(connections))
        self.env.update(topology.settings(database=database, redis=redis, api_url=self.url,
                                          clusters_file=str(self.home / "clusters.json")))
        # Every component signs and checks the workers' task tokens with the same key, as compose sets.
        self.env["AIRFLOW__API_AUTH__JWT_SECRET"] = secrets.token_hex(32)
        self.processes: dict[str, subprocess.Popen] = {}

    @property
    def log_path(self) -> Path:
        """The components' logs, one after another (what `started` prints on a failure)."""
        merged = self.home / "components.log"
        merged.write_text("".join(f"==> {name}\n{self._log(name).read_text(errors='replace')[-3000:]}\n"
                                  for name in ("provision", *self.processes)))
        return merged

    def start(self, timeout_s: float = 600) -> None:
        """Provision, start every component, and return once the API lists kafka-medic's DAGs and both
        workers have said they are ready."""
        with self._log("provision").open("ab") as out:
            subprocess.run([str(AIRFLOW.parent / topology.PROVISION[0]), *topology.PROVISION[1:], "--connections",
                            str(self.home / "connections.json")], env=self.env, check=True, stdout=out,
                           stderr=subprocess.STDOUT, timeout=timeout_s)
        for component in topology.COMPONENTS:
            if component.name in topology.NEEDS_API:
                wait_for(self._serving, timeout_s, "the api-server", interval=2)
            env = {**self.env, topology.HOSTNAME_ENV: component.name}
            if component.name in topology.WORKERS:  # each worker serves its task logs on a port of its own
                env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
            with self._log(component.name).open("ab") as out:
                self.processes[component.name] = subprocess.Popen(
                    [str(AIRFLOW), *component.args], env=env, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True)
        self.process = self.processes["api-server"]

        def ready() -> bool:
            dead = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
            assert not dead, f"exited: {dead}"
            return self._serving() and all(f"{w}@" in self._log(w).read_text(errors="replace") and
                                           " ready." in self._log(w).read_text(errors="replace")
                                           for w in topology.WORKERS)
        wait_for(ready, timeout_s, "the Celery stack to serve the DAGs with both workers ready", interval=2)

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILL the worker and every process it started (its pool, the task supervisors, the tasks)."""
        worker = psutil.Process(self.processes[name].pid)
        victims = [worker, *worker.children(recursive=True)]
        for proc in victims:
            proc.kill()
        self.processes[name].wait(30)
        return [p.pid for p in victims]

    def stop(self, grace_s: float = 60) -> None:
        """SIGTERM every component's group; SIGKILL whatever of them, or of what they started (a task
        process may lead a session of its own), is left after `grace_s`."""
        family = []
        for proc in self.processes.values():
            with suppress(psutil.Error):
                leader = psutil.Process(proc.pid)
                family += [leader, *leader.children(recursive=True)]
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(family, timeout=grace_s)
        for proc in alive:
            with suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=30)
        for proc in self.processes.values():
            proc.wait(30)

    def _log(self, name: str) -> Path:
        return self.home / f"{name}.log"


@contextmanager
def celery_stack(directory: Path, clusters: list[dict], connections: dict[str, dict]) -> Iterator[CeleryAirflow]:
    """PostgreSQL, Redis and the Celery Airflow on them (not yet started: see `servers.started`); all
    stopped afterwards. kafka-medic's store is that PostgreSQL (`$KAFKA_MEDIC_STORE_URL`)."""
    with PostgresServer() as postgres, running_redis(directory) as redis:
        database = postgres.url.removeprefix("postgresql://")
        yield CeleryAirflow(directory / "airflow", clusters, connections, database, redis)
