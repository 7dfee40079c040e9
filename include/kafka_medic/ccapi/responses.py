"""Cruise Control 2.5's `json=true` response bodies, built from kafka-medic's model, proposals, journal and stores.

The field names and nesting are Cruise Control's (its OpenAPI spec, cruise-control/src/main/resources/yaml/
responses), so its clients and dashboards read them unchanged; the figures are kafka-medic's. Units are
Cruise Control's too, which are the model's: disk in MB, network in KB/s, CPU in percent of the broker.
Fields kafka-medic has no figure for are left out where Cruise Control makes them optional, and are
zero where it requires them (NumCore: the capacity file has no core count).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from kafka_medic.ccapi import JSON_VERSION
from kafka_medic.detector.anomaly import (
    BROKER_FAILURE,
    DISK_FAILURE,
    HARD_GOAL_VIOLATION,
    SOFT_GOAL_VIOLATION,
    TOPIC_REPLICATION_FACTOR,
    Anomaly,
)
from kafka_medic.executor import journal as j
from kafka_medic.executor.journal import ExecutionRecord, TaskRecord
from kafka_medic.executor.tasks import LEADER
from kafka_medic.kafka.state import ClusterState
from kafka_medic.limits import TopicPattern
from kafka_medic.metrics.load_model import LoadModel
from kafka_medic.model import ClusterModel, Partition, Proposal
from kafka_medic.remediation.intent import DECOMMISSIONED, DEMOTED, BrokerIntent

RESOURCE_FIELDS = {"disk": "disk", "cpu": "cpu", "nw_in": "networkInbound", "nw_out": "networkOutbound"}
# Cruise Control's anomaly types, and the detector kinds that are each.
ANOMALY_TYPES = {"GOAL_VIOLATION": (HARD_GOAL_VIOLATION, SOFT_GOAL_VIOLATION), "BROKER_FAILURE": (BROKER_FAILURE,),
                 "DISK_FAILURE": (DISK_FAILURE,), "TOPIC_ANOMALY": (TOPIC_REPLICATION_FACTOR,),
                 "METRIC_ANOMALY": (), "MAINTENANCE_EVENT": ()}
RECENT = {"GOAL_VIOLATION": "recentGoalViolations", "BROKER_FAILURE": "recentBrokerFailures",
          "DISK_FAILURE": "recentDiskFailures", "TOPIC_ANOMALY": "recentTopicAnomalies",
          "METRIC_ANOMALY": "recentMetricAnomalies", "MAINTENANCE_EVENT": "recentMaintenanceEvents"}


def _round(value: float) -> float:
    return round(float(value), 3)


def broker_stats(model: ClusterModel) -> dict[str, Any]:
    """BrokerStats (the `load` endpoint, and a proposal's load before and after): per broker and per host."""
    sums: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for p in model.partitions:
        for b in p.replicas:
            s = sums[b]
            s["disk"] += p.load.get("disk", 0.0)
            s["pnw_out"] += p.load.get("nw_out", 0.0)
            s["replicas"] += 1
            if b == p.leader:
                s["leader_nw_in"] += p.load.get("nw_in", 0.0)
                s["nw_out"] += p.load.get("nw_out", 0.0)
                s["cpu"] += p.load.get("cpu", 0.0)
                s["leaders"] += 1
            else:
                s["follower_nw_in"] += p.load.get("nw_in", 0.0)
                s["cpu"] += p.load.get("cpu", 0.0) * model.follower_cpu_ratio
    brokers = []
    for broker in sorted(model.brokers, key=lambda x: x.id):
        s, cap = sums[broker.id], broker.capacity
        brokers.append({
            "Host": broker.host or "", "Broker": broker.id, "Rack": broker.rack or "",
            "BrokerState": "ALIVE" if broker.alive else "DEAD",
            "DiskMB": _round(s["disk"]), "DiskPct": _pct(s["disk"], cap.get("disk")),
            "CpuPct": _pct(s["cpu"], cap.get("cpu")),
            "LeaderNwInRate": _round(s["leader_nw_in"]), "FollowerNwInRate": _round(s["follower_nw_in"]),
            "NwOutRate": _round(s["nw_out"]), "PnwOutRate": _round(s["pnw_out"]),
            "Replicas": int(s["replicas"]), "Leaders": int(s["leaders"]),
            "DiskCapacityMB": _round(cap.get("disk", 0.0)), "NetworkInCapacity": _round(cap.get("nw_in", 0.0)),
            "NetworkOutCapacity": _round(cap.get("nw_out", 0.0)), "NumCore": 0,
        })
    return {"version": JSON_VERSION, "hosts": _hosts(brokers), "brokers": brokers}


def _pct(value: float, capacity: float | None) -> float:
    return _round(100.0 * value / capacity) if capacity else 0.0


def _hosts(brokers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    summed = ("DiskMB", "LeaderNwInRate", "FollowerNwInRate", "NwOutRate", "PnwOutRate", "Replicas", "Leaders",
              "DiskCapacityMB", "NetworkInCapacity", "NetworkOutCapacity", "NumCore")
    hosts: dict[str, dict[str, Any]] = {}
    for b in brokers:
        host = hosts.setdefault(b["Host"], {"Host": b["Host"], "Rack": b["Rack"], "Brokers": 0, "CpuPct": 0.0,
                                            **{name: 0 for name in summed}})
        host["Brokers"] += 1
        host["CpuPct"] += b["CpuPct"]
        for name in summed:
            host[name] += b[name]
    for host in hosts.values():
        host["CpuPct"] = _round(host["CpuPct"] / host["Brokers"])
        host["DiskPct"] = _pct(host["DiskMB"], host["DiskCapacityMB"])
        for name in summed:
            host[name] = _round(host[name]) if isinstance(host[name], float) else host[name]
    return list(hosts.values())


def partition_load(model: ClusterModel, resource: str = "disk", entries: int | None = None,
                   topic: TopicPattern | None = None, partitions: tuple[int, int] | None = None,
                   brokers: Sequence[int] = ()) -> dict[str, Any]:
    """PartitionLoadState: each partition's leader load, highest `resource` first."""
    chosen = [p for p in model.partitions
              if (topic is None or topic.fullmatch(p.topic))
              and (partitions is None or partitions[0] <= p.partition <= partitions[1])
              and (not brokers or set(brokers) & set(p.replicas))]
    chosen.sort(key=lambda p: (-p.load.get(resource, 0.0), p.topic, p.partition))
    records = [{
        "topic": p.topic, "partition": p.partition, "leader": p.leader if p.leader is not None else -1,
        "followers": [b for b in p.replicas if b != p.leader],
        **{name: _round(p.load.get(r, 0.0)) for r, name in RESOURCE_FIELDS.items()}, "msg_in": 0.0,
    } for p in chosen[:entries]]
    return {"version": JSON_VERSION, "records": records}


def kafka_cluster_state(state: ClusterState, topic: TopicPattern | None = None) -> dict[str, Any]:
    """KafkaClusterState: per broker counts and log dirs, and the partitions that are not healthy."""
    leaders: dict[int, int] = defaultdict(int)
    replicas: dict[int, int] = defaultdict(int)
    out_of_sync: dict[int, int] = defaultdict(int)
    offline: dict[int, int] = defaultdict(int)
    for p in state.partitions:
        if p.leader is not None:
            leaders[p.leader] += 1
        for b in p.replicas:
            replicas[b] += 1
            if b not in p.isr:
                out_of_sync[b] += 1
            if b in p.offline_replicas or b not in state.alive_brokers:
                offline[b] += 1
    ids = sorted(state.brokers)
    counts = [replicas[b] for b in ids]
    leader_counts = [leaders[b] for b in ids]
    topics = {p.topic for p in state.partitions}
    summary = {
        "Brokers": len(ids), "Topics": len(topics), "Replicas": sum(counts), "Leaders": sum(leader_counts),
        "AvgReplicationFactor": _round(sum(counts) / len(state.partitions)) if state.partitions else 0.0,
        "AvgReplicasPerBroker": _round(_mean(counts)), "AvgLeadersPerBroker": _round(_mean(leader_counts)),
        "MaxReplicasPerBroker": max(counts, default=0), "MaxLeadersPerBroker": max(leader_counts, default=0),
        "StdReplicasPerBroker": _round(_std(counts)), "StdLeadersPerBroker": _round(_std(leader_counts)),
    }
    online_dirs = {str(b): sorted(state.brokers[b].log_dirs) for b in ids}
    offline_dirs = {str(b): sorted({d for p in state.partitions for r, d in p.log_dirs.items()
                                    if r == b and r in p.offline_replicas}) for b in ids}
    broker_state = {
        "LeaderCountByBrokerId": {str(b): leaders[b] for b in ids},
        "OutOfSyncCountByBrokerId": {str(b): out_of_sync[b] for b in ids},
        "ReplicaCountByBrokerId": {str(b): replicas[b] for b in ids},
        "OfflineReplicaCountByBrokerId": {str(b): offline[b] for b in ids},
        "IsController": {str(b): b == state.controller_id for b in ids},
        "OnlineLogDirsByBrokerId": online_dirs, "OfflineLogDirsByBrokerId": offline_dirs,
        "BrokerSetByBrokerId": {}, "Summary": summary,
    }
    shown = [p for p in state.partitions if topic is None or topic.fullmatch(p.topic)]

    def rows(ps: Iterable) -> list[dict[str, Any]]:
        return [{"topic": p.topic, "partition": p.partition, "leader": p.leader if p.leader is not None else -1,
                 "replicas": list(p.replicas), "in-sync": list(p.isr),
                 "out-of-sync": [b for b in p.replicas if b not in p.isr],
                 "offline": [b for b in p.replicas if b in p.offline_replicas or b not in state.alive_brokers],
                 "min-isr": state.min_insync_replicas(p.topic)} for p in ps]
    partition_state = {
        "offline": rows(p for p in shown if p.offline),
        "with-offline-replicas": rows(p for p in shown if p.offline_replicas
                                      or set(p.replicas) - set(state.alive_brokers)),
        "urp": rows(p for p in shown if p.under_replicated),
        "under-min-isr": rows(p for p in shown if len(p.isr) < state.min_insync_replicas(p.topic)),
    }
    return {"version": JSON_VERSION, "KafkaBrokerState": broker_state, "KafkaPartitionState": partition_state}


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _std(values: Sequence[float]) -> float:
    mean = _mean(values)
    return (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5 if values else 0.0


def after(model: ClusterModel, proposal: Proposal) -> ClusterModel:
    """The model as it will be once the proposal is carried out (its load after, for the result)."""
    moves = {(m.topic, m.partition): m for m in proposal.moves}

    def moved(p: Partition) -> Partition:
        m = moves.get((p.topic, p.partition))
        return p if m is None else replace(p, replicas=list(m.new_replicas), leader=m.new_leader)
    return replace(model, partitions=[moved(p) for p in model.partitions])


def optimization_result(proposal: Proposal, model: ClusterModel, loads: LoadModel | None = None,
                        excluded_topics: str | None = None) -> dict[str, Any]:
    """OptimizationResult: the moves, their summary, each goal's status and the load before and after."""
    stats = proposal.stats
    before = {r["goal"]: r for r in stats.get("goal_results_before", [])}
    goal_summary = []
    for r in stats.get("goal_results_after", []):
        was_violated = not before.get(r["goal"], r)["satisfied"]
        status = "VIOLATED" if not r["satisfied"] else "FIXED" if was_violated else "NO-ACTION"
        goal_summary.append({"goal": r["goal"], "status": status, "clusterModelStats": {}, "optimizationTimeMs": 0})
    excluded_for_moves = sorted(b.id for b in model.brokers if b.excluded or b.decommission)
    summary = {
        "numReplicaMovements": stats.get("num_replica_moves", 0), "dataToMoveMB": stats.get("data_to_move_mb", 0),
        "numIntraBrokerReplicaMovements": 0, "intraBrokerDataToMoveMB": 0,
        "numLeaderMovements": stats.get("num_leader_moves", 0),
        "recentWindows": loads.valid_windows if loads else 0,
        "monitoredPartitionsPercentage": _round(100 * loads.valid_partition_ratio) if loads else 0.0,
        "excludedTopics": [excluded_topics] if excluded_topics else [],
        "excludedBrokersForReplicaMove": excluded_for_moves,
        "excludedBrokersForLeadership": sorted(b.id for b in model.brokers if b.excluded),
        "onDemandBalancednessScoreBefore": stats.get("balancedness_before", 0.0),
        "onDemandBalancednessScoreAfter": stats.get("balancedness_after", 0.0),
        "provisionStatus": "UNDECIDED", "provisionRecommendation": "",
    }
    proposals = [{"topicPartition": {"topic": m.topic, "partition": m.partition},
                  "oldLeader": m.old_leader if m.old_leader is not None else -1,
                  "newLeader": m.new_leader if m.new_leader is not None else -1,
                  "oldReplicas": list(m.old_replicas), "newReplicas": list(m.new_replicas)} for m in proposal.moves]
    return {"version": JSON_VERSION, "summary": summary, "goalSummary": goal_summary, "proposals": proposals,
            "loadBeforeOptimization": broker_stats(model),
            "loadAfterOptimization": broker_stats(after(model, proposal))}


def monitor_state(loads: LoadModel, total_partitions: int, paused: bool, reason: str = "") -> dict[str, Any]:
    """LoadMonitorState from the load model's completeness and the sample DAG's pause switch."""
    valid = round(loads.valid_partition_ratio * total_partitions)
    state = {
        "state": "PAUSED" if paused else "RUNNING", "trained": True, "trainingPct": 100.0,
        "numMonitoredWindows": loads.valid_windows, "numValidPartitions": valid,
        "numTotalPartitions": total_partitions, "numFlawedPartitions": total_partitions - valid,
        "monitoringCoveragePct": _round(100 * loads.valid_partition_ratio),
    }
    if reason:
        state["reasonOfLatestPauseOrResume"] = reason
    return state


def executor_state(running: ExecutionRecord | None, tasks: Sequence[TaskRecord], intents: Sequence[BrokerIntent],
                   user_task_id: str = "") -> dict[str, Any]:
    """ExecutorState: what the cluster's running execution (from the journal) is moving, and remembered brokers."""
    state: dict[str, Any] = {
        "recentlyDemotedBrokers": sorted(i.broker for i in intents if i.intent == DEMOTED),
        "recentlyRemovedBrokers": sorted(i.broker for i in intents if i.intent == DECOMMISSIONED),
    }
    if running is None:
        return {"state": "NO_TASK_IN_PROGRESS", **state}
    moves = [t for t in tasks if t.task.kind != LEADER]
    leaders = [t for t in tasks if t.task.kind == LEADER]

    def count(records: Sequence[TaskRecord], *states: str) -> int:
        return sum(1 for t in records if t.state in states)
    mb = 2**20
    phase = ("STOPPING_EXECUTION" if running.stop_requested
             else "LEADER_MOVEMENT_TASK_IN_PROGRESS" if moves and count(moves, j.PENDING, j.SUBMITTED) == 0
             else "INTER_BROKER_REPLICA_MOVEMENT_TASK_IN_PROGRESS")
    total_mb = sum(t.task.size_bytes * len(t.task.added) for t in moves) / mb
    done_mb = sum(t.task.size_bytes * len(t.task.added) for t in moves if t.state == j.DONE) / mb
    return {
        "state": phase, **state, "triggeredUserTaskId": user_task_id, "triggeredTaskReason": running.message or "",
        "numTotalPartitionMovements": len(moves), "numPendingPartitionMovements": count(moves, j.PENDING),
        "numInProgressPartitionMovements": count(moves, j.SUBMITTED),
        "numFinishedPartitionMovements": count(moves, j.DONE, j.SKIPPED),
        "numCancelledPartitionMovements": count(moves, j.CANCELLED),
        "numDeadPartitionMovements": count(moves, j.DEAD, j.FAILED, j.TIMED_OUT),
        "numTotalLeadershipMovements": len(leaders), "numPendingLeadershipMovements": count(leaders, j.PENDING),
        "numFinishedLeadershipMovements": count(leaders, j.DONE, j.SKIPPED),
        "numCancelledLeadershipMovements": count(leaders, j.CANCELLED),
        "totalDataToMove": _round(total_mb), "finishedDataMovement": _round(done_mb),
    }


def analyzer_state(goals: Sequence[str], loads: LoadModel) -> dict[str, Any]:
    """AnalyzerState: every goal is ready when the load model is complete (kafka-medic plans on demand)."""
    ready = list(goals) if loads.complete else []
    requirement = {"requiredNumSnapshots": loads.windows, "minMonitoredPartitionsPercentage": loads.min_valid_ratio,
                   "includeAllTopics": True}
    return {"isProposalReady": loads.complete, "readyGoals": ready, "goalReadiness": [
        {"name": g, "modelCompleteRequirement": requirement, "status": "ready" if g in ready else "notReady"}
        for g in goals]}


def anomaly_detector_state(open_anomalies: Sequence[Anomaly], self_healing: dict[str, bool],
                           balancedness: float | None) -> dict[str, Any]:
    """AnomalyDetectorState: the open anomalies by Cruise Control type, and which types heal themselves."""
    recent: dict[str, list[dict[str, Any]]] = {name: [] for name in RECENT.values()}
    for a in open_anomalies:
        cc_type = next((t for t, kinds in ANOMALY_TYPES.items() if a.kind in kinds), "TOPIC_ANOMALY")
        recent[RECENT[cc_type]].append({"anomalyId": a.key, "status": "DETECTED", "type": cc_type,
                                        "detectionMs": int(a.first_seen * 1000), "description": a.summary})
    enabled = sorted(t for t, on in self_healing.items() if on)
    return {
        "selfHealingEnabled": enabled, "selfHealingDisabled": sorted(t for t, on in self_healing.items() if not on),
        "selfHealingEnabledRatio": {t: 1.0 if on else 0.0 for t, on in self_healing.items()},
        **recent, "metrics": {"numSelfHealingStarted": 0, "numSelfHealingFailedToStart": 0},
        "balancednessScore": balancedness if balancedness is not None else 100.0,
    }


def user_task(task_id: str, endpoint: str, url: str, client: str, started_ms: int, status: str) -> dict[str, Any]:
    """UserTaskInfo: one request, in-process or a DAG run."""
    return {"UserTaskId": task_id, "RequestURL": url, "ClientIdentity": client, "StartMs": str(started_ms),
            "Status": status, "RequestEndpoint": endpoint}


def review(request_id: str, submitted_ms: int, status: str, endpoint: str, reason: str) -> dict[str, Any]:
    """A review board entry: one remediation run and where its approval stands."""
    return {"Id": request_id, "SubmitterAddress": "", "SubmissionTimeMs": submitted_ms, "Status": status,
            "EndpointWithParams": endpoint, "Reason": reason}
