"""Each endpoint's parameters, parsed as Cruise Control parses them; anything else is a 400 naming the parameter.

Cruise Control refuses a request with a parameter its endpoint does not know, so a typo never silently does
something else; so do we, with its error JSON (`errorMessage`, `stackTrace`, `version`). Parameters its
clients send routinely but that mean nothing here (`json`, `verbose`, `allow_capacity_estimation`...) are
accepted and have no effect: refusing them would break those clients for nothing. Values are checked here
(types, ranges, regexes in RE2); what only the live cluster can say (does broker 7 exist?) is checked when
the request is turned into a remediation request (`kafka_medic.remediation.request.validate_request`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafka_medic.ccapi import JSON_VERSION
from kafka_medic.errors import MedicError
from kafka_medic.goals import goal_names
from kafka_medic.limits import OutOfLimits, topic_regex
from kafka_medic.remediation.kinds import COMMON_FIELDS

GET, POST = "GET", "POST"
SUBSTATES = ("monitor", "executor", "analyzer", "anomaly_detector")
RESOURCES = {"disk": "disk", "cpu": "cpu", "nw_in": "nw_in", "nw_out": "nw_out",
             "network_inbound": "nw_in", "network_outbound": "nw_out"}
# Cruise Control's goal class names, for the goals kafka-medic has under its own names.
CC_GOALS = {
    "RackAwareGoal": "rack_aware", "RackAwareDistributionGoal": "rack_aware_distribution",
    "ReplicaCapacityGoal": "replica_capacity", "DiskCapacityGoal": "disk_capacity",
    "NetworkInboundCapacityGoal": "network_inbound_capacity",
    "NetworkOutboundCapacityGoal": "network_outbound_capacity", "CpuCapacityGoal": "cpu_capacity",
    "ReplicaDistributionGoal": "replica_distribution", "PotentialNwOutGoal": "potential_network_outbound",
    "DiskUsageDistributionGoal": "disk_usage_distribution",
    "NetworkInboundUsageDistributionGoal": "network_inbound_usage_distribution",
    "NetworkOutboundUsageDistributionGoal": "network_outbound_usage_distribution",
    "CpuUsageDistributionGoal": "cpu_usage_distribution",
    "TopicReplicaDistributionGoal": "topic_replica_distribution",
    "LeaderReplicaDistributionGoal": "leader_replica_distribution",
    "LeaderBytesInDistributionGoal": "leader_bytes_in_distribution",
    "PreferredLeaderElectionGoal": "preferred_leader_election",
    "MinTopicLeadersPerBrokerGoal": "min_topic_leaders_per_broker", "BrokerSetAwareGoal": "broker_set_aware",
}
# Cruise Control 2.5 endpoints kafka-medic does not serve, and why: a client gets a 400 saying so, not "unknown".
NOT_SUPPORTED = {
    "topic_configuration": "changing topics' replication factor needs a topic-replication remediation, which "
                           "kafka-medic does not have yet (its detector reports topic_replication_factor anomalies)",
    "remove_disks": "moving replicas off a broker's disks is done by the heal DAG for failed disks only",
    "rightsize": "provisioning brokers is outside kafka-medic; add them, then call add_broker",
    "train": "kafka-medic's CPU model is apportioned from broker samples and needs no training",
    "permissions": "access is Airflow's auth manager's, per cluster DAG",
}
MAX_VALUE_CHARS = 10_000  # a parameter's value; longer is refused before it is parsed


class ParameterError(MedicError):
    """A bad request, answered 400 with Cruise Control's error JSON; `parameter` names what to fix."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}" if parameter else message)
        self.parameter = parameter

    def as_json(self) -> dict[str, Any]:
        return error_json(str(self))


def error_json(message: str) -> dict[str, Any]:
    """Cruise Control's error body; the stack trace is the message alone (no server internals)."""
    return {"errorMessage": message, "stackTrace": message, "version": JSON_VERSION}


@dataclass(frozen=True)
class Param:
    """How one parameter's text becomes its value (ValueError saying why not), and its OpenAPI schema."""

    parse: Callable[[str], Any]
    schema: Mapping[str, Any]


def _boolean(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise ValueError("must be true or false")
    return text.lower() == "true"


def _integer(minimum: int, maximum: int | None = None) -> Param:
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(f"must be at least {minimum}" + (f" and at most {maximum}" if maximum is not None else ""))
        return value
    bounds = {"minimum": minimum, **({"maximum": maximum} if maximum is not None else {})}
    return Param(parse, {"type": "integer", "format": "int64", **bounds})


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise ValueError("must be from 0 to 1")
    return value


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _brokers(text: str) -> list[int]:
    ids = [int(item) for item in _items(text)]
    if not ids or min(ids) < 0:
        raise ValueError("must be a comma-separated list of broker ids")
    return ids


def _choices(allowed: Sequence[str]) -> Param:
    def parse(text: str) -> list[str]:
        chosen = [item.lower() for item in _items(text)]
        bad = [item for item in chosen if item not in allowed]
        if bad or not chosen:
            raise ValueError(f"unknown value {bad[0] if bad else text!r}; valid: {', '.join(allowed)}")
        return chosen
    return Param(parse, {"type": "array", "items": {"type": "string", "enum": list(allowed)}, "minItems": 1})


def _resource(text: str) -> str:
    if text.lower() not in RESOURCES:
        raise ValueError(f"unknown resource {text!r}; valid: {', '.join(RESOURCES)}")
    return RESOURCES[text.lower()]


def _regex(text: str) -> str:
    try:
        topic_regex(text)
    except OutOfLimits as exc:
        raise ValueError(str(exc)) from None
    return text


def _goals(text: str) -> list[str]:
    """Goal names in priority order, kafka-medic's or Cruise Control's class names (with or without package)."""
    known = set(goal_names())
    goals = []
    for item in _items(text):
        name = CC_GOALS.get(item.rsplit(".", 1)[-1], item)
        if name not in known:
            raise ValueError(f"unknown goal {item!r}; valid: {', '.join(sorted(known))} or their Cruise Control names")
        goals.append(name)
    return goals


def _partitions(text: str) -> tuple[int, int]:
    """A partition number or an inclusive range `low-high`."""
    low, _, high = text.partition("-")
    first, last = int(low), int(high or low)
    if first < 0 or last < first:
        raise ValueError("must be a partition number or a range low-high")
    return first, last


# Lists are comma-separated in one value (`brokerid=1,2`), as Cruise Control takes them: OpenAPI's form style.
BOOLEAN = Param(_boolean, {"type": "boolean"})
TEXT = Param(str, {"type": "string"})
ITEMS = Param(_items, {"type": "array", "items": {"type": "string"}})
BROKER_IDS = Param(_brokers, {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1})
REGEX = Param(_regex, {"type": "string", "description": "a regex (RE2), matched against whole topic names"})
GOALS = Param(_goals, {"type": "array", "minItems": 1, "items": {
    "type": "string", "enum": sorted({*goal_names(), *CC_GOALS})}})
MS = _integer(0)
COMMON = {"json": BOOLEAN, "get_response_schema": BOOLEAN, "doAs": TEXT, "reason": TEXT}
# Accepted for the clients' sake, with no effect here (kafka-medic has no such knob, or it is always so).
NO_EFFECT = {"verbose": BOOLEAN, "super_verbose": BOOLEAN, "allow_capacity_estimation": BOOLEAN,
             "use_ready_default_goals": BOOLEAN, "ignore_proposal_cache": BOOLEAN, "data_from": TEXT,
             "exclude_recently_demoted_brokers": BOOLEAN, "exclude_recently_removed_brokers": BOOLEAN,
             "skip_hard_goal_check": BOOLEAN, "fast_mode": BOOLEAN, "kafka_assigner": BOOLEAN,
             "replica_movement_strategies": TEXT, "execution_progress_check_interval_ms": MS,
             "skip_urp_demotion": BOOLEAN, "exclude_follower_demotion": BOOLEAN, "throttle_removed_broker": BOOLEAN,
             "stop_ongoing_execution": BOOLEAN, "review_id": MS, "start": MS, "end": MS, "time": MS,
             "populate_disk_info": BOOLEAN, "capacity_only": BOOLEAN, "max_load": BOOLEAN, "avg_load": BOOLEAN,
             "min_valid_partition_ratio": Param(_fraction, {"type": "number", "minimum": 0, "maximum": 1}),
             "fetch_completed_task": BOOLEAN, "stop_external_agent": BOOLEAN,
             "concurrent_leader_movements": _integer(1)}
# What an execution request maps onto its DAG's form (`kafka_medic.ccapi.mapping`).
CONCURRENCY = _integer(1, next(f for f in COMMON_FIELDS if f.name == "concurrency").schema["maximum"])  # the form's
EXECUTION = {"dryrun": BOOLEAN, "goals": GOALS, "excluded_topics": REGEX, "replication_throttle": _integer(1),
             "concurrent_partition_movements_per_broker": CONCURRENCY}
BROKERS = {"brokerid": BROKER_IDS}
DESTINATIONS = {"destination_broker_ids": BROKER_IDS}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    params: Mapping[str, Param]  # this endpoint's own parameters, besides COMMON and NO_EFFECT
    required: tuple[str, ...] = ()
    doc: str = ""

    @property
    def accepted(self) -> dict[str, Param]:
        return {**COMMON, **NO_EFFECT, **self.params}


RESOURCE = Param(_resource, {"type": "string", "enum": list(RESOURCES)})
PARTITIONS = Param(_partitions, {"type": "string", "pattern": "^[0-9]+(-[0-9]+)?$"})
ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in (
    Endpoint("state", GET, {"substates": _choices(SUBSTATES)}, doc="monitor, executor, analyzer, anomaly detector"),
    Endpoint("load", GET, {}, doc="each broker's load"),
    Endpoint("partition_load", GET, {"resource": RESOURCE, "entries": _integer(1), "topic": REGEX,
                                     "partition": PARTITIONS, "brokerid": BROKER_IDS},
             doc="each partition's load, highest first"),
    Endpoint("kafka_cluster_state", GET, {"topic": REGEX}, doc="brokers and partitions as Kafka reports them"),
    Endpoint("proposals", GET, {"goals": GOALS, "excluded_topics": REGEX, **DESTINATIONS},
             doc="what a rebalance would move now (a dry-run plan)"),
    Endpoint("user_tasks", GET, {"user_task_ids": ITEMS, "client_ids": ITEMS, "endpoints": ITEMS,
                                 "types": ITEMS, "entries": _integer(1)},
             doc="requests: in-process ones and the remediation DAG runs (the run id is the User-Task-ID)"),
    Endpoint("review_board", GET, {"review_ids": ITEMS}, doc="remediation runs at their approval: waiting or decided"),
    Endpoint("rebalance", POST, {**EXECUTION, **DESTINATIONS}, doc="the rebalance DAG"),
    Endpoint("add_broker", POST, {**EXECUTION, **BROKERS}, ("brokerid",), doc="the add_brokers DAG"),
    Endpoint("remove_broker", POST, {**EXECUTION, **BROKERS, **DESTINATIONS}, ("brokerid",),
             doc="the decommission DAG"),
    Endpoint("demote_broker", POST, {**EXECUTION, **BROKERS}, ("brokerid",), doc="the demote DAG"),
    Endpoint("fix_offline_replicas", POST, EXECUTION, doc="the heal DAG"),
    Endpoint("stop_proposal_execution", POST, {"force_stop": BOOLEAN}, doc="the executor's stop"),
    Endpoint("pause_sampling", POST, {}, doc="pauses the sample DAG"),
    Endpoint("resume_sampling", POST, {}, doc="unpauses the sample DAG"),
    Endpoint("review", POST, {"approve": ITEMS, "discard": ITEMS}, doc="answers approvals (review ids: run ids)"),
    Endpoint("admin", POST, {"enable_self_healing_for": ITEMS, "disable_self_healing_for": ITEMS,
                             "drop_recently_removed_brokers": BROKER_IDS, "drop_recently_demoted_brokers": BROKER_IDS,
                             "concurrent_partition_movements_per_broker": CONCURRENCY},
             doc="self-healing on/off (the maintenance switch) and remembered brokers"),
)}


def parse(endpoint: str, method: str, query: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The request's parameters by name, parsed; ParameterError naming the first unknown, repeated or bad one.

    Cruise Control matches parameter names case-insensitively; so do we (the names here are lower case but
    for doAs, which is matched as written too).
    """
    spec = ENDPOINTS.get(endpoint)
    if endpoint in NOT_SUPPORTED:
        raise ParameterError("", f"{endpoint} is not supported by kafka-medic: {NOT_SUPPORTED[endpoint]}")
    if spec is None:
        raise ParameterError("", f"unknown endpoint {endpoint!r}; valid: {', '.join(ENDPOINTS)}")
    if spec.method != method:
        raise ParameterError("", f"{endpoint} takes {spec.method} requests, not {method}")
    accepted = spec.accepted
    by_lower = {name.lower(): name for name in accepted}
    unknown = sorted({key for key, _ in query if key.lower() not in by_lower})
    if unknown:
        raise ParameterError(unknown[0], f"unrecognized endpoint parameters in {endpoint} {method} request: "
                                         f"{unknown}; supported parameters: {sorted(accepted)}")
    values: dict[str, Any] = {}
    for key, text in query:
        name = by_lower[key.lower()]
        if name in values:
            raise ParameterError(name, "given more than once")
        if len(text) > MAX_VALUE_CHARS:
            raise ParameterError(name, f"value over {MAX_VALUE_CHARS} characters")
        try:
            values[name] = accepted[name].parse(text)
        except ValueError as exc:
            raise ParameterError(name, f"bad value {text[:100]!r}: {exc}") from None
    missing = [name for name in spec.required if name not in values]
    if missing:
        raise ParameterError(missing[0], f"required by {endpoint}")
    return values
