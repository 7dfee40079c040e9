"""Approval policy: which actions a person must approve in Slack, and which kafka-medic may just do.

Parsed from a plain mapping (an Airflow connection's extras), per action, with per-cluster overrides:

    {"heal": {"approval": "auto", "max_data_gb": 50, "max_replica_moves": 200},
     "rebalance": {"approval": "required", "timeout_minutes": 30},
     "clusters": {"prod-eu": {"heal": {"approval": "required"}}}}

The actions are the remediation kinds' (`kafka_medic.remediation.kinds`, each kind's `policy_action`).
An action the policy does not mention needs approval: doing nothing unasked is the safe default.
`demote` and `preferred_leader_election` only hand leadership around (no data moves), so their only limit
is `max_leader_moves`, and a proposal of theirs that would move data is never approved without a person.
`timeout_minutes` bounds how long a person has to answer (else the cluster's `approval_timeout_minutes`);
no answer by then is a rejection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kafka_medic.errors import MedicError
from kafka_medic.model import Proposal
from kafka_medic.remediation.kinds import KINDS

POLICY_ACTIONS = tuple(kind.policy_action for kind in KINDS.values())
LEADERSHIP_ACTIONS = tuple(kind.policy_action for kind in KINDS.values() if kind.leadership_only)  # no data
AUTO, REQUIRED = "auto", "required"
# Limit setting -> (proposal stat it bounds, stat units per limit unit, words for people, number format).
LIMITS = {
    "max_data_gb": ("data_to_move_mb", 1024.0, "GB of data to move", ",.1f"),
    "max_replica_moves": ("num_replica_moves", 1.0, "replica moves", ",.0f"),
    "max_leader_moves": ("num_leader_moves", 1.0, "leader moves", ",.0f"),
}


@dataclass(frozen=True)
class ActionPolicy:
    """`approval` is "auto" (within every limit given) or "required"; `timeout_minutes` None: the DAG's own."""

    approval: str = REQUIRED
    limits: Mapping[str, float] = field(default_factory=dict)
    timeout_minutes: float | None = None


@dataclass(frozen=True)
class Policy:
    actions: Mapping[str, ActionPolicy] = field(default_factory=dict)
    clusters: Mapping[str, Mapping[str, ActionPolicy]] = field(default_factory=dict)

    def for_action(self, cluster: str, action: str) -> ActionPolicy:
        """The cluster's own rule for the action, else the default rule, else "approval required"."""
        return self.clusters.get(cluster, {}).get(action) or self.actions.get(action) or ActionPolicy()


@dataclass(frozen=True)
class AutoApproved:
    reason: str


@dataclass(frozen=True)
class NeedsApproval:
    reason: str


def parse_policy(data: Mapping[str, Any] | None) -> Policy:
    """The policy in `data`; an unknown or bad key is a one-line MedicError naming it (e.g. "heal.max_data_gb")."""
    data = dict(data or {})
    clusters = data.pop("clusters", {})
    if not isinstance(clusters, Mapping):
        raise MedicError("policy clusters: expected a mapping of cluster name -> actions")
    return Policy(
        actions=_parse_actions(data, ""),
        clusters={name: _parse_actions(actions, f"clusters.{name}.") for name, actions in clusters.items()},
    )


def decide(policy: Policy, action: str, proposal: Proposal) -> AutoApproved | NeedsApproval:
    """May kafka-medic run this proposal without asking? The reason names the rule or the limit that decided."""
    if action not in POLICY_ACTIONS:
        raise MedicError(f"unknown action {action!r}; known: {', '.join(POLICY_ACTIONS)}")
    if not proposal.moves:
        return AutoApproved("nothing to move")
    rule = policy.for_action(proposal.cluster, action)
    replica_moves = proposal.stats.get("num_replica_moves", 0)
    if action in LEADERSHIP_ACTIONS and (replica_moves or proposal.stats.get("data_to_move_mb", 0)):
        return NeedsApproval(f"{action} should only move leadership but this proposal moves data "
                             f"({replica_moves:,} replica moves)")
    if rule.approval == REQUIRED:
        return NeedsApproval(f"policy requires approval for {action} on {proposal.cluster}")
    within = []
    for name, limit in rule.limits.items():
        stat, factor, words, fmt = LIMITS[name]
        value = proposal.stats[stat] / factor
        if value > limit:
            return NeedsApproval(f"{action} exceeds the auto-approval limit: {value:{fmt}} {words} > {limit:{fmt}}")
        within.append(f"{value:{fmt}} {words} <= {limit:{fmt}}")
    return AutoApproved(f"{action} auto-approved by policy" + (f" ({', '.join(within)})" if within else ""))


def _parse_actions(data: Any, where: str) -> dict[str, ActionPolicy]:
    if not isinstance(data, Mapping):
        raise MedicError(f"policy {where.rstrip('.') or 'root'}: expected a mapping of action -> rule")
    actions = {}
    for action, rule in data.items():
        if action not in POLICY_ACTIONS:
            raise MedicError(f"policy {where}{action}: unknown action; known: {', '.join(POLICY_ACTIONS)}")
        actions[action] = _parse_rule(rule, f"{where}{action}")
        data_limits = [name for name in actions[action].limits if name != "max_leader_moves"]
        if action in LEADERSHIP_ACTIONS and data_limits:
            raise MedicError(f"policy {where}{action}.{data_limits[0]}: {action} moves no data; "
                             "its limit is max_leader_moves")
    return actions


def _parse_rule(rule: Any, where: str) -> ActionPolicy:
    if rule in (AUTO, REQUIRED):
        return ActionPolicy(approval=rule)
    if not isinstance(rule, Mapping):
        raise MedicError(f"policy {where}: expected \"auto\", \"required\" or a mapping with 'approval'")
    limits, timeout = {}, None
    for key, value in rule.items():
        if key == "approval":
            if value not in (AUTO, REQUIRED):
                raise MedicError(f"policy {where}.approval: {value!r} is not \"auto\" or \"required\"")
        elif key == "timeout_minutes":
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise MedicError(f"policy {where}.timeout_minutes: {value!r} is not a number > 0")
            timeout = float(value)
        elif key in LIMITS:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise MedicError(f"policy {where}.{key}: {value!r} is not a number >= 0")
            limits[key] = float(value)
        else:
            raise MedicError(
                f"policy {where}.{key}: unknown setting; valid: approval, timeout_minutes, {', '.join(LIMITS)}")
    if "approval" not in rule:
        raise MedicError(f"policy {where}.approval: missing (\"auto\" or \"required\")")
    return ActionPolicy(approval=rule["approval"], limits=limits, timeout_minutes=timeout)
