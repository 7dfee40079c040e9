"""What each kind of anomaly triggers, and after how long: separate alert and act thresholds.

As in Cruise Control (broker.failure.alert.threshold.ms / broker.failure.self.healing.threshold.ms),
a broker that is back after a 30-second restart should neither page anyone nor move data: people hear
about an anomaly once it has lasted `alert_after_s`, and kafka-medic acts once it has lasted `act_after_s`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from kafka_medic.detector.anomaly import (
    BROKER_FAILURE,
    DISK_FAILURE,
    HARD_GOAL_VIOLATION,
    KINDS,
    OFFLINE_PARTITIONS,
    SOFT_GOAL_VIOLATION,
    TOPIC_REPLICATION_FACTOR,
    UNDER_REPLICATED,
)
from kafka_medic.errors import MedicError
from kafka_medic.remediation.kinds import DETECTOR, HEAL, REBALANCE, triggered_by

ACTIONS = tuple(kind.name for kind in triggered_by(DETECTOR))  # the remediation kinds a rule may start


@dataclass(frozen=True)
class Rule:
    """`action` is the remediation DAG to run (None: alert only)."""

    action: str | None
    alert_after_s: float
    act_after_s: float


# Offline partitions and short replica lists need a person (a broker back, unclean election, a new
# replica); moving replicas cannot fix them. A lagging follower gets half an hour to catch up first.
DEFAULT_RULES: dict[str, Rule] = {
    BROKER_FAILURE: Rule(HEAL, alert_after_s=60, act_after_s=300),
    DISK_FAILURE: Rule(HEAL, alert_after_s=60, act_after_s=300),
    OFFLINE_PARTITIONS: Rule(None, alert_after_s=0, act_after_s=0),
    UNDER_REPLICATED: Rule(HEAL, alert_after_s=300, act_after_s=1800),
    TOPIC_REPLICATION_FACTOR: Rule(None, alert_after_s=0, act_after_s=0),
    HARD_GOAL_VIOLATION: Rule(REBALANCE, alert_after_s=300, act_after_s=900),
    SOFT_GOAL_VIOLATION: Rule(REBALANCE, alert_after_s=3600, act_after_s=3600),
}


def parse_rules(data: Mapping[str, Any] | None) -> dict[str, Rule]:
    """Defaults overridden per kind, e.g. {"broker_failure": {"act_after_s": 600}, "soft_goal_violation":
    {"action": null}}; an unknown kind or setting, or a bad value, is a one-line error naming it."""
    rules = dict(DEFAULT_RULES)
    settings = {f.name for f in fields(Rule)}
    for kind, overrides in (data or {}).items():
        if kind not in KINDS:
            raise MedicError(f"remediation rule {kind!r}: unknown anomaly kind; known: {', '.join(KINDS)}")
        if not isinstance(overrides, Mapping):
            raise MedicError(f"remediation rule {kind!r}: expected a mapping of {', '.join(sorted(settings))}")
        for name, value in overrides.items():
            where = f"remediation rule {kind}.{name}"
            if name not in settings:
                raise MedicError(f"{where}: unknown setting; valid: {', '.join(sorted(settings))}")
            if name == "action" and value is not None and value not in ACTIONS:
                raise MedicError(f"{where}: {value!r} is not one of {', '.join(ACTIONS)} or null")
            if name != "action" and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise MedicError(f"{where}: {value!r} is not a number of seconds >= 0")
        rules[kind] = replace(rules[kind], **overrides)
    return rules


def remediation(kind: str, rules: Mapping[str, Rule] = DEFAULT_RULES) -> str | None:
    """The action an anomaly of this kind triggers once it lasts long enough, or None."""
    return rules[kind].action
