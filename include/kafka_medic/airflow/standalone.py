"""A local `airflow standalone` serving kafka-medic's DAGs and plugin, for the demo and the end-to-end test.

Scheduler, DAG processor, triggerer and api-server on SQLite, under their own home and process group so
that stopping it stops all of them. It runs with Airflow's all-admins auth (no login): only for a local
machine, which is why the API listens on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psutil

from kafka_medic.errors import MedicError

ROOT = Path(__file__).resolve().parents[3]
AIRFLOW = Path(sys.executable).parent / "airflow"
CALL_ATTEMPTS = 5  # REST calls that may be repeated (see StandaloneAirflow.call)
# The field of a POST's body that names what it creates (a run, a connection, a pool): such a POST may be repeated.
CREATED_KEYS = ("dag_run_id", "connection_id", "name")


class StandaloneAirflow:
    def __init__(self, home: Path, port: int, clusters: list[dict], connections: dict[str, dict]) -> None:
        self.home, self.port = Path(home), port
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "clusters.json").write_text(json.dumps({"clusters": clusters}))
        self.env = {
            **os.environ,
            "PATH": f"{AIRFLOW.parent}{os.pathsep}{os.environ.get('PATH', '')}",  # standalone runs `airflow ...`
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
            "KAFKA_MEDIC_CLUSTERS": str(self.home / "clusters.json"),
            **{f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn) for conn_id, conn in connections.items()},
        }
        self.env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
        self.pools = [f"kafka_medic__{c['name']}" for c in clusters]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "standalone.log"

    def start(self, timeout_s: float = 600) -> None:
        """Start it, wait until the API lists kafka-medic's DAGs, and create each cluster's one-slot pool."""
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen([str(AIRFLOW), "standalone"], env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while not self._serving():
            if self.process.poll() is not None:
                raise MedicError(f"airflow standalone exited ({self.process.returncode}); see {self.log_path}")
            if time.monotonic() > deadline:
                raise MedicError(f"airflow standalone not ready after {timeout_s:.0f}s; see {self.log_path}")
            time.sleep(2)
        for pool in self.pools:
            self._create_pool(pool)

    def stop(self, grace_s: float = 60) -> None:
        """Stop every process it started: SIGTERM to the group, SIGKILL to what is left after `grace_s`.
        Returns once the whole group is gone, not just `airflow standalone` (its scheduler and workers
        can outlive it by seconds)."""
        if self.process is None:
            return
        group = self.process.pid
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace_s
        while _group_alive(self.process) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _group_alive(self.process):
            os.killpg(group, signal.SIGKILL)
            self.process.wait(30)

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """The REST API (v2) at `path`, as JSON.

        Standalone Airflow keeps its metadata in SQLite: on a busy machine a request may meet the
        database locked (a 500) or answer late. Requests that may be repeated are tried up to
        CALL_ATTEMPTS times, each bounded to 60 s: all but POST, and a POST that names what it creates
        (a DAG run, given its run id here, a connection, a pool), so that a repeat cannot create a second
        one: a repeat after a first attempt that did create it meets 409 Conflict and returns that one.
        """
        if method == "POST" and path.endswith("/dagRuns") and body is not None and "dag_run_id" not in body:
            body = body | {"dag_run_id": f"manual__{datetime.now(UTC).isoformat()}"}  # Airflow's own form
        named = created_name(body) if method == "POST" and body else None
        attempts, attempt = (CALL_ATTEMPTS if method != "POST" or named is not None else 1), 1
        data = json.dumps(body).encode() if body is not None else None
        while True:
            request = urllib.request.Request(f"{self.url}/api/v2{path}", method=method, data=data,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as exc:
                if exc.code == 409 and attempt > 1 and named is not None:
                    return self.call("GET", f"{path}/{quote(named, safe='')}")
                if exc.code < 500 or attempt >= attempts:
                    raise
            except TimeoutError:
                if attempt >= attempts:
                    raise
            attempt += 1
            time.sleep(2)

    def runs(self, dag_id: str) -> list[dict]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns?order_by=-run_after")["dag_runs"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        tis = self.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti["state"] for ti in tis}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> list[dict]:
        """The task try's log records (dicts with `event`, `level`, and `error_detail` on a failure)."""
        path = f"/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}/logs/{try_number}?full_content=true"
        return [line if isinstance(line, dict) else {"event": str(line)} for line in self.call("GET", path)["content"]]

    def awaiting_input(self, dag_id: str, run_id: str, task_id: str) -> bool:
        """The human-in-the-loop task waits for an answer, and the scheduler has seen its worker exit.

        Answer only then: an answer given before it loses a race inside Airflow 3.3 (apache/airflow#71579)
        where the scheduler takes the parked worker's exit for the resumed task's and fails that try, so
        the retry asks again. A person is slower than that; a test or a script must wait for it.
        """
        if self.task_states(dag_id, run_id).get(task_id) != "awaiting_input":
            return False
        seen = re.escape(f"TaskInstance Finished: dag_id={dag_id}, task_id={task_id}, run_id={run_id},")
        return re.search(seen + r"[^\n]*state=awaiting_input", self.log_path.read_text(errors="replace")) is not None

    def _create_pool(self, pool: str) -> None:
        """The pool, unless it is there already (a restarted demo). `call` repeats the POST while SQLite is
        locked (a 500), and a repeat after one that did create the pool meets 409 and returns it."""
        body = {"name": pool, "slots": 1, "description": "one execution at a time on this cluster"}
        try:
            self.call("POST", "/pools", body)
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise MedicError(f"creating pool {pool} failed: {exc}; see {self.log_path}") from exc

    def _serving(self) -> bool:
        try:
            return self.call("GET", "/dags?dag_id_pattern=kafka_medic__")["total_entries"] > 0
        except (OSError, ValueError):
            return False


def created_name(body: dict) -> str | None:
    """The name a POST body gives what it creates (a run id, a connection id, a pool name), if any."""
    return next((body[k] for k in CREATED_KEYS if k in body), None)


def _group_alive(process: subprocess.Popen) -> bool:
    """Whether a process of the group `process` leads still runs (zombies aside; its own exit is reaped)."""
    process.poll()
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == process.pid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False
