"""kafka-medic on Airflow's distributed executor: the production topology (`celery_stack.CeleryStack`:
PostgreSQL, Redis, api-server, scheduler, dag-processor, triggerer, two Celery workers of one slot each)
managing two real KRaft dev clusters at once.

- a heal runs end to end with its tasks on both workers;
- a worker SIGKILLed (its whole process tree) during `execute_batches` takes its task with it, and Airflow's
  retry on the other worker resumes the execution from the journal in PostgreSQL, no move submitted twice.

One stack and both clusters serve the module (starting them is most of its time); the tests run in file
order. Only the DAGs a test triggers are unpaused: a monitoring run would take one of the two worker slots.
"""

from __future__ import annotations

import time
import uuid

import psutil
import pytest

from kafka_medic.airflow import topology
from kafka_medic.executor import Journal
from kafka_medic.executor import journal as j
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state

from .celery_stack import CeleryStack
from .conftest import _session_cluster
from .executor_helpers import placed_topic
from .kafka_helpers import every_topic_but, wait_for
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
    assert run["state"] == "success" and set(states.values()) == {"success"}, states
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
        submitted_before = {r.task.name for r in journal.tasks(execution.id) if r.state != j.PENDING}
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


def alive(pid: int) -> bool:
    """Still running (a zombie waiting for its new parent to reap it is not)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
