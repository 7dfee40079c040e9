"""Posting to Slack with slack-sdk: proposals to approve, one alert per new anomaly, decided proposals.

The token comes from an Airflow `slack` connection (password; extras `base_url`, `channel`) or from
$KAFKA_MEDIC_SLACK_TOKEN; it is never part of a repr, a log line or an error message. `base_url`
points tests (and Slack-compatible servers such as Mattermost bridges) somewhere other than slack.com.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

from kafka_medic.detector.anomaly import Anomaly
from kafka_medic.detector.remediation import DEFAULT_RULES, Rule
from kafka_medic.errors import MedicError
from kafka_medic.model import Proposal
from kafka_medic.notify.approval import ApprovalRef
from kafka_medic.notify.summary import anomaly_message, closed_blocks, decided_blocks, proposal_message

TOKEN_ENV, CHANNEL_ENV, BASE_URL_ENV = "KAFKA_MEDIC_SLACK_TOKEN", "KAFKA_MEDIC_SLACK_CHANNEL", "KAFKA_MEDIC_SLACK_URL"
SLACK_API = "https://slack.com/api/"


@dataclass(frozen=True)
class SlackSettings:
    token: str = field(repr=False)
    channel: str
    base_url: str = SLACK_API

    def __post_init__(self) -> None:
        if not self.token:
            raise MedicError(f"no Slack token: set the slack connection's password or ${TOKEN_ENV}")
        if not self.channel:
            raise MedicError(f"no Slack channel: set the slack connection's extra 'channel' or ${CHANNEL_ENV}")

    @classmethod
    def from_env(cls, channel: str | None = None) -> SlackSettings:
        env = os.environ
        return cls(token=env.get(TOKEN_ENV, ""), channel=channel or env.get(CHANNEL_ENV, ""),
                   base_url=env.get(BASE_URL_ENV) or SLACK_API)

    @classmethod
    def from_connection(cls, conn: Any, channel: str | None = None) -> SlackSettings:
        """From an Airflow Connection (anything with `password` and `extra_dejson`); the env fills gaps."""
        extra = conn.extra_dejson or {}
        return cls(token=conn.password or os.environ.get(TOKEN_ENV, ""),
                   channel=channel or extra.get("channel") or os.environ.get(CHANNEL_ENV, ""),
                   base_url=extra.get("base_url") or os.environ.get(BASE_URL_ENV) or SLACK_API)


@dataclass(frozen=True)
class MessageRef:
    """Where a posted message is, to update it later (chat.update needs the channel id and the ts)."""

    channel: str
    ts: str


class SlackNotifier:
    def __init__(self, settings: SlackSettings) -> None:
        base_url = settings.base_url if settings.base_url.endswith("/") else settings.base_url + "/"
        self.channel = settings.channel
        self.client = WebClient(token=settings.token, base_url=base_url, timeout=30)

    def post(self, message: Mapping[str, Any], channel: str | None = None) -> MessageRef:
        response = self._call("chat.postMessage", channel=channel or self.channel, **message)
        return MessageRef(channel=response["channel"], ts=response["ts"])

    def update(self, ref: MessageRef, message: Mapping[str, Any]) -> None:
        self._call("chat.update", channel=ref.channel, ts=ref.ts, **message)

    def post_proposal(
        self, proposal: Proposal, action: str, why: str, approval: ApprovalRef | None = None, link: str | None = None
    ) -> MessageRef:
        """The proposal summary, with Approve / Reject buttons when `approval` names the waiting task, and a link
        to the console's page of the plan."""
        return self.post(proposal_message(proposal, action, why, approval, link))

    def post_anomalies(
        self, cluster: str, anomalies: Iterable[Anomaly], rules: Mapping[str, Rule] = DEFAULT_RULES
    ) -> list[MessageRef]:
        """One alert message per anomaly, saying which remediation it will trigger."""
        return [self.post(anomaly_message(cluster, a, rules[a.kind].action)) for a in anomalies]

    def mark_decided(
        self, ref: MessageRef, blocks: list[dict[str, Any]], text: str, decision: str, user: str, reason: str = ""
    ) -> None:
        """Replace the buttons of a proposal message by who approved or rejected it."""
        self.update(ref, {"text": text, "blocks": decided_blocks(blocks, decision, user, reason)})

    def close_proposal(self, ref: MessageRef, proposal: Proposal, action: str, why: str, outcome: str,
                       link: str | None = None) -> None:
        """Rewrite the proposal message at `ref` without its buttons, ending with `outcome` (who decided, or why
        nobody did): for answers that did not come from a click in Slack (the Airflow UI, the timeout)."""
        message = proposal_message(proposal, action, why, link=link)
        self.update(ref, {"text": message["text"], "blocks": closed_blocks(message["blocks"], outcome)})

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        try:
            data = self.client.api_call(method, json=kwargs).data
        except SlackApiError as exc:
            raise MedicError(f"Slack {method} failed: {exc.response.get('error', exc.response.status_code)}") from exc
        except (SlackRequestError, OSError) as exc:
            raise MedicError(f"Slack {method} failed: {exc}") from exc
        if not isinstance(data, dict):  # slack-sdk gives bytes only for non-JSON answers (file downloads)
            raise MedicError(f"Slack {method} answered without a JSON body")
        return data
