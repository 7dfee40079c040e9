"""A real Prometheus server (Debian package `prometheus`) for the tests, on a free loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .kafka_helpers import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_prometheus(directory: Path, scrape_configs: str) -> Iterator[str]:
    """Prometheus scraping every 2 s with `scrape_configs` (YAML list items under `scrape_configs:`); its URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("the prometheus server is not installed (Debian package prometheus)")
    port = free_port()
    config = directory / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 2s\nscrape_configs:\n" + scrape_configs)
    log = (directory / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={directory / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url) or server.poll() is not None, 60, "Prometheus to be ready")
        assert server.poll() is None, (directory / "prometheus.log").read_text()[-2000:]
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
