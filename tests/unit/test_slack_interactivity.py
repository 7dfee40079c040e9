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

from kafka_medic.notify.interactivity import MAX_BODY_BYTES, sign

from .test_notify_interactivity import REF, SECRET, click_body, click_payload, form_body, headers

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
    cruise_control = "/{cluster}/kafkacruisecontrol"
    assert [r.path for r in plugin.app.routes] == [  # no docs, no other endpoints
        "/metrics", "/slack/interactivity", f"{cruise_control}/openapi.json", f"{cruise_control}/{{endpoint}}",
        f"{cruise_control}/{{endpoint}}",  # Cruise Control's REST API
        "/", "/_static/{name}", "/{cluster}/", "/{cluster}/partitions", "/{cluster}/proposal/{ident}",
        "/{cluster}/stop", "/{cluster}/execution",  # the console
    ]


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


def signed(body: bytes, **kw) -> dict[str, str]:
    return headers(body, timestamp=int(time.time()), **kw)


@pytest.mark.parametrize("signature", [b"v0=\xff\xfe", "v0=é".encode("latin-1"), b"v0=" + "ü".encode() * 32])
def test_a_non_ascii_signature_is_a_bad_signature_not_a_server_error(client, signature):
    body = click_body()
    response = post(client, body, {**signed(body), "X-Slack-Signature": signature})
    assert (response.status_code, response.json()) == (401, {"ok": False, "error": "bad signature"})


@pytest.mark.parametrize("timestamp", ["²", "١٢٣", " 123", "-5", "1e9"])
def test_a_timestamp_not_made_of_ascii_digits_is_a_bad_signature(client, timestamp):
    body = click_body()
    hdrs = {"X-Slack-Request-Timestamp": timestamp.encode(), "X-Slack-Signature": signed(body)["X-Slack-Signature"]}
    response = post(client, body, hdrs)
    assert (response.status_code, response.json()) == (401, {"ok": False, "error": "bad signature"})


def test_a_body_that_is_not_utf8_fails_the_signature_unsigned_and_is_a_bad_request_signed(client):
    body = b"payload=\xff\xfe" + click_body()
    unsigned = post(client, body, {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=0"})
    assert (unsigned.status_code, unsigned.json()) == (401, {"ok": False, "error": "bad signature"})
    response = post(client, body, signed(body))
    assert response.status_code == 400 and "not a kafka-medic approval click" in response.json()["error"]


@pytest.mark.parametrize("timestamp", ["9" * 16, "9" * 5000, "1" + "0" * 20])
def test_a_signed_huge_timestamp_is_stale(client, timestamp):
    body = click_body()
    hdrs = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": sign(SECRET, timestamp, body)}
    response = post(client, body, hdrs)
    assert (response.status_code, response.json()) == (401, {"ok": False, "error": "stale timestamp"})


WRONG_SHAPES = {
    "actions is a string": {"actions": "kafka_medic_approve"},
    "actions is an object": {"actions": {"action_id": "kafka_medic_approve"}},
    "an action is a string": {"actions": ["kafka_medic_approve"]},
    "an action value is an object": {"actions": [{"action_id": "kafka_medic_approve", "value": {"dag_id": 1}}]},
    "message is a list": {"message": ["ts"]},
    "message is a string": {"message": "hello"},
    "message ts is a number": {"message": {"ts": 17.5, "text": "x", "blocks": []}},
    "message blocks is a string": {"message": {"ts": "1.2", "text": "x", "blocks": "header"}},
    "a message block is a string": {"message": {"ts": "1.2", "text": "x", "blocks": ["header"]}},
    "message text is a list": {"message": {"ts": "1.2", "text": ["x"], "blocks": []}},
    "channel is a string": {"channel": "C42"},
    "channel is a list": {"channel": ["C42"]},
    "channel id is a number": {"channel": {"id": 42}},
    "container is a string": {"channel": None, "container": "C42"},
    "user is a string": {"user": "U123"},
    "user id is a list": {"user": {"id": ["U123"]}},
    "user name is an object": {"user": {"id": "U123", "username": {"a": 1}}},
    "map_index overflows": {"actions": [{"action_id": "kafka_medic_approve",
                                         "value": REF.to_value().replace("-1", "1e400")}]},
    "map_index past int32": {"actions": [{"action_id": "kafka_medic_approve",
                                          "value": REF.to_value().replace("-1", str(10**30))}]},
    "the payload is a list": None,
}


@pytest.mark.parametrize("case", list(WRONG_SHAPES))
def test_a_signed_payload_of_the_wrong_shape_is_a_bad_request(client, case):
    payload = [click_payload()] if WRONG_SHAPES[case] is None else {**click_payload(), **WRONG_SHAPES[case]}
    body = form_body(payload)
    response = post(client, body, signed(body))
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("not a kafka-medic approval click")


def test_a_signed_payload_nested_past_the_recursion_limit_is_a_bad_request(client):
    body = b"payload=" + b"[" * 40_000
    response = post(client, body, signed(body))
    assert response.status_code == 400 and response.json()["error"].startswith("not a kafka-medic approval click")


def test_a_body_over_the_limit_is_refused_unread(client):
    body = b"payload=" + b"x" * MAX_BODY_BYTES
    response = post(client, body, signed(body))
    assert (response.status_code, response.json()) == (
        413, {"ok": False, "error": f"request body over {MAX_BODY_BYTES} bytes"})


def test_a_chunked_body_over_the_limit_is_refused(client):
    def chunks():  # no Content-Length: 16 MiB offered, refused once past 64 KiB
        for _ in range(1000):
            yield b"x" * 16384

    response = client.post("/slack/interactivity", content=chunks(),
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413


@pytest.mark.parametrize("approvers", [7, [1, 2], {"U1": 3}, 1.5, True])
def test_approvers_of_the_wrong_type_in_the_connection_are_a_503_not_a_server_error(plugin, monkeypatch, approvers):
    connection = {"conn_type": "slack", "extra": {"signing_secret": SECRET, "approvers": approvers}}
    monkeypatch.setenv("AIRFLOW_CONN_KAFKA_MEDIC_SLACK", json.dumps(connection))
    body = click_body()
    response = post(TestClient(plugin.app), body, signed(body))
    refusal = {"ok": False, "error": "approvals misconfigured on the server"}
    assert (response.status_code, response.json()) == (503, refusal)
