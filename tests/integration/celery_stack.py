"""kafka-medic's production Airflow topology as plain processes, for tests: PostgreSQL and Redis (Debian
packages), then `kafka_medic.airflow.topology`'s components (api-server, scheduler, dag-processor,
triggerer, two Celery workers) with the commands and settings docker-compose.yml runs, so the tests, the
compose file and the code cannot drift apart.

Everything runs under one home (in $KAFKA_MEDIC_HOME when set, where CI's leftover check looks) and each
component in its own session, so `stop()` can end every process it started, also after a failed start.
The REST helpers (`call`, `runs`, `task_states`, ...) are the standalone Airflow's: the API is the same.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
from pathlib import Path

import psutil
from celery import Celery

from kafka_medic.airflow import topology
from kafka_medic.airflow.standalone import AIRFLOW, StandaloneAirflow

from ..postgres_server import PostgresServer
from .kafka_helpers import wait_for
from .servers import free_port, http_status

READY_S = 900  # a loaded CI machine took ~6 min from nothing to two answering workers


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is missing: `make system-packages` installs it (Debian package redis-server)"
    return binary


class CeleryStack(StandaloneAirflow):
    """`start()` runs PostgreSQL, Redis, provisioning and the components, and returns once the api-server
    lists kafka-medic's DAGs, every component reports healthy and both workers answer a Celery ping;
    `stop()` ends them all. `kill_worker`/`start_component` are for the fault tests."""

    def __init__(self, home: Path, clusters: list[dict], connections: dict[str, dict]) -> None:
        super().__init__(home, free_port(), clusters, connections)
        self.postgres: PostgresServer | None = None
        self.redis_port = free_port()
        self.processes: dict[str, subprocess.Popen] = {}
        self.env["AIRFLOW__API_AUTH__JWT_SECRET"] = f"kafka-medic-test-{os.getpid()}"  # shared: workers' task tokens
        self.env["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"] = "1200"  # queued tasks wait for a busy machine

    @property
    def log_path(self) -> Path:  # the scheduler's: `started` prints it on a failure, as the standalone's
        return self.component_log("scheduler")

    def component_log(self, name: str) -> Path:
        return self.home / f"{name}.log"

    @property
    def redis(self) -> str:
        return f"127.0.0.1:{self.redis_port}"

    @property
    def store_url(self) -> str:
        """kafka-medic's store: the same PostgreSQL database as Airflow's metadata."""
        assert self.postgres is not None
        return f"postgresql+psycopg://medic@127.0.0.1:{self.postgres.port}/postgres"

    def celery(self) -> Celery:
        return Celery(broker=f"redis://{self.redis}/0")

    def worker_node(self, worker: str) -> str:
        """The Celery node name of `worker` (its `--celery-hostname`, `%h` expanded as Celery does)."""
        return f"{worker}@{socket.gethostname()}"

    def start(self, timeout_s: float = READY_S) -> None:
        try:
            self._start(timeout_s)
        except BaseException:
            for name in self.processes:
                print(f"--- {name} (last lines)\n{self.component_log(name).read_text(errors='replace')[-3000:]}")
            raise

    def _start(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        self.postgres = PostgresServer().start()
        self._spawn("redis", [redis_binary(), "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(self.home)])
        self.env.update(topology.settings(f"medic@127.0.0.1:{self.postgres.port}/postgres", self.redis, self.url,
                                          str(self.home / "clusters.json")))
        self.env["KAFKA_MEDIC_HOME"] = str(self.home / "medic")
        with self.component_log("provision").open("ab") as out:
            subprocess.run(topology.PROVISION, env=self.env, stdout=out, stderr=subprocess.STDOUT, check=True,
                           timeout=max(deadline - time.monotonic(), 1))
        for component in topology.COMPONENTS:
            if component.name not in topology.NEEDS_API:
                self.start_component(component.name)
        self._wait(self._serving, deadline, "the api-server to list kafka-medic's DAGs")
        for worker in topology.NEEDS_API:
            self.start_component(worker)
        self._wait(self._healthy, deadline, "scheduler, triggerer and dag-processor to report healthy")
        self._wait(lambda: self.workers_answering() == set(topology.WORKERS), deadline, "both workers to answer")

    def start_component(self, name: str) -> None:
        """Run `name` (a topology component) in its own session, logging to `<home>/<name>.log`."""
        [component] = [c for c in topology.COMPONENTS if c.name == name]
        env = dict(self.env)
        if name in topology.WORKERS:
            env[topology.HOSTNAME_ENV] = name
            # Each worker serves its task logs on a port of its own: two on one machine cannot share 8793.
            env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
        self._spawn(name, [str(AIRFLOW), *component.args], env)

    def _spawn(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        with self.component_log(name).open("ab") as out:
            self.processes[name] = subprocess.Popen(command, env=env or self.env, stdout=out, stderr=subprocess.STDOUT,
                                                    start_new_session=True)

    def _wait(self, condition, deadline: float, what: str) -> None:
        def ready():
            exited = {n: p.returncode for n, p in self.processes.items() if p.poll() is not None}
            assert not exited, f"exited while waiting for {what}: {exited}"
            return condition()
        wait_for(ready, max(deadline - time.monotonic(), 1), what, interval=3)

    def _healthy(self) -> bool:
        if http_status(f"{self.url}/api/v2/monitor/health") != 200:
            return False
        try:
            health = self.call("GET", "/monitor/health")
        except (OSError, ValueError, urllib.error.HTTPError):
            return False
        return all(health.get(c, {}).get("status") == "healthy"
                   for c in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    def workers_answering(self, timeout_s: float = 5) -> set[str]:
        """The workers that answer a Celery ping (by component name)."""
        replies = self.celery().control.ping(timeout=timeout_s)
        nodes = {node for reply in replies for node in reply}
        return {w for w in topology.WORKERS if self.worker_node(w) in nodes}

    def process_tree(self, name: str) -> list[psutil.Process]:
        """The component's process and all its descendants (a worker's task processes among them)."""
        process = self.processes[name]
        try:
            root = psutil.Process(process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def kill_component(self, name: str) -> None:
        """SIGKILL the component's whole process tree at once, as a lost machine would end it."""
        tree = self.process_tree(name)
        for proc in tree:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                continue
        psutil.wait_procs(tree, timeout=30)
        self.processes[name].wait(30)

    def stop(self, grace_s: float = 60) -> None:
        """SIGTERM every component's process group, then SIGKILL whatever of their process trees and groups
        is left after `grace_s`; then Redis and PostgreSQL."""
        trees = [p for name in self.processes for p in self.process_tree(name)]
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        _, alive = psutil.wait_procs(trees, timeout=grace_s)
        for proc in alive:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                continue
        for process in self.processes.values():  # a process that left its tree is still in its group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=30)
        for process in self.processes.values():
            process.wait(30)
        if self.postgres is not None:
            self.postgres.close()
