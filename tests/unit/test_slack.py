"""Posting to a real HTTP server that speaks Slack's Web API (chat.postMessage, chat.update) on 127.0.0.1.

`FakeSlack` is also what the integration tests point the plugin at.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kafka_medic.detector import Anomaly, parse_rules
from kafka_medic.errors import MedicError
from kafka_medic.model import Move, Proposal
from kafka_medic.notify.approval import ApprovalRef
from kafka_medic.notify.slack import MessageRef, SlackNotifier, SlackSettings

TOKEN = "xoxb-test-0000-secret"


class FakeSlack:
    """A Slack-compatible Web API server: checks the bearer token, records each call, answers like Slack."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[tuple[str, dict]] = []
        self.fail_with: str | None = None  # e.g. "channel_not_found": every call answers ok=false
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                method = self.path.rsplit("/", 1)[-1]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    answer = {"ok": False, "error": "invalid_auth"}
                elif fake.fail_with:
                    answer = {"ok": False, "error": fake.fail_with}
                else:
                    fake.calls.append((method, body))
                    answer = {"ok": True, "channel": "C42" if body.get("channel", "").startswith("#") else
                              body.get("channel"), "ts": body.get("ts") or f"1700000000.{len(fake.calls):06d}"}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/api/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeSlack:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]


@contextmanager
def slack_in_env(monkeypatch) -> Iterator[FakeSlack]:
    """A FakeSlack that the environment's Slack settings (KAFKA_MEDIC_SLACK_*) name, as tasks read them."""
    with FakeSlack() as server:
        monkeypatch.setenv("KAFKA_MEDIC_SLACK_TOKEN", TOKEN)
        monkeypatch.setenv("KAFKA_MEDIC_SLACK_CHANNEL", "#kafka-ops")
        monkeypatch.setenv("KAFKA_MEDIC_SLACK_URL", server.base_url)
        yield server


@pytest.fixture
def slack():
    with FakeSlack() as server:
        yield server


@pytest.fixture
def notifier(slack):
    return SlackNotifier(SlackSettings(token=TOKEN, channel="#kafka-ops", base_url=slack.base_url))


PROPOSAL = Proposal("dev", [], [Move("t", 0, [1, 2], [3, 2], 1, 3)], {
    "num_replica_moves": 1, "num_leader_moves": 1, "data_to_move_mb": 12.5, "balancedness_before": 80.0,
    "balancedness_after": 95.0, "violated_goals_before": ["disk_capacity"], "violated_goals_after": [],
    "duration_s": 0.1})


def test_proposal_is_posted_and_updated_with_the_decision(slack, notifier):
    ref = notifier.post_proposal(PROPOSAL, "heal", "broker_failure:1", ApprovalRef("d", "r", "t"))
    assert ref == MessageRef("C42", "1700000000.000001")
    (method, body), = slack.calls
    assert method == "chat.postMessage" and body["channel"] == "#kafka-ops"
    assert body["blocks"][0]["text"]["text"] == "Heal proposed for cluster dev" and body["text"].startswith("Heal")
    notifier.mark_decided(ref, body["blocks"], body["text"], "approve", "U123")
    method, update = slack.calls[1]
    assert method == "chat.update" and (update["channel"], update["ts"]) == ("C42", "1700000000.000001")
    assert update["blocks"][-1]["elements"][0]["text"] == ":white_check_mark: Approved by <@U123>"
    assert all(b["type"] != "actions" for b in update["blocks"])


def test_a_proposal_answered_outside_slack_loses_its_buttons_and_says_the_outcome(slack, notifier):
    ref = notifier.post_proposal(PROPOSAL, "heal", "broker_failure:1", ApprovalRef("d", "r", "t"))
    notifier.close_proposal(ref, PROPOSAL, "heal", "broker_failure:1", ":x: Rejected by admin in the Airflow UI")
    (_, posted), (method, update) = slack.calls
    assert method == "chat.update" and (update["channel"], update["ts"]) == ("C42", ref.ts)
    assert update["text"] == posted["text"] and update["blocks"][:-1] == posted["blocks"][:-1]
    assert posted["blocks"][-1]["type"] == "actions" and all(b["type"] != "actions" for b in update["blocks"])
    assert update["blocks"][-1] == {"type": "context", "elements": [
        {"type": "mrkdwn", "text": ":x: Rejected by admin in the Airflow UI"}]}


def test_one_alert_per_anomaly_naming_its_remediation(slack, notifier):
    anomalies = [Anomaly("broker_failure", "broker_failure:3", "critical", "broker 3 is dead"),
                 Anomaly("topic_replication_factor", "topic_replication_factor:t", "warning", "t is short")]
    refs = notifier.post_anomalies("dev", anomalies, parse_rules({}))
    assert len(refs) == 2 and slack.methods() == ["chat.postMessage", "chat.postMessage"]
    assert "will propose a heal" in slack.calls[0][1]["blocks"][1]["elements"][0]["text"]
    assert "will propose" not in slack.calls[1][1]["blocks"][1]["elements"][0]["text"]


def test_slack_errors_are_one_line_medic_errors_without_the_token(slack, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = SlackNotifier(SlackSettings(token="xoxb-wrong-secret", channel="#x", base_url=slack.base_url))
    with pytest.raises(MedicError, match="^Slack chat.postMessage failed: invalid_auth$"):
        wrong.post({"text": "hi"})
    slack.fail_with = "channel_not_found"
    right = SlackNotifier(SlackSettings(token=TOKEN, channel="#x", base_url=slack.base_url.rstrip("/")))
    with pytest.raises(MedicError, match="channel_not_found") as info:
        right.post({"text": "hi"})
    assert TOKEN not in str(info.value) and "secret" not in caplog.text
    closed = SlackNotifier(SlackSettings(token=TOKEN, channel="#x", base_url="http://127.0.0.1:9/api/"))
    with pytest.raises(MedicError, match="Slack chat.postMessage failed: "):
        closed.post({"text": "hi"})


def test_settings_from_the_environment_and_a_connection(monkeypatch, slack):
    monkeypatch.setenv("KAFKA_MEDIC_SLACK_TOKEN", TOKEN)
    monkeypatch.setenv("KAFKA_MEDIC_SLACK_CHANNEL", "#ops")
    monkeypatch.delenv("KAFKA_MEDIC_SLACK_URL", raising=False)
    settings = SlackSettings.from_env()
    assert (settings.channel, settings.base_url) == ("#ops", "https://slack.com/api/") and TOKEN not in repr(settings)

    class Conn:
        password = "xoxb-from-connection"
        extra_dejson = {"channel": "#conn", "base_url": slack.base_url}

    assert SlackSettings.from_connection(Conn()) == SlackSettings("xoxb-from-connection", "#conn", slack.base_url)
    monkeypatch.delenv("KAFKA_MEDIC_SLACK_TOKEN")
    with pytest.raises(MedicError, match=r"no Slack token: set the slack connection's password or \$KAFKA_MEDIC"):
        SlackSettings.from_env()
