"""The metrics store (PostgreSQL) stopped while `sample` writes, and stopped or paused when `plan` reads it.

Each command must end within a bound with a one-line error and a non-zero exit, write nothing half
(no sampling round with broker samples but no partition samples; no proposal file), and work again
once the server is back. A paused postmaster takes connections and never answers them: the store's
connect timeout bounds that. (A query already running on a backend that is itself SIGSTOPped has no
client-side bound: psycopg has no query timeout, and the kernel still acknowledges, so TCP timeouts
never fire; docs/faults.md lists it as open.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from kafka_medic.metrics.store import MetricsStore

from ..integration.kafka_helpers import create_topic, wait_for
from ..postgres_server import PostgresServer

BOUND_S = 120  # a command that meets a dead or silent store must have said so by then (CI load included)


@pytest.fixture
def store():
    """A PostgreSQL server of the test's own: the session's is shared by tests that need it up."""
    with PostgresServer() as server:
        yield server


class Command:
    """`kafka-medic ARGS` in a child process; stdout and stderr collected apart."""

    def __init__(self, tmp_path, *args: str) -> None:
        env = {**os.environ, "KAFKA_MEDIC_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
        self.started = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, "-m", "kafka_medic.cli", *args], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out: list[str] = []
        self._reader = threading.Thread(target=lambda: self.out.extend(self.proc.stdout), daemon=True)
        self._reader.start()

    def finish(self, timeout: float = BOUND_S) -> tuple[int, str, float]:
        """Exit code, stderr and seconds taken; a command still running after `timeout` fails the test."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"kafka-medic {self.proc.args[3:]} still running {timeout} s after the store went away")
        self._reader.join(10)
        return code, self.proc.stderr.read(), time.monotonic() - self.started


def one_line_error(stderr: str) -> str:
    """The error, which must be stderr's last line and its only line about the failure."""
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("kafka-medic: error:") and "Traceback" not in stderr, stderr
    assert stderr.count("kafka-medic: error:") == 1 and "store" in last, stderr
    return last


def half_rounds(url: str) -> int:
    """Admin sampling rounds (timestamps) with broker samples but no partition samples."""
    with MetricsStore(url) as metrics, metrics.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "select count(distinct b.ts) from broker_samples b where b.source = 'admin' and not exists "
            "(select 1 from partition_samples p where p.ts = b.ts and p.cluster_id = b.cluster_id)")).scalar()
    return int(rows or 0)


def test_store_stopped_during_sampling(whole_cluster, store, tmp_path, record):
    record.fault = "PostgreSQL stopped (fast shutdown) under a running `sample`, started again"
    bootstrap = whole_cluster.bootstrap
    create_topic(bootstrap, "fault-sample", partitions=8)
    args = ["sample", "--bootstrap", bootstrap, "--cluster", "faults", "--store", store.url, "--no-jmx"]
    sampler = Command(tmp_path, *args, "--interval", "0.5", "--rounds", "10000")
    wait_for(lambda: len(sampler.out) >= 3 or sampler.proc.poll() is not None, 60, "three sampling rounds")
    store.stop()
    code, stderr, took = sampler.finish()
    record.outcome = f"exit {code} after {len(sampler.out)} rounds, {took:.0f} s: {stderr.strip().splitlines()[-1]}"
    assert code != 0
    one_line_error(stderr)
    store.start()
    assert half_rounds(store.url) == 0
    again = Command(tmp_path, *args, "--once")
    code, stderr, _ = again.finish()
    assert code == 0, stderr


@pytest.mark.parametrize("how", ["stopped", "paused"])
def test_store_gone_during_planning(whole_cluster, store, tmp_path, record, how):
    record.fault = (f"PostgreSQL {how} ({'fast shutdown' if how == 'stopped' else 'postmaster SIGSTOPped'}) "
                    "when `plan` reads it, started again")
    bootstrap = whole_cluster.bootstrap
    output = tmp_path / "proposal.json"
    args = ["plan", "--bootstrap", bootstrap, "--cluster", "faults", "--store", store.url, "-o", str(output)]
    store.stop() if how == "stopped" else store.pause()
    code, stderr, took = Command(tmp_path, *args).finish()
    record.outcome = f"exit {code} in {took:.0f} s: {stderr.strip().splitlines()[-1]}"
    assert code != 0
    one_line_error(stderr)
    assert not output.exists() and list(tmp_path.glob("proposal*")) == []
    store.resume() if how == "paused" else store.start()
    code, stderr, _ = Command(tmp_path, *args).finish()
    assert code == 0, stderr
    assert output.exists()
