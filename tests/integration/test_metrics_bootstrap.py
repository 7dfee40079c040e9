"""Bootstrap from a real Prometheus scraping a real KRaft cluster: a fresh store's load model is complete at once."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.metrics.admin_sampler import AdminSampler
from kafka_medic.metrics.load_model import build_load_model
from kafka_medic.metrics.prometheus_sampler import DEFAULT_QUERIES, PrometheusSampler
from kafka_medic.metrics.store import MetricsStore

from .kafka_helpers import wait_for
from .test_metrics_samplers import TOPICS, cluster, prometheus, workload  # noqa: F401 (fixtures)

pytestmark = pytest.mark.kafka

WINDOW_S, WINDOWS, STEP_S = 15.0, 3, 5.0
HISTORY_S = 75.0  # Prometheus's history when bootstrap runs: three 15 s windows and the rate's first minute


def bootstrap(cluster, store_url: str, prometheus_url: str, hours: float) -> subprocess.CompletedProcess:  # noqa: F811
    command = [sys.executable, "-m", "kafka_medic.cli", "bootstrap", "--bootstrap", cluster.bootstrap,
               "--cluster", "boot", "--store", store_url, "--prometheus", prometheus_url, "--hours", f"{hours:.4f}",
               "--step", f"{STEP_S:g}", "--window", f"{WINDOW_S:g}", "--windows", str(WINDOWS), "--json"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def scraped(cluster, prometheus_url: str) -> bool:  # noqa: F811 (the fixture, passed in)
    """Whether Prometheus has, for every partition of the workload, its size and its topic's bytes-in rate on
    its leader: what a window needs of each partition to count it valid."""
    config = ClusterConfig(cluster.bootstrap)
    server = PrometheusSampler(prometheus_url, AdminSampler(config))
    now = time.time()
    rated = {(r["broker"], r["topic"]) for r, v in server.query(DEFAULT_QUERIES["topic"]["bytes_in"], now) if v > 0}
    sized = {(r["broker"], r["topic"], r["partition"]) for r, _ in server.query(DEFAULT_QUERIES["size"], now)}
    loaded = [p for p in read_cluster_state(config).partitions if p.topic in {t.name for t in TOPICS}]
    return all((str(p.leader), p.topic) in rated and (str(p.leader), p.topic, str(p.partition)) in sized
               for p in loaded)


def test_bootstrap_fills_every_window_at_once_and_twice_writes_nothing(cluster, prometheus, workload, tmp_path):  # noqa: F811
    url = f"sqlite:///{tmp_path / 'boot.db'}"
    # The history starts once every partition shows in Prometheus: the workload's producer and the first
    # scrapes take seconds to start on a loaded machine (CI: one partition missing from the first window).
    wait_for(lambda: scraped(cluster, prometheus), 60, "every workload partition's rate and size in Prometheus")
    started = time.monotonic()
    time.sleep(HISTORY_S)  # the workload runs while Prometheus scrapes: this is the history
    with MetricsStore(url) as store:
        before = build_load_model(store, "boot", window_s=WINDOW_S, windows=WINDOWS)
    assert not before.complete and before.valid_windows == 0  # a fresh store

    done = bootstrap(cluster, url, prometheus, hours=(time.monotonic() - started) / 3600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    print({k: report[k] for k in ("rounds", "broker_samples", "partition_samples", "valid_windows", "windows_filled",
                                   "valid_partition_ratio")})
    if not report["complete"]:  # fail saying which partitions miss which windows, and why
        with MetricsStore(url) as store:
            build_load_model(store, "boot", window_s=WINDOW_S, windows=WINDOWS).require_complete()
    assert report["complete_before"] is False and report["complete"] is True
    assert report["valid_windows"] == WINDOWS and report["windows_filled"] == WINDOWS
    assert report["rounds"] >= HISTORY_S / STEP_S - 2 and report["partition_samples"] > 0
    with MetricsStore(url) as store:
        model = build_load_model(store, "boot", window_s=WINDOW_S, windows=WINDOWS)
        model.require_complete()
        heavy = max(model.partition_load.items(), key=lambda item: item[1]["nw_in"])
        assert heavy[0][0].startswith("metrics-") and heavy[1]["nw_in"] > 0  # the workload's topics carry the load
        stored = len(store.partition_samples("boot", 0, time.time() + 1))

    again = bootstrap(cluster, url, prometheus, hours=HISTORY_S / 2 / 3600)  # a span the first run filled
    assert again.returncode == 0, again.stderr[-3000:]
    repeated = json.loads(again.stdout)
    assert repeated["partition_samples"] == 0 and "already holds" in repeated["skipped"]
    with MetricsStore(url) as store:
        assert len(store.partition_samples("boot", 0, time.time() + 1)) == stored


def test_bootstrap_from_an_unreachable_prometheus_is_a_one_line_error(cluster, tmp_path):  # noqa: F811
    for bad, said in (("http://127.0.0.1:9", "cannot reach Prometheus at http://127.0.0.1:9"),
                      ("not-a-url", "cannot reach Prometheus at not-a-url")):
        done = bootstrap(cluster, f"sqlite:///{tmp_path / 'bad.db'}", bad, hours=1)
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1 and said in done.stderr, done.stderr
