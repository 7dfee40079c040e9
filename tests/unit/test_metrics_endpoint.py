"""GET /kafka-medic/metrics (FastAPI TestClient) over a populated SQLite store, behind Airflow's real auth manager.

The token is a real JWT of Airflow's simple auth manager, checked by the REST API's own dependency; its
revoked-token table is the one part of Airflow's database that check reads, so only it is created.
The endpoint scraped by a real Prometheus through a real server is tests/integration/test_metrics_endpoint.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from kafka_medic.detector import Anomaly, AnomalyLog
from kafka_medic.detector.anomaly import BROKER_FAILURE, KINDS, UNDER_REPLICATED
from kafka_medic.detector.status import StatusLog
from kafka_medic.executor.journal import DONE, SKIPPED, Journal
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.model import Move, Proposal
from kafka_medic.notify.action_log import ActionLog, ActionRecord
from kafka_medic.storage import STORE_URL_ENV

from ..dags import airflow_env  # noqa: F401  (Airflow's environment, before Airflow is imported)
from .test_cluster_status import a_status

ROOT = Path(__file__).parents[2]
PLUGIN = ROOT / "plugins" / "kafka_medic_plugin.py"
DASHBOARD = ROOT / "docs" / "grafana" / "kafka-medic.json"
# Moves of 1,000 bytes each adding one replica; the last needs nothing (skipped).
TASKS = [Task("t", i, REPLICA, (1, 2), (3, 2), 1, 3, 1000 * (i + 1)) for i in range(5)]
PROPOSAL = Proposal("a", [], [Move("t", i, [1, 2], [3, 2], 1, 3) for i in range(5)])


def load_plugin():
    spec = importlib.util.spec_from_file_location("kafka_medic_plugin_metrics", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def token():
    """A viewer's JWT from Airflow's simple auth manager, the one the api-server itself would check."""
    from airflow import settings
    from airflow.api_fastapi.app import init_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.models.revoked_token import RevokedToken

    RevokedToken.__table__.create(settings.engine, checkfirst=True)
    return init_auth_manager().generate_jwt(SimpleAuthManagerUser(username="prometheus", role="viewer"))


@pytest.fixture(scope="module")
def client(token):
    return TestClient(load_plugin().app, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def store(tmp_path, monkeypatch):
    """Two clusters' statuses; cluster a has open anomalies, a running execution with throttles, and actions."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv(STORE_URL_ENV, url)
    with StatusLog(url) as statuses:
        statuses.record(a_status("a", 1_700_000_000.0, balance=87.5))
        statuses.record(a_status("b", 1_700_000_060.0))
    with AnomalyLog(url) as anomalies:
        found = [Anomaly(BROKER_FAILURE, f"{BROKER_FAILURE}:{b}", "critical", "dead") for b in (3, 4)]
        anomalies.record("a", [*found, Anomaly(UNDER_REPLICATED, UNDER_REPLICATED, "warning", "urp")], now=10.0)
        anomalies.record("a", found, now=20.0)  # the under-replicated partitions recovered
    with Journal(url) as journal:
        execution = journal.create("a", PROPOSAL, ExecutionOptions(), TASKS)
        journal.mark_submitted(execution, TASKS[:4])
        journal.confirm_submitted(execution, TASKS[:4])
        journal.set_tasks_state(execution, TASKS[:2], DONE)
        journal.set_task_state(execution, TASKS[4], SKIPPED, "nothing to do")
        for broker in ("1", "3"):
            for config in ("leader.replication.throttled.rate", "follower.replication.throttled.rate"):
                journal.remember_original(execution, "broker", broker, config, None)
                journal.record_applied(execution, "broker", broker, config, "52428800")
        finished = journal.create("c", PROPOSAL, ExecutionOptions(), TASKS)
        journal.finish(finished, "succeeded", None, {})  # not running: no execution gauges for c
    with ActionLog(url) as actions:
        for finished_at in (1_699_999_000.0, 1_699_999_500.0):
            actions.write(ActionRecord("a", "heal", [], "", 5, 0, 0, "skipped", finished_at - 60, finished_at))
    return url


def scrape(client) -> dict[str, dict[tuple, float]]:
    """Every sample of a scrape: name -> {sorted label items: value}."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def test_each_clusters_status_is_exported_from_the_store(client, store):
    m = scrape(client)
    assert m["kafka_medic_up"] == {(): 1.0}
    assert m["kafka_medic_status_timestamp_seconds"] == {(("cluster", "a"),): 1_700_000_000.0,
                                                          (("cluster", "b"),): 1_700_000_060.0}
    assert m["kafka_medic_balancedness"] == {(("cluster", "a"),): 87.5, (("cluster", "b"),): 90.0}
    assert m["kafka_medic_brokers"][(("cluster", "a"), ("state", "alive"))] == 3.0
    assert m["kafka_medic_brokers"][(("cluster", "a"), ("state", "dead"))] == 1.0
    assert m["kafka_medic_under_replicated_partitions"][(("cluster", "a"),)] == 2.0
    assert m["kafka_medic_offline_partitions"][(("cluster", "b"),)] == 1.0
    for resource in ("disk", "nw_in", "nw_out", "cpu"):
        assert m["kafka_medic_utilisation_max_percent"][(("cluster", "a"), ("resource", resource))] == 80.0
        assert m["kafka_medic_utilisation_mean_percent"][(("cluster", "b"), ("resource", resource))] == 40.0
    assert m["kafka_medic_load_windows"][(("cluster", "a"),)] == 5.0
    assert m["kafka_medic_load_valid_windows"][(("cluster", "a"),)] == 4.0
    assert m["kafka_medic_load_valid_partition_ratio"][(("cluster", "a"),)] == 0.75


def test_open_anomalies_by_kind_every_kind_present(client, store):
    anomalies = scrape(client)["kafka_medic_open_anomalies"]
    assert anomalies[(("cluster", "a"), ("kind", BROKER_FAILURE))] == 2.0
    assert anomalies[(("cluster", "a"), ("kind", UNDER_REPLICATED))] == 0.0  # resolved
    assert {dict(labels)["kind"] for labels in anomalies if dict(labels)["cluster"] == "b"} == set(KINDS)
    assert sum(anomalies.values()) == 2.0


def test_the_running_execution_its_throttles_and_the_last_action(client, store):
    m = scrape(client)
    a = (("cluster", "a"),)
    # Four moves to carry out (the fifth was skipped): 1+2+3+4 kB, two done (1+2 kB), two in flight.
    assert {name: m[f"kafka_medic_execution_{name}"] for name in
            ("moves_total", "moves_done", "moves_in_flight", "bytes_total", "bytes_done")} == {
        "moves_total": {a: 4.0}, "moves_done": {a: 2.0}, "moves_in_flight": {a: 2.0},
        "bytes_total": {a: 10_000.0}, "bytes_done": {a: 3_000.0},
    }
    assert m["kafka_medic_throttle_rate_bytes_per_second"] == {
        (("broker", b), ("cluster", "a"), ("direction", d)): 52428800.0 for b in "13" for d in ("leader", "follower")
    }
    assert m["kafka_medic_last_action_timestamp_seconds"] == {a: 1_699_999_500.0}


def test_moves_that_finish_between_scrapes_show_in_the_next_one(client, store):
    assert scrape(client)["kafka_medic_execution_bytes_done"] == {(("cluster", "a"),): 3_000.0}
    with Journal(store) as journal:
        ((_, execution),) = journal.running()
        journal.set_tasks_state(execution, TASKS[2:4], DONE)
    m = scrape(client)
    assert m["kafka_medic_execution_bytes_done"] == {(("cluster", "a"),): 10_000.0}
    assert m["kafka_medic_execution_moves_in_flight"] == {(("cluster", "a"),): 0.0}


def test_a_store_that_cannot_be_read_is_kafka_medic_up_0_and_still_a_200(client, monkeypatch):
    monkeypatch.setenv(STORE_URL_ENV, "postgresql://medic@127.0.0.1:1/nowhere")
    m = scrape(client)
    assert m == {"kafka_medic_up": {(): 0.0}}


@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"Authorization": "Bearer not-a-jwt"}, 403)])
def test_the_metrics_need_an_airflow_token(token, headers, status):
    response = TestClient(load_plugin().app, headers=headers).get("/metrics")
    assert response.status_code == status
    assert "kafka_medic" not in response.text


def test_every_metric_the_dashboard_queries_is_one_the_endpoint_exports(client, store):
    exported = set(scrape(client))
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    used = {name for expr in exprs for name in re.findall(r"\bkafka_medic_[a-z_]+\b", expr)}
    assert len(used) >= 15 and used <= exported, used - exported
