"""The execution report: plain data saying which moves are done and which are not, and why.

"Done" is read from the cluster (replicas and leader as proposed, nothing in flight), never taken
from the journal alone; the journal supplies the reason for every move that is not done.

The report keeps every partition (the journal stores it: `kafka-medic executions --json`); its lines
summarise, counts per topic and the first few names, so they stay readable at 100,000 moves.
"""

from __future__ import annotations

import time
from collections import Counter

from kafka_medic.executor import journal as j
from kafka_medic.executor.journal import ExecutionRecord, TaskRecord, ThrottleRecord
from kafka_medic.executor.progress import first_names
from kafka_medic.executor.tasks import REPLICA
from kafka_medic.kafka.state import ClusterState
from kafka_medic.units import MB

NOT_STARTED = "not started"


def build_report(execution: ExecutionRecord, records: list[TaskRecord], throttles: list[ThrottleRecord],
                 state: ClusterState) -> dict:
    partitions = state.by_key
    done, undone = [], []
    bytes_moved = 0
    for r in records:
        p = partitions.get(r.task.key)
        if p is not None and _as_proposed(r, p):
            done.append(r.task.name)
            if r.task.kind == REPLICA and r.state == j.DONE:
                bytes_moved += r.task.bytes_to_move
            continue
        reason = r.reason or (NOT_STARTED if r.state in (j.PENDING, j.HELD) else "")
        if p is not None and not reason:
            reason = f"replicas {p.replicas} leader {p.leader}, proposed {list(r.task.new_replicas)} " \
                     f"leader {r.task.new_leader}"
        undone.append({"partition": r.task.name, "state": r.state, "reason": reason,
                       "old_replicas": list(r.task.old_replicas), "new_replicas": list(r.task.new_replicas)})
        if r.state == j.DONE:
            bytes_moved += r.task.bytes_to_move
    ours = {r.task.key for r in records}
    finished = execution.finished_at or time.time()
    return {
        "execution_id": execution.id,
        "cluster": execution.cluster,
        "status": execution.status,
        "message": execution.message,
        "started_at": execution.started_at,
        "duration_s": round(finished - execution.started_at, 1),
        "batches": execution.batches,
        "options": execution.options.as_dict(),
        "done": done,
        "undone": undone,
        "bytes_moved": bytes_moved,
        "submissions": {r.task.name: r.submissions for r in records if r.submissions},
        "under_replicated": [p.name for p in state.under_replicated_partitions() if (p.topic, p.partition) in ours],
        "reassigning": [p.name for p in state.reassigning_partitions() if (p.topic, p.partition) in ours],
        "throttles_left": [
            f"{t.resource} {t.name} {t.config}={t.applied}"
            for t in throttles if t.applied is not None and not t.cleared
        ],
    }


def report_lines(report: dict) -> list[str]:
    lines = [f"execution {report['execution_id']} {report['status']}"
             + (f": {report['message']}" if report.get("message") else "")
             + f" in {report['duration_s']:.0f}s, {report['bytes_moved'] / MB:.1f} MB moved"]
    lines.append(f"done ({len(report['done'])}): {_summary(report['done'])}")
    if report["undone"]:
        undone = report["undone"]
        lines.append(f"not done ({len(undone)}): {_per_topic([u['partition'] for u in undone])}"
                     + first_names([f"{u['partition']} ({u['state']}: {u['reason']})" for u in undone]))
    if report["throttles_left"]:
        lines.append(f"throttles left: {report['throttles_left']}")
    return lines


def _summary(names: list[str]) -> str:
    return (_per_topic(names) + first_names(names)) if names else "-"


def _per_topic(names: list[str]) -> str:
    """"3 topics: a 400, b 40, c 10; " when the names span more than one topic (most moves first)."""
    topics = Counter(name.rsplit("-", 1)[0] for name in names)
    if len(topics) < 2:
        return ""
    return f"{len(topics)} topics: " + first_names([f"{t} {n}" for t, n in topics.most_common()]) + "; "


def _as_proposed(r: TaskRecord, p) -> bool:
    leader_ok = r.task.new_leader is None or p.leader == r.task.new_leader
    return not p.reassigning and list(p.replicas) == list(r.task.new_replicas) and leader_ok
