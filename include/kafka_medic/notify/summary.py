"""Slack Block Kit messages (a proposal to approve, an anomaly alert, a decided proposal) and the Airflow
UI's approval body.

The numbers and tables are the optimizer's own text summary (`kafka_medic.optimizer.summary`), so
Slack, the CLI and the Airflow task log always say the same thing.

The Airflow 3 UI renders a human-in-the-loop task's body with react-markdown and remark-gfm: a fenced
code block without a language comes out as inline code with its line breaks collapsed, while GFM tables
come out as tables. So the approval body is markdown with real tables (`approval_markdown`).
"""

from __future__ import annotations

from typing import Any

from kafka_medic.detector.anomaly import CRITICAL, WARNING, Anomaly
from kafka_medic.model import Proposal
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.notify.approval import APPROVE, REJECT, ApprovalRef
from kafka_medic.optimizer.summary import brokers_table, format_mb, headline, partial_note

# Slack's limits: header text 150 characters, section text 3000, a field 2000, at most 10 fields.
HEADER_MAX, SECTION_MAX, FIELD_MAX = 150, 3000, 2000
APPROVE_ACTION_ID, REJECT_ACTION_ID = "kafka_medic_approve", "kafka_medic_reject"
ACTIONS_BLOCK_ID = "kafka_medic_approval"
SEVERITY_EMOJI = {CRITICAL: ":rotating_light:", WARNING: ":warning:"}


def proposal_message(
    proposal: Proposal, action: str, why: str, approval: ApprovalRef | None = None, link: str | None = None
) -> dict[str, Any]:
    """chat.postMessage arguments (text, blocks) asking to approve `action` (heal, rebalance...) on the cluster.

    `why` says what made kafka-medic plan it (e.g. the anomaly summaries); without `approval` the
    message has no buttons (an auto-approved action, posted for information); `link` is the console's page of
    the plan (every move with its reason), shown when absolute (Slack cannot resolve a path).
    """
    s = proposal.stats
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"{action.capitalize()} proposed for cluster {proposal.cluster}")},
        {"type": "section", "text": _mrkdwn(f"*Why:* {why}")},
        {
            "type": "section",
            "fields": [
                _field("Replica moves", f"{s['num_replica_moves']:,}"),
                _field("Leader moves", f"{s['num_leader_moves']:,}"),
                _field("Data to move", format_mb(s["data_to_move_mb"])),
                _field("Balancedness", f"{s['balancedness_before']:.1f} → {s['balancedness_after']:.1f}"),
                _field("Violated goals before", ", ".join(s["violated_goals_before"]) or "none"),
                _field("Violated goals after", ", ".join(s["violated_goals_after"]) or "none"),
            ],
        },
    ]
    if partial := partial_note(proposal):
        blocks.append({"type": "section", "text": _mrkdwn(f":warning: {partial}")})
    if s.get("brokers"):
        blocks.append({"type": "section", "text": _mrkdwn(_broker_table_block(s["brokers"]))})
    if link and link.startswith(("http://", "https://")):
        blocks.append({"type": "section", "text": _mrkdwn(f"<{link}|Every move and broker in the console>")})
    if approval is not None:
        value = approval.to_value()
        blocks.append(
            {
                "type": "actions",
                "block_id": ACTIONS_BLOCK_ID,
                "elements": [
                    _button("Approve", APPROVE_ACTION_ID, value, "primary"),
                    _button("Reject", REJECT_ACTION_ID, value, "danger"),
                ],
            }
        )
    return {"text": f"{action.capitalize()} for {proposal.cluster}: {headline(proposal)}", "blocks": blocks}


def decided_blocks(blocks: list[dict[str, Any]], decision: str, user: str, reason: str = "") -> list[dict[str, Any]]:
    """The proposal message after a click: the buttons replaced by who decided what."""
    verb = {APPROVE: ":white_check_mark: Approved", REJECT: ":x: Rejected"}[decision]
    return closed_blocks(blocks, f"{verb} by <@{user}>" + (f": {reason}" if reason else ""))


def closed_blocks(blocks: list[dict[str, Any]], outcome: str) -> list[dict[str, Any]]:
    """The proposal message once answered (in Slack, in the Airflow UI, or by the timeout): buttons -> `outcome`."""
    kept = [b for b in blocks if b.get("block_id") != ACTIONS_BLOCK_ID]
    return [*kept, {"type": "context", "elements": [_mrkdwn(outcome)]}]


def approval_markdown(proposal: Proposal, max_moves: int = 20, max_brokers: int = 50, link: str | None = None) -> str:
    """The proposal for the Airflow UI's approval page: headline numbers, then the moves and a per-broker
    before/after table as GFM tables (on big clusters, the `max_brokers` brokers whose load changes most);
    `link` is the console's page of the plan, with every move and broker."""
    s = proposal.stats
    lines = [
        f"**{headline(proposal)}**",
        "",
        f"- **Data to move:** {format_mb(s['data_to_move_mb'])}",
        f"- **Balancedness:** {s['balancedness_before']:.2f} → {s['balancedness_after']:.2f}",
        f"- **Violated goals before:** {', '.join(s['violated_goals_before']) or 'none'}",
        f"- **Violated goals after:** {', '.join(s['violated_goals_after']) or 'none'}",
    ]
    if partial := partial_note(proposal):
        lines.append(f"- **{partial}**")
    if link:
        lines.append(f"- **Every move and broker:** [{link}]({link})")
    if s.get("moves_by_goal"):
        lines.append("- **Why:** " + ", ".join(f"{goal} {n}" for goal, n in s["moves_by_goal"].items()))
    if proposal.moves:
        reasons = s.get("move_reasons") or [""] * len(proposal.moves)
        shown = list(zip(proposal.moves, reasons, strict=True))[:max_moves]
        rows = [[f"{m.topic}-{m.partition}",
                 f"{_ids(m.old_replicas)} → {_ids(m.new_replicas)}",
                 f"{m.old_leader} → {m.new_leader}" if m.old_leader != m.new_leader else str(m.new_leader),
                 reason or ""] for m, reason in shown]
        count = f" (first {len(shown)} of {len(proposal.moves):,})" if len(shown) < len(proposal.moves) else ""
        lines += ["", f"**Moves**{count}", "", *_gfm_table(["partition", "replicas", "leader", "reason"], rows)]
    brokers = s.get("brokers") or []
    if brokers:
        shown_brokers = sorted(sorted(brokers, key=_load_change, reverse=True)[:max_brokers], key=lambda b: b["id"])
        count = f" ({max_brokers} of {len(brokers)} that change most)" if len(brokers) > max_brokers else ""
        rows = [[str(b["id"]), b["state"] + (", excluded" if b.get("excluded") else ""),
                 *(f"{_share(b['before'][r], b['capacity'][r])} → {_share(b['after'][r], b['capacity'][r])}"
                   for r in RESOURCES),
                 f"{b['before']['replicas']:.0f} → {b['after']['replicas']:.0f}",
                 f"{b['before']['leaders']:.0f} → {b['after']['leaders']:.0f}"] for b in shown_brokers]
        header = ["broker", "state", *(f"{r} %" for r in RESOURCES), "replicas", "leaders"]
        lines += ["", f"**Brokers, % of capacity before → after**{count}", "", *_gfm_table(header, rows)]
    return "\n".join(lines)


def _gfm_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    return [row(header), "|" + "---|" * len(header), *(row(r) for r in rows)]


def _load_change(broker: dict[str, Any]) -> float:
    return sum(abs(broker["after"][r] - broker["before"][r]) / broker["capacity"][r]
               for r in RESOURCES if broker["capacity"][r] > 0)


def _share(load: float, capacity: float) -> str:
    return f"{100 * load / capacity:.1f}" if capacity > 0 else "-"


def _ids(ids: list[int]) -> str:
    return ",".join(map(str, ids))


def anomaly_message(cluster: str, anomaly: Anomaly, action: str | None = None) -> dict[str, Any]:
    """chat.postMessage arguments for one new anomaly; `action` is the remediation it will trigger, if any."""
    emoji = SEVERITY_EMOJI.get(anomaly.severity, ":information_source:")
    text = f"{emoji} *{cluster}*: {anomaly.summary}"
    context = f"{anomaly.severity} · `{anomaly.key}`"
    if action:
        context += f" · kafka-medic will propose a {action} if it lasts"
    return {
        "text": f"{cluster}: {anomaly.summary}"[:SECTION_MAX],
        "blocks": [
            {"type": "section", "text": _mrkdwn(_clip(text, SECTION_MAX))},
            {"type": "context", "elements": [_mrkdwn(context)]},
        ],
    }


def _broker_table_block(brokers: list[dict[str, Any]]) -> str:
    """The optimizer's per-broker table in a code block; on big clusters, the brokers that change most."""
    limit = None
    while True:
        text = f"```\n{brokers_table(brokers, limit)}\n```"
        if len(text) <= SECTION_MAX or limit == 1:
            return _clip(text, SECTION_MAX)
        limit = (limit or len(brokers)) // 2 or 1


def _button(text: str, action_id: str, value: str, style: str) -> dict[str, Any]:
    return {"type": "button", "text": _plain(text), "action_id": action_id, "value": value, "style": style}


def _field(title: str, value: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _clip(f"*{title}*\n{value}", FIELD_MAX)}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, HEADER_MAX), "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _clip(text, SECTION_MAX)}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
