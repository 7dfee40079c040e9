"""A Cruise Control execution request as a kafka-medic remediation: which kind, and its form's values.

Each execution endpoint is one remediation kind's DAG (`kafka_medic.remediation.kinds`), its parameters the
fields of that kind's trigger form, so `dryrun=false` triggers the DAG with exactly what a person would
type in the form, and a dry run plans what that run would plan. The request is checked against the live
cluster here too (`validate_request`), before any run exists: an unknown broker is a 400 naming `brokerid`,
not a failed task later.
"""

from __future__ import annotations

from typing import Any

from kafka_medic.ccapi.params import ParameterError
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
