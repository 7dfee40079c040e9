"""kafka-medic on Airflow's distributed executor: the production topology (`celery_stack.CeleryStack`:
PostgreSQL, Redis, api-server, scheduler, dag-processor, triggerer, two Celery workers of one slot each)
managing two real KRaft dev clusters at once.

- a heal runs end to end with its tasks on both workers;
- a worker SIGKILLed (its whole process tree) during `execute_batches` takes its task with it, and Airflow's
  retry on the other worker resumes the execution from the journal in PostgreSQL, no move submitted twice;
- a heal on one cluster while the other rebalances: the two clusters' executions overlap, while the
  per-cluster pool never lets two writing tasks of one cluster run at once.

One stack and both clusters serve the module (starting them is most of its time); the tests run in file
order. Only the DAGs a test triggers are unpaused: a monitoring run would take one of the two worker slots.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

import psutil
import pytest

from kafka_medic.airflow import topology
from kafka_medic.executor import Journal
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state

from .celery_stack import CeleryStack
from .conftest import _session_cluster
from .executor_helpers import placed_topic
from .kafka_helpers import all_succeeded, every_topic_but, wait_for
from .servers import started
from .test_airflow_e2e import VICTIM, topic_on_victim
from .test_airflow_worker_kill import TASK, assert_resumed_once, in_flight_owner

HEALED, OTHER = "c1", "c2"  # the module's session KRaft cluster (4 brokers), and a second one (3 brokers)
QUIET = {kind: {"action": None} for kind in ("under_replicated_partitions", "hard_goal_violation",
                                            "soft_goal_violation")}
POLICY = {"heal": {"approval": "auto"}, "rebalance": {"approval": "auto", "max_data_gb": 1}}
TRIGGERED = [f"kafka_medic__{c}__{kind}" for c in (HEALED, OTHER) for kind in ("heal", "rebalance")]
DEFAULT_QUEUE = "default"  # Airflow's [operators] default_queue: what the workers consume


def dag(cluster: str, kind: str) -> str:
    return f"kafka_medic__{cluster}__{kind}"


@pytest.fixture(scope="module")
def other_cluster(tmp_path_factory):
    yield from _session_cluster(tmp_path_factory, "kraft", brokers=3, label="-celery")


@pytest.fixture(scope="module")
def stack(kraft_cluster, other_cluster, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-celery")
    clusters, connections = [], {}
    for name, cluster in ((HEALED, kraft_cluster), (OTHER, other_cluster)):
        medic = {"policy": POLICY, "remediation": {**QUIET, "broker_failure": {"act_after_s": 5}}}
        clusters.append({"name": name, "conn_id": f"kafka_medic_{name}", "rebalance_cron": None,
                         "policy": {"rebalance_on_incomplete_load": True, "throttle": 1}})  # MB/s: executions last
        connections[f"kafka_medic_{name}"] = {"conn_type": "kafka",
                                              "extra": {"bootstrap.servers": cluster.bootstrap, "kafka_medic": medic}}
    airflow = CeleryStack(home, clusters, connections)
    airflow.env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "True"
    with started(airflow):
        for dag_id in TRIGGERED:
            airflow.call("PATCH", f"/dags/{dag_id}", {"is_paused": False})
        yield airflow


def task_instances(stack: CeleryStack, dag_id: str, run_id: str) -> list[dict]:
    return stack.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]


def trigger(stack: CeleryStack, dag_id: str, conf: dict | None = None) -> str:
    return stack.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})["dag_run_id"]


def finished(stack: CeleryStack, dag_id: str, run_id: str, timeout_s: float = 900) -> dict:
    def done():
        run = stack.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        return run["state"] in ("success", "failed") and run
    try:
        return wait_for(done, timeout_s, f"{dag_id} run {run_id} to finish", interval=3)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; its tasks: {stack.task_states(dag_id, run_id)}") from None


def consume(stack: CeleryStack, worker: str, on: bool) -> None:
    """Let `worker` take tasks from the default queue, or not (Celery's remote control, answered by it)."""
    control = stack.celery().control
    command = control.add_consumer if on else control.cancel_consumer
    replies = command(DEFAULT_QUEUE, destination=[stack.worker_node(worker)], reply=True, timeout=30)
    assert replies, f"{worker} did not answer {'add' if on else 'cancel'}_consumer"


def test_heal_runs_end_to_end_with_tasks_on_both_workers(stack, kraft_cluster):
    """Which idle worker Redis hands a task to is not ours to choose, so the test chooses: worker-2 stops
    consuming until worker-1 has run the heal's first tasks, then worker-1 stops and worker-2 runs the rest."""
    first, second = topology.WORKERS
    topic = topic_on_victim(kraft_cluster.bootstrap)
    consume(stack, second, False)
    kraft_cluster.kill_broker(VICTIM)
    try:
        run_id = trigger(stack, dag(HEALED, "heal"))
        wait_for(lambda: stack.task_states(dag(HEALED, "heal"), run_id).get("snapshot") == "success", 600,
                 "the heal's snapshot to succeed", interval=2)
        consume(stack, second, True)
        consume(stack, first, False)
        run = finished(stack, dag(HEALED, "heal"), run_id)
    finally:
        for worker in topology.WORKERS:
            consume(stack, worker, True)
        kraft_cluster.start_broker(VICTIM)
    tis = task_instances(stack, dag(HEALED, "heal"), run_id)
    states = {t["task_id"]: t["state"] for t in tis}
    assert run["state"] == "success" and all_succeeded(states), states
    ran_on = {t["task_id"]: t["hostname"] for t in tis}
    assert ran_on["snapshot"] == first and ran_on["report"] == second, ran_on
    assert set(ran_on.values()) == set(topology.WORKERS), ran_on

    state = read_cluster_state(ClusterConfig(bootstrap=kraft_cluster.bootstrap))
    assert not [p.name for p in state.partitions if p.topic == topic and VICTIM in p.replicas]
    assert state.throttles() == {"brokers": {}, "topics": {}}
    with Journal(stack.store_url) as journal:
        [execution] = journal.list(HEALED)
        assert execution.status == "succeeded", execution.message
        moves = [r for r in journal.tasks(execution.id) if r.task.kind == "replica"]
        assert moves and {r.submissions for r in moves} == {1}
    print(f"heal tasks by worker: {ran_on}")


def test_worker_killed_during_execute_is_retried_on_the_other_and_resumes(stack, kraft_cluster):
    topic = f"ck-{uuid.uuid4().hex[:6]}"
    rebalance = dag(HEALED, "rebalance")
    placed_topic(kraft_cluster.bootstrap, topic, [[1, 2], [2, 1]] * 4, mb=80)
    conf = {"force": True, "throttle_mb_s": 1, "concurrency": 1, "excluded_topics": every_topic_but(topic)}
    run_id = trigger(stack, rebalance, conf)
    with Journal(stack.store_url) as journal:
        execution, ti = wait_for(lambda: in_flight_owner(journal, run_id, stack, HEALED), 900,
                                 "the execute task to run with moves in flight", interval=1)
        victim = ti["hostname"]
        assert victim in topology.WORKERS, ti
        tree = {p.pid for p in stack.process_tree(victim)}
        assert execution.owner_pid in tree, (execution.owner_pid, victim)  # the task runs in that worker's tree
        # the moves the cluster took before the kill: a batch caught SUBMITTING (marked, not confirmed) is
        # submitted by the retry instead, still once in all
        submitted_before = {r.task.name for r in journal.tasks(execution.id) if r.submissions > 0}
        killed_at = time.time()
        stack.kill_component(victim)
        assert not [pid for pid in tree if alive(pid)], f"{victim}'s processes outlived SIGKILL"
        try:
            run = finished(stack, rebalance, run_id)
        finally:
            stack.start_component(victim)
        assert run["state"] == "success", stack.task_states(rebalance, run_id)
        tries = stack.call("GET", f"/dags/{rebalance}/dagRuns/{run_id}/taskInstances/{TASK}/tries")["task_instances"]
        assert [(t["try_number"], t["state"], t["hostname"]) for t in tries] == [
            (1, "failed", victim), (2, "success", next(w for w in topology.WORKERS if w != victim))], tries
        assert_resumed_once(journal, execution, killed_at, submitted_before, topic,
                            ClusterConfig(bootstrap=kraft_cluster.bootstrap), stack.store_url,
                            f"{rebalance}/{run_id}", cluster=HEALED)
    wait_for(lambda: stack.workers_answering() == set(topology.WORKERS), 600, f"{victim} to answer again", interval=3)


def test_heal_on_one_cluster_while_the_other_rebalances(stack, kraft_cluster, other_cluster):
    """Both started at once, both executions throttled to 1 MB/s: c2's rebalance moves about 120 MB, so it
    still executes when c1's heal (45 MB to copy), its tasks sharing the other worker, gets to its own."""
    topic = f"cr-{uuid.uuid4().hex[:6]}"
    placed_topic(other_cluster.bootstrap, topic, [[1, 2], [2, 1]] * 4, mb=240)
    placed_topic(kraft_cluster.bootstrap, f"ch-{uuid.uuid4().hex[:6]}",
                 [[VICTIM, 1, 2], [2, VICTIM, 3], [3, 1, VICTIM], [1, 2, 3]], mb=60)
    conf = {"force": True, "throttle_mb_s": 1, "concurrency": 1, "excluded_topics": every_topic_but(topic)}
    with Journal(stack.store_url) as journal:
        rebalance_id = trigger(stack, dag(OTHER, "rebalance"), conf)
        kraft_cluster.kill_broker(VICTIM)
        try:
            heal_id = trigger(stack, dag(HEALED, "heal"))
            heal = finished(stack, dag(HEALED, "heal"), heal_id)
        finally:
            kraft_cluster.start_broker(VICTIM)
        rebalance = finished(stack, dag(OTHER, "rebalance"), rebalance_id)
        assert (heal["state"], rebalance["state"]) == ("success", "success"), (
            stack.task_states(dag(HEALED, "heal"), heal_id), stack.task_states(dag(OTHER, "rebalance"), rebalance_id))
        spans = {c: [(e.started_at, e.finished_at) for e in journal.list(c)] for c in (HEALED, OTHER)}
    healed, other = spans[HEALED][0], spans[OTHER][0]  # newest first
    assert overlap(healed, other), spans
    print(f"{HEALED}'s heal executed {healed[1] - healed[0]:.0f}s, {overlap(healed, other):.0f}s of it while "
          f"{OTHER} rebalanced")

    for cluster in (HEALED, OTHER):
        assert not any(overlap(a, b) for i, a in enumerate(spans[cluster]) for b in spans[cluster][i + 1:]), spans
        pooled = pooled_spans(stack, cluster)
        assert len(pooled) >= 5, pooled
        assert not [(a, b) for i, a in enumerate(pooled) for b in pooled[i + 1:] if overlap(a[1:], b[1:])], pooled


def alive(pid: int) -> bool:
    """Still running (a zombie waiting for its new parent to reap it is not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Seconds two (start, end) spans share; 0 when disjoint."""
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def pooled_spans(stack: CeleryStack, cluster: str) -> list[tuple[str, float, float]]:
    """(task, start, end) of every try of a task in `cluster`'s pool, across all its remediation runs."""
    spans = []
    for kind in ("heal", "rebalance"):
        for run in stack.runs(dag(cluster, kind)):
            for ti in task_instances(stack, dag(cluster, kind), run["dag_run_id"]):
                tries = stack.call("GET", f"/dags/{dag(cluster, kind)}/dagRuns/{run['dag_run_id']}/taskInstances/"
                                          f"{ti['task_id']}/tries")["task_instances"]
                spans += [(f"{kind}.{t['task_id']}#{t['try_number']}", timestamp(t["start_date"]),
                           timestamp(t["end_date"])) for t in tries
                          if t["pool"] == f"kafka_medic__{cluster}" and t["start_date"] and t["end_date"]]
    return spans


def timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
