"""The plugin's Slack endpoint refuses what it must before touching Airflow (FastAPI TestClient).

The approving path, which answers a real HITL detail, and every refusal are tested over real HTTP against
the real heal DAG under a real scheduler in tests/integration/test_airflow_e2e.py.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from .test_notify_interactivity import SECRET, click_body, headers

PLUGIN = Path(__file__).parents[2] / "plugins" / "kafka_medic_plugin.py"


@pytest.fixture(scope="module")
def plugin():
    spec = importlib.util.spec_from_file_location("kafka_medic_plugin", PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def client(plugin, monkeypatch):
    connection = {"conn_type": "slack", "password": "xoxb-unused",
                  "extra": {"signing_secret": SECRET, "approvers": {"U123": "alice"}, "channel": "#ops"}}
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_MEDIC_SLACK", json.dumps(connection))
    return TestClient(plugin.app)


def post(client, body, hdrs):
    return client.post("/slack/interactivity", content=body,
                       headers={**hdrs, "Content-Type": "application/x-www-form-urlencoded"})


def test_the_plugin_mounts_its_app_under_kafka_medic(plugin):
    (app,) = plugin.KafkaMedicPlugin.fastapi_apps
    assert app["url_prefix"] == "/kafka-medic" and app["app"] is plugin.app
    assert [r.path for r in plugin.app.routes] == ["/slack/interactivity"]  # no docs, no other endpoints


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (lambda b: headers(b, timestamp=int(time.time()), secret="forged"), 401, "bad signature"),
        (lambda b: {}, 401, "bad signature"),
        (lambda b: headers(b, timestamp=int(time.time()) - 600), 401, "stale timestamp"),
    ],
)
def test_forged_unsigned_and_stale_requests_are_refused(client, make, status, reason):
    body = click_body()
    response = post(client, body, make(body))
    assert (response.status_code, response.json()) == (status, {"ok": False, "error": reason})


def test_users_off_the_allow_list_are_refused(client):
    body = click_body(user="U999")
    response = post(client, body, headers(body, timestamp=int(time.time())))
    assert (response.status_code, response.json()) == (403, {"ok": False, "error": "user U999 not allowed"})


def test_only_post_is_served(client):
    assert client.get("/slack/interactivity").status_code == 405
