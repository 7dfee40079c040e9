"""The OpenAPI 3 schema of one cluster's Cruise Control API, built from the endpoint table (`params.ENDPOINTS`).

Built, not written by hand, so it cannot drift from what the server accepts: every endpoint, every parameter
it takes (with its type and range), and the bodies it answers with (Cruise Control's names, required fields
as `responses` fills them). Served at `.../kafkacruisecontrol/openapi.json`; a client generator or
schemathesis reads it from there.
"""

from __future__ import annotations

from typing import Any

from kafka_medic.ccapi import CC_VERSION
from kafka_medic.ccapi.params import COMMON, ENDPOINTS, NO_EFFECT, SUBSTATES, Endpoint

BEARER = "bearer"


def _object(*required: str, **properties: Any) -> dict[str, Any]:
    props = {name: {} for name in required} | properties
    return {"type": "object", "required": list(required), "properties": props}


def _array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


INT, NUMBER, STRING, BOOL = ({"type": t} for t in ("integer", "number", "string", "boolean"))
BROKER = _object("Host", "Broker", "Rack", "BrokerState", "DiskMB", "DiskPct", "CpuPct", "LeaderNwInRate",
                 "FollowerNwInRate", "NwOutRate", "PnwOutRate", "Replicas", "Leaders", "DiskCapacityMB",
                 "NetworkInCapacity", "NetworkOutCapacity", "NumCore", Broker=INT,
                 BrokerState={"type": "string", "enum": ["ALIVE", "DEAD", "NEW", "DEMOTED", "BAD_DISKS"]})
BROKER_STATS = _object("version", "hosts", "brokers", version=INT, hosts=_array({"type": "object"}),
                       brokers=_array(BROKER))
OPTIMIZATION = _object(
    "version", "summary", "goalSummary", "loadAfterOptimization", version=INT,
    summary=_object("numReplicaMovements", "dataToMoveMB", "numLeaderMovements", "excludedTopics",
                    "onDemandBalancednessScoreBefore", "onDemandBalancednessScoreAfter"),
    goalSummary=_array(_object("goal", "status", status={"type": "string", "enum": ["VIOLATED", "FIXED",
                                                                                    "NO-ACTION"]})),
    proposals=_array(_object("topicPartition", "oldLeader", "oldReplicas", "newReplicas")),
    loadBeforeOptimization=BROKER_STATS, loadAfterOptimization=BROKER_STATS)
REVIEWS = _object("version", "RequestInfo", version=INT, RequestInfo=_array(_object(
    "Id", "SubmissionTimeMs", "Status", "EndpointWithParams", "Reason", Id=STRING, Status={
        "type": "string", "enum": ["PENDING_REVIEW", "APPROVED", "DISCARDED", "SUBMITTED"]})))
MESSAGE = _object("version", "message", version=INT, message=STRING)
RESULTS: dict[str, dict[str, Any]] = {
    "state": _object("version", version=INT, **{name: {"type": "object"} for name in (
        "MonitorState", "ExecutorState", "AnalyzerState", "AnomalyDetectorState")}),
    "load": BROKER_STATS,
    "partition_load": _object("version", "records", version=INT, records=_array(_object(
        "topic", "partition", "leader", "followers", "cpu", "networkInbound", "networkOutbound", "disk", "msg_in"))),
    "kafka_cluster_state": _object("version", "KafkaBrokerState", "KafkaPartitionState", version=INT),
    "proposals": OPTIMIZATION,
    "user_tasks": _object("version", "userTasks", version=INT, userTasks=_array(_object(
        "UserTaskId", "RequestURL", "ClientIdentity", "StartMs", "Status", Status={
            "type": "string", "enum": ["Active", "Completed", "CompletedWithError"]}))),
    "review_board": REVIEWS, "review": REVIEWS,
    "stop_proposal_execution": MESSAGE, "pause_sampling": MESSAGE, "resume_sampling": MESSAGE, "admin": MESSAGE,
}
EXECUTING = {"oneOf": [OPTIMIZATION, REVIEWS]}  # a dry run's plan, or the triggered run at its approval
ERROR = _object("errorMessage", "stackTrace", "version", errorMessage=STRING, stackTrace=STRING, version=INT)
PROGRESS = _object("version", "progress", version=INT, progress=_array(_object(
    "operation", "operationProgress", operation=STRING, operationProgress=_array(_object(
        "step", "description", "time-in-ms", "completionPercentage")))))


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    own = [{"name": name, "in": "query", "required": name in endpoint.required, "schema": dict(p.schema),
            "style": "form", "explode": False} for name, p in endpoint.params.items()]
    shared = [{"name": name, "in": "query", "required": False, "schema": dict(p.schema), "style": "form",
               "explode": False, "description": "accepted; no effect"}
              for name, p in {**COMMON, **NO_EFFECT}.items() if name not in endpoint.params]
    result = RESULTS.get(endpoint.name, EXECUTING)
    headers = {"Cruise-Control-Version": {"schema": STRING}, "User-Task-ID": {"schema": STRING}}
    return {
        "operationId": endpoint.name, "summary": endpoint.doc, "parameters": own + shared,
        "responses": {
            "200": {**_json(result, "the result"), "headers": headers},
            "202": {**_json(PROGRESS, "still working: repeat the request with the User-Task-ID header or the "
                                      "session cookie"), "headers": headers},
            "400": _json(ERROR, "a parameter is unknown or bad (errorMessage names it)"),
            "401": {"description": "no valid bearer token"},
            "403": {"description": "the token's user may not do this on the cluster's DAGs"},
            "404": _json(ERROR, "no such cluster"),
            "409": _json(ERROR, "the run is not in a state that allows this (e.g. its approval is answered)"),
        },
    }


def schema(cluster: str, prefix: str) -> dict[str, Any]:
    """The schema for `cluster`'s API, its server at `prefix` (e.g. /kafka-medic/dev/kafkacruisecontrol)."""
    paths: dict[str, Any] = {}
    for endpoint in ENDPOINTS.values():
        paths[f"/{endpoint.name}"] = {endpoint.method.lower(): _operation(endpoint)}
    return {
        "openapi": "3.0.3",
        "info": {"title": f"kafka-medic: Cruise Control API of cluster {cluster}", "version": CC_VERSION,
                 "description": "Cruise Control 2.5's REST API over kafka-medic's DAGs. Substates: "
                                + ", ".join(SUBSTATES) + "."},
        "servers": [{"url": prefix}],
        "security": [{BEARER: []}],
        "components": {"securitySchemes": {BEARER: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "paths": paths,
    }
