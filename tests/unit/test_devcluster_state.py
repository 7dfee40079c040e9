"""The dev cluster's state file: what another process needs to find and stop the cluster."""

from __future__ import annotations

import json

import pytest

from kafka_medic.devcluster.state import ClusterState, Layout, Node, default_home, load_state, save_state
from kafka_medic.errors import MedicError


def state() -> ClusterState:
    return ClusterState(
        name="dev",
        mode="kraft",
        version="4.4.0",
        cluster_id="AAAAAAAAAAAAAAAAAAAAAA",
        libs="/libs",
        jmx_agent="/agent.jar",
        nodes=[
            Node("controller-1000", "controller", 1000, 19192),
            Node("broker-1", "broker", 1, 19092, jmx_port=19392, rack="r1", pid=123, pid_started=1.5),
            Node("broker-2", "broker", 2, 19093, jmx_port=19393, rack="r2"),
        ],
    )


def test_state_round_trips_through_the_json_file(tmp_path):
    layout = Layout(tmp_path / "dev")
    save_state(layout, state())
    assert load_state(layout) == state()
    assert [p.name for p in layout.home.iterdir()] == ["state.json"]  # the temp file was renamed away


def test_missing_state_means_not_running(tmp_path):
    assert load_state(Layout(tmp_path)) is None


def test_state_from_another_format_version_is_an_error_naming_the_file(tmp_path):
    layout = Layout(tmp_path)
    layout.state_file.write_text(json.dumps({"state_version": 99}))
    with pytest.raises(MedicError, match="state.json"):
        load_state(layout)


def test_brokers_servers_and_bootstrap():
    s = state()
    assert [n.node_id for n in s.brokers] == [1, 2]
    assert [n.name for n in s.servers] == ["controller-1000"]
    assert s.bootstrap == "127.0.0.1:19092,127.0.0.1:19093"
    assert s.broker(2).rack == "r2"


def test_unknown_broker_id_names_the_valid_ones():
    with pytest.raises(MedicError, match=r"no broker 7 .*valid broker ids: 1, 2$"):
        state().broker(7)


def test_default_home_follows_kafka_medic_home(monkeypatch, tmp_path):
    monkeypatch.setenv("KAFKA_MEDIC_HOME", str(tmp_path))
    assert default_home("demo") == tmp_path / "devcluster" / "demo"
    monkeypatch.delenv("KAFKA_MEDIC_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_home("dev") == tmp_path / ".local" / "state" / "kafka-medic" / "devcluster" / "dev"
