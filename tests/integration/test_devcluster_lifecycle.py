"""Start-up failures and `down` on their own small clusters: errors carry the log, nothing is left behind."""

from __future__ import annotations

import socket
import subprocess
import sys

import psutil
import pytest

from kafka_medic.devcluster import DevCluster
from kafka_medic.devcluster.ports import HOST, free_ports, port_taken
from kafka_medic.errors import MedicError

pytestmark = pytest.mark.kafka


def test_down_from_another_process_leaves_no_process_port_or_data(tmp_path):
    """Also the one test of a 3-controller quorum."""
    cluster = DevCluster(name="lifecycle", home=tmp_path / "lifecycle", brokers=2, controllers=3, base_port=0)
    cluster.up()
    ports = _ports(cluster)
    assert len(_processes_under(cluster.home)) == 5
    assert [c["alive"] for c in cluster.status()["controllers"]] == [True] * 3
    down = subprocess.run(
        [
            sys.executable,
            "-m",
            "kafka_medic.cli",
            "dev-cluster",
            "down",
            "--name",
            "lifecycle",
            "--home",
            str(cluster.home),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert down.returncode == 0, down.stderr
    assert "dev-cluster 'lifecycle' stopped" in down.stdout
    _assert_nothing_left(cluster.home, ports)
    assert not (cluster.home / "data").exists()
    with pytest.raises(MedicError, match="run `kafka-medic dev-cluster up`"):
        DevCluster.load("lifecycle", cluster.home)


def test_a_broker_that_dies_at_start_up_fails_up_with_its_log_tail_and_cleans_up(tmp_path):
    """The authorizer class is only loaded when the broker starts, so storage formatting still passes."""
    cluster = DevCluster(
        name="broken",
        home=tmp_path / "broken",
        brokers=2,
        base_port=0,
        broker_config={"authorizer.class.name": "org.example.NoSuchAuthorizer"},
    )
    with pytest.raises(MedicError) as failure:
        cluster.up(timeout_s=60)
    lines = str(failure.value).splitlines()
    assert lines[0].startswith("broker-") and "exited during start-up" in lines[0]
    assert "org.example.NoSuchAuthorizer" in str(failure.value)  # Kafka's own complaint, from its log
    assert len(lines) <= 2 + 2 * 30  # a tail, not the whole log
    _assert_nothing_left(cluster.home, [])
    assert not cluster.layout.state_file.exists()


def test_a_config_kafka_rejects_fails_up_at_storage_formatting(tmp_path):
    cluster = DevCluster(
        name="misconfigured", home=tmp_path / "bad", brokers=1, racks=1, base_port=0,
        broker_config={"log.segment.bytes": "not-a-number"},
    )  # fmt: skip
    with pytest.raises(MedicError, match=r"formatting the storage of broker-1 failed:\n(.|\n)*log.segment.bytes"):
        cluster.up()
    _assert_nothing_left(cluster.home, [])


def test_a_cluster_not_ready_in_time_fails_up_with_the_laggards_log_and_cleans_up(tmp_path):
    cluster = DevCluster(name="slow", home=tmp_path / "slow", brokers=1, racks=1, base_port=0)
    with pytest.raises(MedicError, match=r"^broker-1 of dev-cluster 'slow' was not serving within 1 s; "):
        cluster.up(timeout_s=1)
    _assert_nothing_left(cluster.home, [])


def test_a_taken_port_fails_up_naming_the_port_before_starting_anything(tmp_path):
    [port] = free_ports(1)
    with socket.socket() as squatter:
        squatter.bind((HOST, port))
        squatter.listen()
        cluster = DevCluster(name="squatted", home=tmp_path / "squatted", brokers=1, racks=1, base_port=port)
        with pytest.raises(MedicError, match=f"port {port} for broker-1 is already in use"):
            cluster.up()
    _assert_nothing_left(cluster.home, [])


def _ports(cluster: DevCluster) -> list[int]:
    return [p for n in cluster.state.nodes for p in n.ports]


def _processes_under(home) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(str(home) in arg for arg in proc.info["cmdline"] or []):
            found.append(proc)
    return found


def _assert_nothing_left(home, ports: list[int]) -> None:
    assert _processes_under(home) == []
    assert [p for p in ports if port_taken(p)] == []
