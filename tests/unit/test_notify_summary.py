"""Slack Block Kit messages: a real plan's proposal, within Slack's limits, with the approval reference."""

from __future__ import annotations

import json

import pytest

from kafka_medic.detector import Anomaly
from kafka_medic.errors import MedicError
from kafka_medic.notify.approval import ApprovalRef
from kafka_medic.notify.summary import anomaly_message, approval_markdown, decided_blocks, proposal_message
from kafka_medic.optimizer import PlanOptions, plan
from kafka_medic.synthetic import Scenario, synthetic_model

REF = ApprovalRef("kafka_medic_heal", "manual__2027-01-15T08:00:00+00:00", "approve", 2)


@pytest.fixture(scope="module")
def proposal():
    return plan(synthetic_model(Scenario(brokers=6, partitions=120, dead=1), seed=3, cluster="prod-eu"))


def test_proposal_message_has_header_fields_broker_table_and_buttons(proposal):
    message = proposal_message(proposal, "heal", "broker_failure:4 (dead for 6 minutes)", REF)
    header, why, fields, table, actions = message["blocks"]
    assert header["text"]["text"] == "Heal proposed for cluster prod-eu"
    assert why["text"]["text"] == "*Why:* broker_failure:4 (dead for 6 minutes)"
    texts = [f["text"] for f in fields["fields"]]
    s = proposal.stats
    assert texts[0] == f"*Replica moves*\n{s['num_replica_moves']:,}"
    assert texts[1] == f"*Leader moves*\n{s['num_leader_moves']:,}"
    assert texts[2].startswith("*Data to move*\n") and texts[2].endswith(("MB", "GB"))
    assert texts[3] == f"*Balancedness*\n{s['balancedness_before']:.1f} → {s['balancedness_after']:.1f}"
    assert texts[4] == "*Violated goals before*\n" + ", ".join(s["violated_goals_before"])
    assert texts[5] == "*Violated goals after*\n" + (", ".join(s["violated_goals_after"]) or "none")
    code = table["text"]["text"]
    assert code.startswith("```\nBrokers, % of capacity before -> after:") and code.endswith("```")
    assert "dead" in code and len(code.splitlines()) == 1 + 2 + 6 + 1  # fences, title and header, 6 brokers
    approve, reject = actions["elements"]
    assert (approve["text"]["text"], approve["style"], reject["text"]["text"], reject["style"]) == (
        "Approve", "primary", "Reject", "danger")
    assert ApprovalRef.from_value(approve["value"]) == ApprovalRef.from_value(reject["value"]) == REF
    assert message["text"].startswith("Heal for prod-eu: Plan for cluster prod-eu: ")


def test_without_a_reference_there_are_no_buttons(proposal):
    blocks = proposal_message(proposal, "rebalance", "auto-approved", None)["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section"]


def test_big_clusters_stay_within_slacks_limits(proposal):
    stats = dict(proposal.stats)
    stats["brokers"] = [dict(b, id=i) for i in range(400) for b in stats["brokers"][:1]]
    big = type(proposal)(proposal.cluster, proposal.goals, proposal.moves, stats)
    message = proposal_message(big, "rebalance", "x" * 5000, REF)
    for block in message["blocks"]:
        for text in [block.get("text", {}).get("text", "")] + [f["text"] for f in block.get("fields", [])]:
            assert len(text) <= 3000
    table = message["blocks"][3]["text"]["text"]
    assert "that change most" in table and table.endswith("```")


def test_decided_message_replaces_the_buttons(proposal):
    blocks = proposal_message(proposal, "heal", "why", REF)["blocks"]
    decided = decided_blocks(blocks, "approve", "U123")
    assert [b["type"] for b in decided] == ["header", "section", "section", "section", "context"]
    assert decided[-1]["elements"][0]["text"] == ":white_check_mark: Approved by <@U123>"
    rejected = decided_blocks(blocks, "reject", "U9", "too big")
    assert rejected[-1]["elements"][0]["text"] == ":x: Rejected by <@U9>: too big"


def test_anomaly_alert():
    a = Anomaly("broker_failure", "broker_failure:3", "critical", "broker 3 is dead", {}, 0.0, [3])
    message = anomaly_message("prod-eu", a, "heal")
    assert message["text"] == "prod-eu: broker 3 is dead"
    section, context = message["blocks"]
    assert section["text"]["text"] == ":rotating_light: *prod-eu*: broker 3 is dead"
    assert context["elements"][0]["text"] == (
        "critical · `broker_failure:3` · kafka-medic will propose a heal if it lasts")


def test_approval_reference_round_trip_and_garbage():
    assert json.loads(REF.to_value())["map_index"] == 2
    assert ApprovalRef.from_value('{"dag_id": "d", "run_id": "r", "task_id": "t"}').map_index == -1
    with pytest.raises(MedicError, match="not an approval reference"):
        ApprovalRef.from_value('{"dag_id": "d"}')


def rendered(markdown: str) -> str:
    """HTML as a CommonMark renderer with GFM tables makes it (as the Airflow UI's react-markdown + remark-gfm)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").render(markdown)


def test_approval_body_renders_tables_with_a_row_per_broker_and_move(proposal):
    body = approval_markdown(proposal)
    assert "```" not in body  # the Airflow UI shows a fenced block without a language as one collapsed line
    html = rendered(body)
    assert html.count("<table>") == 2 and "<code>" not in html
    moves_table, brokers_table_ = html.split("<table>")[1:]
    assert moves_table.count("<tr>") == 1 + 20 and f"(first 20 of {len(proposal.moves)})" in html
    assert brokers_table_.count("<tr>") == 1 + 6
    s = proposal.stats
    assert f"<td>{proposal.moves[0].topic}-{proposal.moves[0].partition}</td>" in moves_table
    for broker in s["brokers"]:
        replicas = f"{broker['before']['replicas']:.0f} → {broker['after']['replicas']:.0f}"
        assert f"<tr>\n<td>{broker['id']}</td>\n<td>{broker['state']}</td>" in brokers_table_
        assert f"<td>{replicas}</td>" in brokers_table_
    assert f"<strong>Balancedness:</strong> {s['balancedness_before']:.2f} → {s['balancedness_after']:.2f}" in html


def test_approval_body_escapes_pipes_and_keeps_the_brokers_that_change_most(proposal):
    stats = dict(proposal.stats, move_reasons=["a|b"] * len(proposal.moves))
    stats["brokers"] = [dict(b, id=i) for i, b in enumerate(stats["brokers"] * 20)]
    html = rendered(approval_markdown(type(proposal)(proposal.cluster, proposal.goals, proposal.moves, stats)))
    assert "<td>a|b</td>" in html
    brokers_table_ = html.split("<table>")[2]
    assert brokers_table_.count("<tr>") == 1 + 50 and "(50 of 120 that change most)" in html
    assert "<td>dead</td>" in brokers_table_  # the dead broker's load changes most: it keeps its place


def test_a_partial_heal_says_so_in_slack_and_in_the_airflow_ui():
    model = synthetic_model(Scenario(brokers=6, partitions=120, dead=1), seed=3, cluster="prod-eu")
    capped = plan(model, PlanOptions(max_replica_moves=5))
    left = capped.stats["replicas_left_behind"]
    assert left > 0
    slack_text = json.dumps(proposal_message(capped, "heal", "broker_failure", REF)["blocks"])
    assert f"PARTIAL: {left:,} replicas remain on dead broker" in slack_text
    assert f"**PARTIAL: {left:,} replicas remain on dead broker" in approval_markdown(capped)
    assert "PARTIAL" not in approval_markdown(plan(model))


def test_the_approval_body_and_the_slack_message_link_to_the_consoles_proposal_page(proposal):
    link = "http://airflow.example/kafka-medic/prod-eu/proposal/manual__2027-01-15T08%3A00%3A00%2B00%3A00"
    html = rendered(approval_markdown(proposal, link=link))
    assert f'<a href="{link}">{link}</a>' in html
    assert link not in rendered(approval_markdown(proposal))
    message = json.dumps(proposal_message(proposal, "heal", "why", REF, link)["blocks"])
    assert f"<{link}|" in message
    relative = "/kafka-medic/prod-eu/proposal/x"  # no base_url: Slack could not open a path, so no link there
    assert relative not in json.dumps(proposal_message(proposal, "heal", "why", REF, relative)["blocks"])
