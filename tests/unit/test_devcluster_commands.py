"""`kafka-medic dev-cluster` against a saved state with no processes behind it (no Kafka needed)."""

from __future__ import annotations

import json

import pytest

from kafka_medic.cli import main
from kafka_medic.devcluster import DevCluster
from kafka_medic.devcluster.state import ClusterState, Layout, Node, save_state
from kafka_medic.errors import MedicError


@pytest.fixture
def stopped_home(tmp_path):
    """A state file as `up` writes it, for a cluster whose processes are all gone."""
    nodes = [Node("controller-1000", "controller", 1000, 1)]
    nodes += [Node(f"broker-{i}", "broker", i, i + 1, jmx_port=i + 10, rack=f"r{i % 2 + 1}") for i in (1, 2, 3)]
    save_state(Layout(tmp_path), ClusterState("t", "kraft", "4.4.0", "A" * 22, "/libs", "/agent.jar", nodes))
    return tmp_path


def test_status_json_reports_dead_nodes(stopped_home, capsys):
    assert main(["dev-cluster", "status", "--json", "--home", str(stopped_home)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["bootstrap"] == "127.0.0.1:2,127.0.0.1:3,127.0.0.1:4"
    assert status["mode"] == "kraft" and status["version"] == "4.4.0"
    assert status["brokers"][0] == {
        "id": 1,
        "alive": False,
        "port": 2,
        "pid": None,
        "log": str(stopped_home / "logs" / "broker-1" / "server.log"),
        "rack": "r2",
        "jmx_url": "http://127.0.0.1:11/metrics",
    }
    assert [c["id"] for c in status["controllers"]] == [1000] and status["zookeeper"] is None


def test_status_table_has_a_row_per_node(stopped_home, capsys):
    assert main(["dev-cluster", "status", "--home", str(stopped_home)]) == 0
    out = capsys.readouterr().out
    assert "bootstrap: 127.0.0.1:2,127.0.0.1:3,127.0.0.1:4" in out
    assert [line.split()[0] for line in out.splitlines()[2:]] == ["ROLE", "controller", "broker", "broker", "broker"]


@pytest.mark.parametrize("command", ["kill-broker", "start-broker"])
def test_a_bad_broker_id_is_a_one_line_error_naming_the_valid_ids(stopped_home, capsys, command):
    assert main(["dev-cluster", command, "9", "--home", str(stopped_home)]) == 2
    err = capsys.readouterr().err
    assert err == "kafka-medic: error: no broker 9 in dev-cluster 't'; valid broker ids: 1, 2, 3\n"


def test_status_without_a_cluster_says_how_to_start_one(tmp_path, capsys):
    assert main(["dev-cluster", "status", "--home", str(tmp_path / "none")]) == 2
    assert "run `kafka-medic dev-cluster up`" in capsys.readouterr().err


def test_down_without_a_cluster_is_not_an_error(tmp_path, capsys):
    assert main(["dev-cluster", "down", "--name", "none", "--home", str(tmp_path)]) == 0
    assert "no dev-cluster 'none' was running" in capsys.readouterr().out


def test_down_of_a_dead_cluster_forgets_it(stopped_home):
    assert DevCluster.load("t", stopped_home).down() is True
    with pytest.raises(MedicError, match="is running"):
        DevCluster.load("t", stopped_home)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "kraft2"}, "valid modes: kraft, zk"),
        ({"mode": "zk", "version": "4.4.0"}, "no ZooKeeper mode"),
        ({"brokers": 0}, "--brokers must be between 1 and 100"),
        ({"brokers": 2, "racks": 3}, "--racks must be between 1 and the broker count 2"),
        ({"controllers": 2}, "--controllers must be 1, 3 or 5"),
    ],
)
def test_bad_shapes_are_refused_before_anything_starts(tmp_path, kwargs, message):
    with pytest.raises(MedicError, match=message):
        DevCluster(home=tmp_path, **kwargs)
