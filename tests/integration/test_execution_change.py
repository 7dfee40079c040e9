"""A running execution's throttle changed from outside (`executor.run.change_options`, as `kafka-medic execution
set` does) reaches the brokers' configs within one poll interval, and is cleared at the end like any other."""

from __future__ import annotations

import threading
import time

import pytest

from kafka_medic.executor import ExecutionOptions, Journal, execute
from kafka_medic.executor.run import change_options
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.units import MB

from .executor_helpers import our_throttles, placed_topic, proposal

pytestmark = pytest.mark.kafka
POLL_S = 5.0
POLL_WORK_S = 5.0  # what one poll reads and writes besides its wait, at load ~10 on 2 cores
RATES = ("leader.replication.throttled.rate", "follower.replication.throttled.rate")


def test_a_throttle_change_is_on_the_brokers_within_one_poll(healthy_kraft_cluster, tmp_path):
    bootstrap = healthy_kraft_cluster.bootstrap
    name = topic = "ex-change"
    placed_topic(bootstrap, topic, [[1, 2], [2, 1]], mb=30)
    config = ClusterConfig(bootstrap, name=name)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    submitted = threading.Event()
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("batch 1: submitted"):
            submitted.set()

    reports: list[dict] = []
    options = ExecutionOptions(throttle=1 * MB, poll_interval_s=POLL_S)
    runner = threading.Thread(target=lambda: reports.append(execute(
        config, proposal(name, topic, {0: ([1, 2], [3, 2]), 1: ([2, 1], [2, 4])}), options, Journal(url), log)),
        daemon=True)
    runner.start()
    assert submitted.wait(120), lines
    brokers = {b: {c: str(MB) for c in RATES} for b in (1, 2, 3, 4)}
    assert read_cluster_state(config).throttles()["brokers"] == brokers  # 1 MB/s: 30 MB take 30 s at least
    with Journal(url) as journal:
        change_options(name, throttle=20 * MB, concurrency=2, journal=journal, log=lines.append)
    changed_at = time.monotonic()
    wanted = {b: {c: str(20 * MB) for c in RATES} for b in brokers}
    seen = None
    while time.monotonic() - changed_at < 3 * (POLL_S + POLL_WORK_S) and seen != wanted:
        seen = read_cluster_state(config).throttles()["brokers"]
        time.sleep(0.2)
    elapsed = time.monotonic() - changed_at
    runner.join(300)
    assert seen == wanted, lines
    assert elapsed <= POLL_S + POLL_WORK_S, (elapsed, lines)
    assert any(line.startswith("throttle changed to 20.0 MB/s on brokers [1, 2, 3, 4]") for line in lines), lines
    assert reports and reports[0]["status"] == "succeeded", lines
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}  # cleared at the end as before
    print(f"throttle change on the brokers after {elapsed:.1f} s (poll interval {POLL_S:.0f} s)")
