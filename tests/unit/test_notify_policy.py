"""Approval policy: parsing with one-line errors, per-cluster overrides, limits, the safe default."""

from __future__ import annotations

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.model import Move, Proposal
from kafka_medic.notify.policy import AutoApproved, NeedsApproval, decide, parse_policy

POLICY = {
    "heal": {"approval": "auto", "max_data_gb": 10, "max_replica_moves": 50},
    "rebalance": "required",
    "decommission": "auto",
    "clusters": {"prod-eu": {"heal": {"approval": "required"}}},
}


def proposal(cluster="dev", replica_moves=3, data_mb=2048.0, leader_moves=1, moves=1):
    stats = {"num_replica_moves": replica_moves, "num_leader_moves": leader_moves, "data_to_move_mb": data_mb}
    return Proposal(cluster, [], [Move("t", i, [1, 2], [3, 2], 1, 3) for i in range(moves)], stats)


def test_heal_within_limits_is_auto_approved_and_says_why():
    assert decide(parse_policy(POLICY), "heal", proposal()) == AutoApproved(
        "heal auto-approved by policy (2.0 GB of data to move <= 10.0, 3 replica moves <= 50)")


@pytest.mark.parametrize(
    ("action", "p", "reason"),
    [
        ("heal", proposal(data_mb=20 * 1024), "heal exceeds the auto-approval limit: 20.0 GB of data to move > 10.0"),
        ("heal", proposal(replica_moves=51), "heal exceeds the auto-approval limit: 51 replica moves > 50"),
        ("heal", proposal(cluster="prod-eu"), "policy requires approval for heal on prod-eu"),
        ("rebalance", proposal(), "policy requires approval for rebalance on dev"),
        ("add_brokers", proposal(), "policy requires approval for add_brokers on dev"),  # not in the policy
    ],
)
def test_needs_approval(action, p, reason):
    assert decide(parse_policy(POLICY), action, p) == NeedsApproval(reason)


def test_unlimited_auto_and_empty_proposals():
    assert decide(parse_policy(POLICY), "decommission", proposal(data_mb=1e9)) == AutoApproved(
        "decommission auto-approved by policy")
    assert decide(parse_policy({}), "rebalance", proposal(moves=0)) == AutoApproved("nothing to move")
    assert isinstance(decide(parse_policy(None), "heal", proposal()), NeedsApproval)
    with pytest.raises(MedicError, match="unknown action 'reboot'"):
        decide(parse_policy({}), "reboot", proposal())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"heel": "auto"}, "policy heel: unknown action; known: heal, rebalance, decommission, add_brokers"),
        ({"heal": "yes"}, "policy heal: expected \"auto\", \"required\" or a mapping with 'approval'"),
        ({"heal": {"approval": "maybe"}}, "policy heal.approval: 'maybe' is not \"auto\" or \"required\""),
        ({"heal": {"max_data_gb": 5}}, "policy heal.approval: missing"),
        ({"heal": {"approval": "auto", "max_gb": 5}}, "policy heal.max_gb: unknown setting; valid: approval, "),
        ({"heal": {"approval": "auto", "max_data_gb": "10GB"}}, "policy heal.max_data_gb: '10GB' is not a number"),
        ({"heal": {"approval": "auto", "max_replica_moves": -1}}, "policy heal.max_replica_moves: -1 is not"),
        ({"clusters": ["prod"]}, "policy clusters: expected a mapping"),
        ({"clusters": {"prod": {"heal": {"approval": "auto", "max_leader_moves": True}}}},
         "policy clusters.prod.heal.max_leader_moves: True is not a number"),
        ({"clusters": {"prod": "auto"}}, "policy clusters.prod: expected a mapping of action -> rule"),
        ({"heal": {"approval": "required", "timeout_minutes": 0}}, "policy heal.timeout_minutes: 0 is not a number"),
    ],
)
def test_bad_policies_are_one_line_errors_naming_the_key(data, message):
    with pytest.raises(MedicError) as info:
        parse_policy(data)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_approval_timeout_per_action_and_cluster():
    policy = parse_policy({"heal": {"approval": "required", "timeout_minutes": 0.5},
                           "clusters": {"prod": {"heal": {"approval": "required", "timeout_minutes": 90}}}})
    assert policy.for_action("dev", "heal").timeout_minutes == 0.5
    assert policy.for_action("prod", "heal").timeout_minutes == 90.0
    assert policy.for_action("dev", "rebalance").timeout_minutes is None  # the DAG's approval_timeout_minutes


LEADERSHIP = {"demote": {"approval": "auto", "max_leader_moves": 20}, "preferred_leader_election": "auto"}


@pytest.mark.parametrize("action", ["demote", "preferred_leader_election"])
def test_leadership_actions_are_policy_actions(action):
    elections = proposal(replica_moves=0, data_mb=0.0, leader_moves=12, moves=12)
    assert isinstance(decide(parse_policy({}), action, elections), NeedsApproval)  # not mentioned: ask
    assert isinstance(decide(parse_policy(LEADERSHIP), action, elections), AutoApproved)
    overridden = parse_policy({**LEADERSHIP, "clusters": {"dev": {action: "required"}}})
    assert decide(overridden, action, elections) == NeedsApproval(f"policy requires approval for {action} on dev")


def test_demote_within_its_leader_move_limit_only():
    policy = parse_policy(LEADERSHIP)
    assert decide(policy, "demote", proposal(replica_moves=0, data_mb=0.0, leader_moves=20, moves=20)) == AutoApproved(
        "demote auto-approved by policy (20 leader moves <= 20)")
    assert decide(policy, "demote", proposal(replica_moves=0, data_mb=0.0, leader_moves=21, moves=21)) == (
        NeedsApproval("demote exceeds the auto-approval limit: 21 leader moves > 20"))


@pytest.mark.parametrize("action", ["demote", "preferred_leader_election"])
def test_a_leadership_action_that_would_move_data_is_never_auto_approved(action):
    moving = proposal(replica_moves=2, data_mb=512.0, leader_moves=1, moves=2)
    assert decide(parse_policy(LEADERSHIP), action, moving) == NeedsApproval(
        f"{action} should only move leadership but this proposal moves data (2 replica moves)")


@pytest.mark.parametrize("limit", ["max_data_gb", "max_replica_moves"])
def test_data_limits_on_a_leadership_action_are_refused(limit):
    with pytest.raises(MedicError) as info:
        parse_policy({"clusters": {"prod": {"demote": {"approval": "auto", limit: 5}}}})
    assert str(info.value) == (
        f"policy clusters.prod.demote.{limit}: demote moves no data; its limit is max_leader_moves")
