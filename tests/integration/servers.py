"""Real servers the tests start as plain processes on free loopback ports: Prometheus, Airflow, or any command."""

from __future__ import annotations

import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kafka_medic.airflow.standalone import StandaloneAirflow

from .kafka_helpers import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_status(url: str, headers: dict[str, str] | None = None) -> int:
    """The status of a GET of `url`; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@contextmanager
def running_server(command: list[str], log_path: Path, ready_url: str, timeout_s: float,
                   env: dict[str, str] | None = None) -> Iterator[None]:
    """Run `command` (output to `log_path`) until the block ends; enter once `ready_url` answers 200."""
    log = log_path.open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: http_status(ready_url) == 200 or server.poll() is not None, timeout_s, command[0])
        assert server.poll() is None, log_path.read_text(errors="replace")[-3000:]
        yield
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()


@contextmanager
def running_prometheus(directory: Path, scrape_configs: str) -> Iterator[str]:
    """Prometheus (Debian package `prometheus`) scraping every 2 s with `scrape_configs` (the YAML list
    items under `scrape_configs:`); its URL."""
    binary = shutil.which("prometheus")
    assert binary, "the prometheus server is missing: `make system-packages` installs it (Debian package prometheus)"
    url = f"http://127.0.0.1:{free_port()}"
    config = directory / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 2s\nscrape_configs:\n" + scrape_configs)
    command = [binary, f"--config.file={config}", f"--storage.tsdb.path={directory / 'tsdb'}",
               f"--web.listen-address={url.removeprefix('http://')}"]
    with running_server(command, directory / "prometheus.log", f"{url}/-/ready", 60):
        yield url


@contextmanager
def started(airflow: StandaloneAirflow, paused: Iterable[str] = ()) -> Iterator[StandaloneAirflow]:
    """`airflow` started, with the DAGs `paused` (ids) paused at once, and stopped after the block; if
    starting or the block fails, the tail of its log is printed, the only trace of a scheduler-side cause."""
    try:
        airflow.start()
        for dag_id in paused:
            airflow.call("PATCH", f"/dags/{dag_id}", {"is_paused": True})
        yield airflow
    except BaseException:
        print(airflow.log_path.read_text(errors="replace")[-6000:])
        raise
    finally:
        airflow.stop()
