"""Slack button clicks, checked: the request signature is the only authentication the endpoint has.

Slack signs each request with the app's signing secret (v0 HMAC-SHA256 of "v0:{timestamp}:{body}");
a request older than five minutes is refused so a captured click cannot be replayed, and only Slack
users on the allow-list may decide. Everything here is plain data in, plain data out, so the Airflow
plugin only maps the result to HTTP and to the HITL response.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from kafka_medic.errors import MedicError
from kafka_medic.notify.approval import APPROVE, REJECT, ApprovalRef
from kafka_medic.notify.slack import MessageRef
from kafka_medic.notify.summary import APPROVE_ACTION_ID, REJECT_ACTION_ID

MAX_AGE_S = 300
# Slack's interactivity payloads are a few KiB (the message's blocks included); a body past this is not Slack.
MAX_BODY_BYTES = 64 * 1024
TIMESTAMP = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also takes "²", which int() refuses
MAX_TIMESTAMP_DIGITS = 15  # Unix seconds; a longer one is no time Slack could have sent (and int() may refuse it)
SECRET_ENV, APPROVERS_ENV = "KAFKA_MEDIC_SLACK_SIGNING_SECRET", "KAFKA_MEDIC_SLACK_APPROVERS"
SIGNATURE_HEADER, TIMESTAMP_HEADER = "x-slack-signature", "x-slack-request-timestamp"
DECISIONS = {APPROVE_ACTION_ID: APPROVE, REJECT_ACTION_ID: REJECT}
SLACK_RESPONDER_SUFFIX = " (Slack)"


@dataclass(frozen=True)
class ApprovalSettings:
    """The Slack app's signing secret and who may decide: Slack user id -> the Airflow user id they answer as.

    The Airflow user id matters when the approval task has `assigned_users`: Airflow then accepts only
    responses from those ids. An approver given without an Airflow user answers as their Slack id.
    """

    signing_secret: str = field(repr=False)
    approvers: Mapping[str, str]

    @classmethod
    def from_env(cls) -> ApprovalSettings:
        return cls(os.environ.get(SECRET_ENV, ""), parse_approvers(os.environ.get(APPROVERS_ENV, "")))

    @classmethod
    def from_connection(cls, conn: Any) -> ApprovalSettings:
        """From the Slack connection's extras `signing_secret` and `approvers`; the env fills gaps."""
        extra = conn.extra_dejson or {}
        return cls(
            signing_secret=extra.get("signing_secret") or os.environ.get(SECRET_ENV, ""),
            approvers=parse_approvers(extra.get("approvers") or os.environ.get(APPROVERS_ENV, "")),
        )


def parse_approvers(value: object) -> dict[str, str]:
    """"U1=alice,U2" (text), ["U1", "U2"] or {"U1": "alice"} -> {Slack user id: Airflow user id}.

    The value comes from a connection's JSON extras, so anything else (a number, a list of numbers) is
    a one-line error naming it rather than a TypeError deep in the endpoint.
    """
    if isinstance(value, Mapping) and all(isinstance(v, str) for v in [*value.keys(), *value.values()]):
        return {k.strip(): v.strip() or k.strip() for k, v in value.items() if k.strip()}
    items = value.split(",") if isinstance(value, str) else value
    if isinstance(value, Mapping) or not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise MedicError(
            f"Slack approvers {value!r} not understood: give 'U1=alice,U2', a list of Slack user ids "
            'or an object {"U1": "alice"}'
        )
    approvers = {}
    for item in (i.strip() for i in items):
        if item:
            slack_id, _, airflow_id = item.partition("=")
            approvers[slack_id.strip()] = airflow_id.strip() or slack_id.strip()
    return approvers


def slack_responder(slack_name: str) -> str:
    """The name an approval answered by a Slack click records as its responder (Airflow shows it as who decided)."""
    return f"{slack_name}{SLACK_RESPONDER_SUFFIX}"


def answered_in_slack(responder: Mapping[str, Any] | None) -> bool:
    """Whether a HITL responder ({"id", "name"}) is a Slack click, whose Slack message the endpoint already updated."""
    return bool(responder and str(responder.get("name", "")).endswith(SLACK_RESPONDER_SUFFIX))


@dataclass(frozen=True)
class Decision:
    """A verified click on Approve or Reject, with the message it came from (to update it)."""

    decision: str  # APPROVE or REJECT
    user_id: str
    user_name: str
    approval: ApprovalRef
    reason: str
    message: MessageRef | None = None
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Refusal:
    """A request that must not be acted on: `status` is the HTTP status to answer with."""

    status: int
    reason: str


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature of a request body (what Slack puts in X-Slack-Signature).

    Computed over the body's bytes as they came, as slack-sdk does for UTF-8 bodies; slack-sdk decodes the
    body first, so a body that is not UTF-8 would raise instead of simply failing the signature.
    """
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), message, hashlib.sha256).hexdigest()


def verify_request(
    signing_secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> Refusal | None:
    """None when Slack sent this request within the last five minutes, else why not.

    slack-sdk's own verifier answers only yes or no; operators need to tell a wrong secret from a clock
    or a replay, so the two checks are made one after the other (signature first, in constant time).
    """
    headers = {k.lower(): v for k, v in headers.items()}
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not signing_secret:
        return Refusal(401, "no signing secret configured")
    if len(body) > MAX_BODY_BYTES:
        return Refusal(413, f"request body over {MAX_BODY_BYTES} bytes")
    # Headers are whatever the client sent (Starlette decodes them as Latin-1): compare bytes, never str,
    # since hmac.compare_digest raises on a non-ASCII str.
    expected = sign(signing_secret, timestamp, body).encode()
    if not TIMESTAMP.fullmatch(timestamp) or not hmac.compare_digest(expected, signature.encode("utf-8", "replace")):
        return Refusal(401, "bad signature")
    now = time.time() if now is None else now
    if len(timestamp) > MAX_TIMESTAMP_DIGITS or abs(now - int(timestamp)) > MAX_AGE_S:
        return Refusal(401, "stale timestamp")
    return None


def parse_click(
    signing_secret: str,
    allowed_users: Collection[str],
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> Decision | Refusal:
    """Verify a Slack interactivity request and read the decision in it.

    `allowed_users` are Slack user ids (U...); an empty allow-list lets nobody decide.
    """
    refusal = verify_request(signing_secret, headers, body, now)
    if refusal is not None:
        return refusal
    try:
        click = _read_click(body)
    except (KeyError, IndexError, StopIteration, TypeError, ValueError, RecursionError, MedicError) as exc:
        return Refusal(400, f"not a kafka-medic approval click: {exc}")
    if click.user_id not in allowed_users:
        return Refusal(403, f"user {click.user_id} not allowed")
    return click


def _read_click(body: bytes) -> Decision:
    """The decision in a signed block_actions payload; TypeError/ValueError/KeyError when it is not one.

    The payload is signed but still checked field by field: a signature proves who sent it, not its shape.
    """
    payload = _mapping(json.loads(parse_qs(body.decode())["payload"][0]), "payload")
    user = _mapping(payload["user"], "user")
    user_id = _text(user.get("id", ""), "user.id")
    user_name = _text(user.get("username") or user.get("name") or user_id, "user.username")
    actions = payload["actions"]
    if not isinstance(actions, list):
        raise TypeError(f"actions is {type(actions).__name__}, not a list")
    action = next(a for a in actions if isinstance(a, Mapping) and a.get("action_id") in DECISIONS)
    approval = ApprovalRef.from_value(_text(action["value"], "actions[].value"))
    decision = DECISIONS[action["action_id"]]
    message = _mapping(payload.get("message") or {}, "message")
    channel = _text(_mapping(payload.get("channel") or {}, "channel").get("id")
                    or _mapping(payload.get("container") or {}, "container").get("channel_id") or "", "channel id")
    ts = _text(message.get("ts") or "", "message.ts")
    blocks = message.get("blocks") or []
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        raise TypeError("message.blocks is not a list of objects")
    return Decision(
        decision=decision,
        user_id=user_id,
        user_name=user_name,
        approval=approval,
        reason=f"{'approved' if decision == APPROVE else 'rejected'} in Slack by {user_name} ({user_id})",
        message=MessageRef(channel=channel, ts=ts) if channel and ts else None,
        text=_text(message.get("text", ""), "message.text"),
        blocks=blocks,
    )


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} is {type(value).__name__}, not an object")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} is {type(value).__name__}, not a string")
    return value
