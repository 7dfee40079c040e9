"""A cluster whose clients must authenticate (SASL/PLAIN), for real: the reader, the samplers, the
executor and the CLI reach it with credentials from a connection or the environment, and never
print the password."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from kafka_medic.devcluster import DevCluster
from kafka_medic.errors import MedicError
from kafka_medic.executor import ExecutionOptions
from kafka_medic.executor.run import execute
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state, read_load
from kafka_medic.metrics.admin_sampler import AdminSampler

from .executor_helpers import partitions_of, placed_topic, proposal, temp_journal

pytestmark = pytest.mark.kafka

USER, PASSWORD = "medic", "pw-7f3a9c"
TOPIC = "sasl-orders"


@pytest.fixture(scope="module")
def sasl_cluster(tmp_path_factory) -> Iterator[DevCluster]:
    cluster = DevCluster(name="sasl", home=tmp_path_factory.mktemp("sasl"), brokers=3, racks=3, base_port=0,
                         sasl_users={USER: PASSWORD})
    try:
        cluster.up()
        placed_topic(cluster.bootstrap, TOPIC, [[1, 2], [2, 3]], mb=2)  # set up over the PLAINTEXT listener
        yield cluster
    finally:
        cluster.down()


def sasl_config(cluster: DevCluster, password: str = PASSWORD, mechanism: str = "PLAIN") -> ClusterConfig:
    return ClusterConfig(bootstrap=cluster.sasl_bootstrap, name="sasl", security_protocol="SASL_PLAINTEXT",
                         sasl_mechanism=mechanism, sasl_username=USER, sasl_password=password,
                         request_timeout_ms=5000)  # fmt: skip


@pytest.fixture
def journal(tmp_path):
    yield from temp_journal(tmp_path)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_reader_samplers_and_executor_authenticate(sasl_cluster, journal, mechanism):
    config = sasl_config(sasl_cluster, mechanism=mechanism)
    state = read_cluster_state(config)
    assert state.alive_brokers == [1, 2, 3]
    [p0, p1] = [p for p in state.partitions if p.topic == TOPIC]
    assert p0.sizes[p0.replicas[0]] > 2**19 and p1.sizes[3] > 2**19  # DescribeLogDirs answered over SASL
    sampler = AdminSampler(config)
    sampler.sample(ts=0.0)
    offsets = read_load(config).end_offsets  # ListOffsets over SASL
    assert offsets[(TOPIC, 0)] + offsets[(TOPIC, 1)] == 2 * 1024

    lines: list[str] = []
    [spare] = {1, 3} - set(p0.replicas)  # partition 0 moves between brokers 1 and 3, once per mechanism
    target = [spare, p0.replicas[1]]
    move = proposal("sasl", TOPIC, {0: (p0.replicas, target)})
    report = execute(config, move, ExecutionOptions(throttle=20 * 2**20), journal, log=lines.append)
    assert report["status"] == "succeeded", report
    assert partitions_of(config, TOPIC)[0].replicas == target
    assert read_cluster_state(config).throttles() == {"brokers": {}, "topics": {}}
    assert lines and not [line for line in lines if PASSWORD in line]
    assert PASSWORD not in repr(config)


def test_a_wrong_password_is_a_one_line_error_without_the_password(sasl_cluster):
    wrong = "not-" + PASSWORD
    with pytest.raises(MedicError) as info:
        read_cluster_state(sasl_config(sasl_cluster, password=wrong))
    message = str(info.value)
    print(message)
    assert message.startswith(f"Kafka at {sasl_cluster.sasl_bootstrap} refused the PLAIN login of user 'medic' "
                              "(SASL_PLAINTEXT): SASL authentication error: Authentication failed")
    assert "\n" not in message and wrong not in message


def test_cli_takes_credentials_from_the_environment(sasl_cluster):
    env = {**os.environ, "KAFKA_MEDIC_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_MEDIC_SASL_MECHANISM": "PLAIN",
           "KAFKA_MEDIC_SASL_USERNAME": USER, "KAFKA_MEDIC_SASL_PASSWORD": PASSWORD}
    done = subprocess.run([sys.executable, "-m", "kafka_medic.cli", "state", "--bootstrap", sasl_cluster.sasl_bootstrap,
                           "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(b["id"] for b in json.loads(done.stdout)["brokers"]) == [1, 2, 3]
    assert PASSWORD not in done.stdout + done.stderr


def test_an_airflow_kafka_connection_logs_in_with_its_login_and_password(sasl_cluster):
    from kafka_medic.airflow.hook import settings_from_extras

    extras = {"bootstrap.servers": sasl_cluster.sasl_bootstrap, "security.protocol": "SASL_PLAINTEXT",
              "sasl.mechanisms": "SCRAM-SHA-512"}  # fmt: skip
    config = settings_from_extras("sasl", extras, login=USER, password=PASSWORD).config
    assert read_cluster_state(config).alive_brokers == [1, 2, 3]
