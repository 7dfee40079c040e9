"""A real Prometheus scrapes /kafka-medic/metrics from a live Airflow api-server with a bearer token.

The api-server runs kafka-medic's plugin with Airflow's simple auth manager (not the demo's all-admins
mode): a viewer logs in through POST /auth/token as any REST API client does, and Prometheus sends that
token (`authorization: credentials_file`). The store behind it is a SQLite file the test fills; no Kafka.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kafka_medic.detector.status import StatusLog
from kafka_medic.storage import STORE_URL_ENV

from ..unit.test_cluster_status import a_status
from .kafka_helpers import wait_for
from .servers import free_port, http_status, running_prometheus, running_server

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).parent / "airflow"
USER, PASSWORD = "prometheus", "scrape-secret"


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    """`airflow api-server` with kafka-medic's plugin and a store holding one cluster's status; its URL."""
    home = tmp_path_factory.mktemp("airflow-metrics")
    store = f"sqlite:///{home / 'store.db'}"
    with StatusLog(store) as statuses:
        statuses.record(a_status("prod", 1_700_000_000.0, balance=87.5))
    (home / "passwords.json").write_text(json.dumps({USER: PASSWORD}))
    port = free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": "a-test-secret-of-64-bytes-0123456789abcdef0123456789abcdef012345",
        STORE_URL_ENV: store,
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    subprocess.run([str(AIRFLOW), "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    url = f"http://127.0.0.1:{port}"
    command = [str(AIRFLOW), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with running_server(command, home / "api-server.log", f"{url}/api/v2/monitor/health", 300, env):
        yield url


def login(url: str) -> str:
    """A JWT from POST /auth/token, as for any Airflow REST API client."""
    request = urllib.request.Request(f"{url}/auth/token", data=json.dumps({"username": USER, "password": PASSWORD})
                                     .encode(), headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["access_token"]


def query(prometheus: str, promql: str) -> list[dict]:
    with urllib.request.urlopen(f"{prometheus}/api/v1/query?query={urllib.parse.quote(promql)}", timeout=10) as r:
        return json.loads(r.read())["data"]["result"]


def test_prometheus_scrapes_the_metrics_with_an_airflow_token_and_a_query_returns_them(api_server, tmp_path):
    metrics = f"{api_server}/kafka-medic/metrics"
    assert http_status(metrics) == 401  # no token: refused by Airflow's auth manager
    token = login(api_server)
    assert http_status(metrics, {"Authorization": f"Bearer {token}"}) == 200
    (tmp_path / "token").write_text(token)
    target = api_server.removeprefix("http://")
    job = ("  - job_name: kafka-medic\n    metrics_path: /kafka-medic/metrics\n"
           f"    authorization:\n      credentials_file: {tmp_path / 'token'}\n"
           f"    static_configs:\n      - targets: ['{target}']\n")
    with running_prometheus(tmp_path, job) as prometheus:
        result = wait_for(lambda: query(prometheus, 'kafka_medic_balancedness{cluster="prod"}'), 60,
                          "Prometheus to scrape the balancedness")
        assert [float(r["value"][1]) for r in result] == [87.5]
        assert query(prometheus, 'up{job="kafka-medic"}')[0]["value"][1] == "1"
        assert query(prometheus, "kafka_medic_up")[0]["value"][1] == "1"
        dead = query(prometheus, 'kafka_medic_brokers{cluster="prod", state="dead"}')
        assert [float(r["value"][1]) for r in dead] == [1.0]
