"""What each dev-cluster node is told: properties per role and mode, JVM command lines, exporter rules."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kafka_medic.devcluster import DevCluster
from kafka_medic.devcluster.configs import (
    JMX_EXPORTER_YAML,
    format_command,
    java_command,
    node_properties,
    render_properties,
    topic_defaults,
    write_configs,
)
from kafka_medic.devcluster.state import ClusterState, Layout, Node
from kafka_medic.errors import MedicError


def kraft_state(brokers: int = 4, controllers: int = 1) -> ClusterState:
    nodes = [Node(f"controller-{1000 + k}", "controller", 1000 + k, 9100 + k) for k in range(controllers)]
    nodes += [
        Node(f"broker-{i}", "broker", i, 9000 + i, jmx_port=9300 + i, rack=f"r{(i - 1) % 2 + 1}")
        for i in range(1, brokers + 1)
    ]
    return ClusterState("dev", "kraft", "4.4.0", "AAAAAAAAAAAAAAAAAAAAAA", "/cache/libs", "/cache/agent.jar", nodes)


def zk_state() -> ClusterState:
    nodes = [Node("zookeeper", "zookeeper", None, 9181)]
    nodes += [Node(f"broker-{i}", "broker", i, 9000 + i, jmx_port=9300 + i, rack="r1") for i in (1, 2, 3)]
    return ClusterState("dev", "zk", "3.9.2", "AAAAAAAAAAAAAAAAAAAAAA", "/cache/libs", "/cache/agent.jar", nodes)


@pytest.fixture
def layout(tmp_path) -> Layout:
    return Layout(tmp_path / "home")


def test_kraft_broker_knows_its_rack_listener_and_the_controller_quorum(layout):
    state = kraft_state(controllers=3)
    props = node_properties(state, state.brokers[1], layout)
    assert props["process.roles"] == "broker"
    assert props["node.id"] == 2
    assert props["broker.rack"] == "r2"
    assert props["listeners"] == props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9002"
    assert props["controller.quorum.voters"] == "1000@127.0.0.1:9100,1001@127.0.0.1:9101,1002@127.0.0.1:9102"
    assert props["log.dirs"] == str(layout.home / "data" / "broker-2") and "metadata.log.dir" not in props
    assert props["auto.leader.rebalance.enable"] == "false"
    assert props["log.segment.bytes"] == 1024 * 1024
    assert props["broker.heartbeat.interval.ms"] < props["broker.session.timeout.ms"] <= 10_000


def test_a_jbod_broker_has_a_log_dir_per_disk_and_its_metadata_apart(layout):
    state = kraft_state()
    state.log_dirs = 2
    props = node_properties(state, state.brokers[0], layout)
    data = layout.home / "data" / "broker-1"
    assert props["log.dirs"] == f"{data / 'disk0'},{data / 'disk1'}"
    assert props["metadata.log.dir"] == data / "metadata"  # so any data disk can fail without stopping it
    assert node_properties(state, state.servers[0], layout)["log.dirs"] == str(layout.home / "data" / "controller-1000")


def test_sasl_users_add_a_sasl_listener_beside_plaintext(layout):
    state = kraft_state()
    state.sasl_users = {"medic": "pw1", "ops": "pw2"}
    state.brokers[0].sasl_port = 9201
    props = node_properties(state, state.brokers[0], layout)
    assert props["listeners"] == props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9001,SASL_PLAINTEXT://127.0.0.1:9201"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["sasl.enabled.mechanisms"] == "PLAIN,SCRAM-SHA-512"
    assert props["listener.name.sasl_plaintext.plain.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.plain.PlainLoginModule required user_medic="pw1" user_ops="pw2";'
    )
    # SCRAM users live in the cluster metadata, put there when the storage is formatted
    command = format_command("java", state, state.servers[0], layout)
    assert command[-4:] == ["--add-scram", "SCRAM-SHA-512=[name=medic,password=pw1]",
                            "--add-scram", "SCRAM-SHA-512=[name=ops,password=pw2]"]  # fmt: skip
    assert "SASL_PLAINTEXT:SASL_PLAINTEXT" in props["listener.security.protocol.map"]
    assert "sasl.enabled.mechanisms" not in node_properties(state, state.brokers[1], layout)


@pytest.mark.parametrize("user, password", [("me", ""), ("m e", "pw"), ("me", 'p"w'), ("me", "p;w"), ("me", "p]w")])
def test_a_sasl_user_that_would_break_the_jaas_line_is_refused(tmp_path, user, password):
    with pytest.raises(MedicError, match=f"SASL user {user!r}: user and password must be non-empty"):
        DevCluster(home=tmp_path, sasl_users={user: password})


def test_kraft_controller_listens_on_the_controller_listener_and_applies_topic_defaults(layout):
    state = kraft_state()
    props = node_properties(state, state.servers[0], layout)
    assert props["process.roles"] == "controller"
    assert props["listeners"] == "CONTROLLER://127.0.0.1:9100"
    assert props["default.replication.factor"] == 3
    assert "broker.rack" not in props and "advertised.listeners" not in props


def test_zookeeper_mode_brokers_use_broker_id_and_zookeeper_connect(layout):
    state = zk_state()
    props = node_properties(state, state.brokers[0], layout)
    assert props["broker.id"] == 1
    assert props["zookeeper.connect"] == "127.0.0.1:9181"
    assert "process.roles" not in props and "controller.quorum.voters" not in props
    zookeeper = node_properties(state, state.servers[0], layout)
    assert zookeeper["clientPort"] == 9181 and zookeeper["clientPortAddress"] == "127.0.0.1"
    assert zookeeper["admin.enableServer"] == "false"


@pytest.mark.parametrize(("brokers", "rf", "min_isr"), [(1, 1, 1), (2, 2, 2), (3, 3, 2), (4, 3, 2)])
def test_replication_defaults_never_exceed_the_broker_count(brokers, rf, min_isr):
    defaults = topic_defaults(brokers)
    assert defaults["default.replication.factor"] == defaults["offsets.topic.replication.factor"] == rf
    assert defaults["min.insync.replicas"] == defaults["transaction.state.log.min.isr"] == min_isr


def test_render_properties_keeps_order_one_key_per_line():
    assert render_properties({"b": 1, "a": Path("/x")}) == "b=1\na=/x\n"


def test_write_configs_applies_broker_overrides_to_brokers_only(layout):
    state = kraft_state(brokers=2)
    state.broker_config = {"num.io.threads": 7}
    write_configs(state, layout)
    assert "num.io.threads=7\n" in layout.config(state.brokers[0]).read_text()
    assert "num.io.threads" not in layout.config(state.servers[0]).read_text()
    assert "fileName = ${sys:kafka.logs.dir}/server.log\n" in layout.log4j_config.read_text()
    assert layout.jmx_config.read_text() == JMX_EXPORTER_YAML


def test_broker_command_runs_kafka_with_the_exporter_agent_on_loopback(layout):
    state = kraft_state()
    argv = java_command("/jdk/bin/java", state, state.brokers[0], layout)
    assert argv[0] == "/jdk/bin/java"
    assert argv[-2:] == ["kafka.Kafka", str(layout.home / "config" / "broker-1.properties")]
    assert argv[argv.index("-cp") + 1] == "/cache/libs/*"
    assert f"-javaagent:/cache/agent.jar=127.0.0.1:9301:{layout.jmx_config}" in argv
    assert "-Xmx384m" in argv


def test_servers_run_without_the_agent(layout):
    for state in (kraft_state(), zk_state()):
        argv = java_command("java", state, state.servers[0], layout)
        assert not any(a.startswith("-javaagent") for a in argv)
    assert "org.apache.zookeeper.server.ZooKeeperServerMain" in java_command(
        "java", zk_state(), zk_state().servers[0], layout
    )


def test_exporter_rules_export_meter_counts_as_counters():
    config = yaml.safe_load(JMX_EXPORTER_YAML)
    assert config["lowercaseOutputName"] is True
    rules = {rule["name"]: rule for rule in config["rules"]}
    bytes_in = rules["kafka_server_brokertopicmetrics_$1_total"]
    assert bytes_in["type"] == "COUNTER" and bytes_in["pattern"].endswith("><>Count")
    assert {"kafka_log_log_size", "java_lang_operatingsystem_processcpuload"} <= rules.keys()
    assert all(rule["pattern"] and rule["type"] in ("COUNTER", "GAUGE") for rule in config["rules"])


def test_a_broker_in_a_network_namespace_listens_there_and_starts_there(layout):
    """A broker cut off by its own namespace (the fault suite) listens and advertises its address there,
    every other node theirs, and its JVM is started through `ip netns exec`."""
    state = kraft_state()
    for node in state.nodes:
        node.host = "10.9.9.1"
    cut = state.broker(4)
    cut.host, cut.netns = "10.9.9.2", "kmf"
    props = node_properties(state, cut, layout)
    assert props["listeners"] == props["advertised.listeners"] == f"PLAINTEXT://10.9.9.2:{cut.port}"
    assert props["controller.quorum.voters"] == "1000@10.9.9.1:9100"
    assert state.bootstrap.split(",")[-1] == f"10.9.9.2:{cut.port}"
    assert java_command("java", state, cut, layout)[:5] == ["ip", "netns", "exec", "kmf", "java"]
    assert java_command("java", state, state.broker(1), layout)[0] == "java"
