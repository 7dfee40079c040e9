"""A Cruise Control execution request as a kafka-medic remediation: which kind, and its form's values.

Each execution endpoint is one remediation kind's DAG (`kafka_medic.remediation.kinds`), its parameters the
fields of that kind's trigger form, so `dryrun=false` triggers the DAG with exactly what a person would
type in the form, and a dry run plans what that run would plan. The request is checked against the live
cluster here too (`validate_request`), before any run exists: an unknown broker is a 400 naming `brokerid`,
not a failed task later.

`admin`'s self-healing switches map Cruise Control's anomaly types onto kafka-medic's anomaly kinds
(`responses.ANOMALY_TYPES`). Its `concurrent_partition_movements_per_broker` changes the running execution's
concurrency (`reads.change_concurrency`); `concurrent_leader_movements` is refused: leaders move in one
election step once the replicas are in place, so there is no leader concurrency to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafka_medic.ccapi.params import ParameterError
from kafka_medic.ccapi.responses import ANOMALY_TYPES
from kafka_medic.errors import MedicError
from kafka_medic.kafka.state import ClusterState
from kafka_medic.remediation.kinds import HEAL, REBALANCE
from kafka_medic.remediation.request import Request, validate_request
from kafka_medic.units import MB

KIND_OF = {"rebalance": REBALANCE, "add_broker": "add_brokers", "remove_broker": "decommission",
           "demote_broker": "demote", "fix_offline_replicas": HEAL}
# The form field a Cruise Control parameter fills, to name the parameter when the field is refused.
PARAMETER_OF = {"brokers": "brokerid", "excluded_brokers": "destination_broker_ids", "goals": "goals",
                "excluded_topics": "excluded_topics", "concurrency": "concurrent_partition_movements_per_broker",
                "throttle_mb_s": "replication_throttle"}
SELF_HEALING = {"enable_self_healing_for": True, "disable_self_healing_for": False}


def form_values(endpoint: str, values: dict[str, Any], state: ClusterState) -> dict[str, Any]:
    """The trigger form's values for the request (only what it sets; the form's defaults fill the rest).

    A heal has no form: it moves whatever is dead or on a failed disk now, so only `dryrun` applies to it.
    """
    if KIND_OF[endpoint] == HEAL:
        return {}
    form: dict[str, Any] = {"dry_run": values.get("dryrun", True)}
    if "goals" in values:
        form["goals"] = values["goals"]
    if "excluded_topics" in values:
        form["excluded_topics"] = values["excluded_topics"]
    if "concurrent_partition_movements_per_broker" in values:
        form["concurrency"] = values["concurrent_partition_movements_per_broker"]
    if "replication_throttle" in values:  # bytes/s, as in Cruise Control; the form takes MB/s
        form["throttle_mb_s"] = values["replication_throttle"] / MB
    if "brokerid" in values:
        form["brokers"] = values["brokerid"]
    if "destination_broker_ids" in values:  # Cruise Control's "only these receive": the others are excluded
        unknown = sorted(set(values["destination_broker_ids"]) - set(state.brokers))
        if unknown:
            raise ParameterError("destination_broker_ids", f"unknown broker {unknown[0]}; "
                                                           f"the cluster has {sorted(state.brokers)}")
        form["excluded_brokers"] = sorted(set(state.brokers) - set(values["destination_broker_ids"]))
    if endpoint == "rebalance":
        form["force"] = True  # asked for explicitly: plan even when no goal is violated, as Cruise Control does
    return form


def checked_request(endpoint: str, form: dict[str, Any], defaults: dict[str, Any], state: ClusterState) -> Request:
    """The remediation request the form describes on this cluster (defaults: the cluster policy's form defaults);
    a ParameterError naming the Cruise Control parameter when the cluster refuses a value."""
    try:
        return validate_request(KIND_OF[endpoint], {**defaults, **form}, state)
    except MedicError as exc:
        field, _, reason = str(exc).partition(": ")
        if field in PARAMETER_OF and reason:
            raise ParameterError(PARAMETER_OF[field], reason) from None
        raise ParameterError("", str(exc)) from None


@dataclass(frozen=True)
class SelfHealingSwitch:
    """Self-healing switched on or off for Cruise Control anomaly `types`, that is for kafka-medic's `kinds`."""

    on: bool
    types: list[str]
    kinds: list[str]


def self_healing_switches(values: dict[str, Any]) -> list[SelfHealingSwitch]:
    """What an admin request's enable/disable_self_healing_for ask; a ParameterError naming an unknown
    anomaly type, a type both enabled and disabled, or concurrent_leader_movements (not supported)."""
    if "concurrent_leader_movements" in values:
        raise ParameterError("concurrent_leader_movements", "not supported: leaders move in one election step once "
                                                            "the replicas are in place; give "
                                                            "concurrent_partition_movements_per_broker to change the "
                                                            "running execution's concurrency")
    asked = {name: sorted({t.upper() for t in values.get(name) or []}) for name in SELF_HEALING}
    for name, types in asked.items():
        unknown = [t for t in types if t not in ANOMALY_TYPES]
        if unknown:
            raise ParameterError(name, f"unknown anomaly type {unknown[0]!r}; valid: {', '.join(ANOMALY_TYPES)}")
    both = sorted(set(asked["enable_self_healing_for"]) & set(asked["disable_self_healing_for"]))
    if both:
        raise ParameterError("disable_self_healing_for", f"{both[0]} both enabled and disabled")
    return [SelfHealingSwitch(SELF_HEALING[name], types, [kind for t in types for kind in ANOMALY_TYPES[t]])
            for name, types in asked.items() if types]
