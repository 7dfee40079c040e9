"""Slack request verification and click parsing: signature, age, allow-list, payload."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import SignatureVerifier

from kafka_medic.errors import MedicError
from kafka_medic.notify.approval import ApprovalRef
from kafka_medic.notify.interactivity import (
    ApprovalSettings,
    Decision,
    Refusal,
    answered_in_slack,
    parse_approvers,
    parse_click,
    sign,
    slack_responder,
    verify_request,
)
from kafka_medic.notify.slack import MessageRef

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_800_000_000
REF = ApprovalRef("kafka_medic_heal", "manual__1", "approve")


def click_body(action_id="kafka_medic_approve", user="U123", value=None, message=None) -> bytes:
    """Slack's form-encoded block_actions payload for a click on a button of `message` (ts, text, blocks)."""
    return form_body(click_payload(action_id, user, value, message))


def form_body(payload) -> bytes:
    """A payload as Slack posts it: form-encoded JSON in the `payload` field."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def click_payload(action_id="kafka_medic_approve", user="U123", value=None, message=None) -> dict:
    message = message or {"ts": "1700000000.000100", "text": "Heal for dev", "blocks": [{"type": "header"}]}
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "alice", "team_id": "T1"},
        "channel": {"id": "C42", "name": "kafka-ops"},
        "container": {"type": "message", "channel_id": "C42", "message_ts": message["ts"]},
        "message": {"ts": message["ts"], "text": message["text"], "blocks": message["blocks"]},
        "actions": [{"action_id": action_id, "type": "button", "value": value or REF.to_value()}],
    }


def headers(body: bytes, timestamp: int = NOW, secret: str = SECRET) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": sign(secret, str(timestamp), body)}


def test_the_signature_is_hmac_sha256_of_v0_timestamp_body():
    body = click_body()
    expected = hmac.new(SECRET.encode(), f"v0:{NOW}:".encode() + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, str(NOW), body) == "v0=" + expected
    assert sign(SECRET, str(NOW), body) == SignatureVerifier(SECRET).generate_signature(timestamp=str(NOW), body=body)


def test_a_signed_click_by_an_approver_is_a_decision():
    body = click_body()
    decision = parse_click(SECRET, {"U123": "alice"}, headers(body), body, now=NOW + 10)
    assert decision == Decision(
        decision="approve", user_id="U123", user_name="alice", approval=REF,
        reason="approved in Slack by alice (U123)", message=MessageRef("C42", "1700000000.000100"),
        text="Heal for dev", blocks=[{"type": "header"}])
    reject = click_body("kafka_medic_reject")
    assert parse_click(SECRET, ["U123"], headers(reject), reject, now=NOW).decision == "reject"


@pytest.mark.parametrize(
    ("make_headers", "now", "refusal"),
    [
        (lambda b: headers(b, secret="not-the-secret"), NOW, Refusal(401, "bad signature")),
        (lambda b: {**headers(b), "X-Slack-Signature": "v0=" + "0" * 64}, NOW, Refusal(401, "bad signature")),
        (lambda b: {"X-Slack-Request-Timestamp": str(NOW)}, NOW, Refusal(401, "bad signature")),
        (lambda b: {}, NOW, Refusal(401, "bad signature")),
        (lambda b: headers(b, timestamp=NOW - 301), NOW, Refusal(401, "stale timestamp")),
        (lambda b: headers(b, timestamp=NOW + 301), NOW, Refusal(401, "stale timestamp")),
    ],
)
def test_unsigned_forged_and_stale_requests_are_refused(make_headers, now, refusal):
    body = click_body()
    assert parse_click(SECRET, ["U123"], make_headers(body), body, now=now) == refusal


def test_a_tampered_body_fails_the_signature():
    body = click_body()
    assert verify_request(SECRET, headers(body), click_body(user="U999"), now=NOW) == Refusal(401, "bad signature")
    assert verify_request("", headers(body), body, now=NOW) == Refusal(401, "no signing secret configured")


def test_users_not_on_the_allow_list_are_refused():
    body = click_body(user="U999")
    assert parse_click(SECRET, ["U123"], headers(body), body, now=NOW) == Refusal(403, "user U999 not allowed")
    assert parse_click(SECRET, [], headers(body), body, now=NOW) == Refusal(403, "user U999 not allowed")


@pytest.mark.parametrize("body", [b"payload=notjson", b"nothing=here", click_body("other_button"),
                                  click_body(value="garbage")])
def test_signed_requests_that_are_not_approval_clicks_are_bad_requests(body):
    refusal = parse_click(SECRET, ["U123"], headers(body), body, now=NOW)
    assert isinstance(refusal, Refusal) and refusal.status == 400
    assert refusal.reason.startswith("not a kafka-medic approval click")


def test_approvers_and_settings(monkeypatch):
    assert parse_approvers("U1=alice, U2") == {"U1": "alice", "U2": "U2"}
    assert parse_approvers(["U1", "U2=bob"]) == {"U1": "U1", "U2": "bob"}
    assert parse_approvers({"U1": "alice"}) == {"U1": "alice"} and parse_approvers("") == {}
    for bad in (7, [1], {"U1": 3}, {2: "bob"}, None):
        with pytest.raises(MedicError, match="Slack approvers .* not understood"):
            parse_approvers(bad)
    monkeypatch.setenv("KAFKA_MEDIC_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("KAFKA_MEDIC_SLACK_APPROVERS", "U1=alice")
    settings = ApprovalSettings.from_env()
    assert settings.approvers == {"U1": "alice"} and SECRET not in repr(settings)

    class Conn:
        extra_dejson = {"approvers": ["U7"]}

    assert ApprovalSettings.from_connection(Conn()) == ApprovalSettings(SECRET, {"U7": "U7"})


def test_an_answer_from_a_slack_click_is_recognised_by_its_responder():
    assert slack_responder("alice") == "alice (Slack)"
    assert answered_in_slack({"id": "alice", "name": slack_responder("alice")})
    assert not answered_in_slack({"id": "admin", "name": "admin"})  # the Airflow UI
    assert not answered_in_slack(None)  # the timeout's default answer
