"""docker-compose.yml and the Dockerfile against what the code and the test stack run.

No Docker engine runs here (CI checks `docker-compose config` in .ci/run), so these read the files: the
Airflow services are `kafka_medic.airflow.topology`'s components with the same commands and settings
(the ones a process-level stack starts), every image is pinned, the versions
are the ones the code was tested with, and what the init service provisions matches deploy/'s files.
"""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml

from kafka_medic.airflow import topology
from kafka_medic.airflow.clusters import load_clusters
from kafka_medic.airflow.provision import pools
from kafka_medic.devcluster.artifacts import JMX_EXPORTER_VERSION, KRAFT_VERSION

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
PINNED = re.compile(r"[\w./-]+:v?\d+(\.\d+)+[\w.-]*")  # name:1.2[.3][-suffix], never `latest` or a bare major


def test_every_airflow_component_is_a_service_running_the_same_command_with_the_same_settings():
    expected = topology.settings(database="airflow:airflow@postgres:5432/airflow", redis="redis:6379",
                                 api_url="http://airflow-api-server:8080",
                                 clusters_file="/opt/kafka-medic/clusters.json")
    airflow_services = {name for name, s in SERVICES.items() if s.get("image", "").startswith("kafka-medic-airflow:")}
    assert airflow_services == {c.service for c in topology.COMPONENTS} | {"airflow-init"}
    for component in topology.COMPONENTS:
        service = SERVICES[component.service]
        assert service["command"] == list(component.args), component
        assert service["environment"].items() >= expected.items(), component
        needs = {"airflow-api-server": {"condition": "service_healthy"}} if component.name in topology.NEEDS_API else {}
        assert service["depends_on"] == {"airflow-init": {"condition": "service_completed_successfully"}, **needs}
    for worker in topology.WORKERS:
        assert SERVICES[f"airflow-{worker}"]["hostname"] == worker


def test_the_init_service_provisions_deploys_connections_and_a_pool_per_cluster(monkeypatch):
    init = SERVICES["airflow-init"]
    assert init["command"] == [*topology.PROVISION, "--connections", "/opt/kafka-medic/connections.json"]
    mounts = {m.split(":")[1]: ROOT / m.split(":")[0] for m in init["volumes"]}
    clusters = load_clusters(mounts[init["environment"]["KAFKA_MEDIC_CLUSTERS"]])
    connections = json.loads(mounts["/opt/kafka-medic/connections.json"].read_text())
    assert {c.conn_id for c in clusters} == set(connections)
    assert {c["conn_type"] for c in connections.values()} == {"kafka"}
    monkeypatch.setenv("KAFKA_MEDIC_CLUSTERS", str(mounts["/opt/kafka-medic/clusters.json"]))
    assert pools() == {c.pool: {"slots": 1, "description": "one execution at a time on this cluster",
                                "include_deferred": False} for c in clusters}


def test_three_kraft_brokers_each_with_the_jmx_exporter_the_connection_points_at():
    brokers = {name: s for name, s in SERVICES.items() if name.startswith("kafka-")}
    assert sorted(brokers) == ["kafka-1", "kafka-2", "kafka-3"]
    voters = ",".join(f"{n}@kafka-{n}:9093" for n in (1, 2, 3))
    for name, broker in brokers.items():
        env = broker["environment"]
        assert (env["KAFKA_NODE_ID"], env["KAFKA_CONTROLLER_QUORUM_VOTERS"]) == (name[-1], voters)
        assert "-javaagent:/opt/jmx/jmx_prometheus_javaagent.jar=7071:" in env["KAFKA_OPTS"]
    [extra] = [c["extra"] for c in json.loads((ROOT / "deploy" / "connections.json").read_text()).values()]
    assert extra["bootstrap.servers"] == ",".join(f"{b}:9092" for b in sorted(brokers))
    assert extra["kafka_medic"]["jmx_urls"] == {b[-1]: f"http://{b}:7071/metrics" for b in sorted(brokers)}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_image_is_pinned(service):
    assert PINNED.fullmatch(SERVICES[service]["image"]), SERVICES[service]["image"]


def test_the_images_are_built_from_the_versions_the_code_is_tested_with():
    bases = re.findall(r"^FROM (\S+)", DOCKERFILE, re.MULTILINE)
    assert all(PINNED.fullmatch(base) for base in bases if base != "airflow"), bases
    assert f"apache/airflow:{version('apache-airflow')}-python3.11" in bases
    assert f"apache/kafka:{KRAFT_VERSION}" in bases
    assert f"jmx_prometheus_javaagent:{JMX_EXPORTER_VERSION} " in DOCKERFILE
    assert SERVICES["kafka-1"]["image"] == f"kafka-medic-kafka:{KRAFT_VERSION}"
    assert SERVICES["airflow-init"]["image"] == f"kafka-medic-airflow:{version('kafka-medic')}"
    assert "uv export --frozen --no-dev" in DOCKERFILE  # the image installs uv.lock's versions
