"""kafka-medic on Airflow's CeleryExecutor, as docker-compose.yml deploys it, run as processes
(tests/integration/celery_stack.py): PostgreSQL, Redis, api-server, scheduler, dag-processor, triggerer
and two Celery workers of one task each.

The heal DAG runs end to end on the session's KRaft cluster with its tasks spread over both workers (each
task instance's `hostname` names its worker). A second cluster managed by the same Airflow rebalances
while the first heals: the two executions run at once, each holding its own cluster's one-slot pool.
Then a worker is SIGKILLed, with all its processes, while
`execute_batches` moves replicas: the scheduler fails the try once its heartbeat stops, the retry runs on
the other worker and resumes the execution from the journal in PostgreSQL, and no move is submitted twice.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_medic.airflow import topology
from kafka_medic.executor import Journal
from kafka_medic.executor import journal as j
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state

from .celery_stack import CeleryAirflow, celery_stack
from .conftest import _session_cluster
from .executor_helpers import placed_topic
from .kafka_helpers import every_topic_but, wait_for
from .servers import started
from .test_airflow_worker_kill import CLUSTER, DAG, TASK, assert_resumed_once, in_flight_owner

CONN_ID, VICTIM = f"kafka_medic_{CLUSTER}", 4
HEAL_DAG = f"kafka_medic__{CLUSTER}__heal"
SECOND = "two"  # the second cluster: three brokers of its own
SECOND_REBALANCE = f"kafka_medic__{SECOND}__rebalance"
# Only a broker failure calls for a remediation, after 20 s; heals and small rebalances need no person.
REMEDIATION = {"broker_failure": {"act_after_s": 20}, **{kind: {"action": None} for kind in (
    "under_replicated_partitions", "hard_goal_violation", "soft_goal_violation")}}
POLICY = {"heal": {"approval": "auto"}, "rebalance": {"approval": "auto", "max_data_gb": 1}}


@pytest.fixture(scope="module")
def second_cluster(tmp_path_factory):
    yield from _session_cluster(tmp_path_factory, "kraft", brokers=3, label="-two")


@pytest.fixture(scope="module")
def stack(kraft_cluster, second_cluster, tmp_path_factory):
    clusters, connections = [], {}
    for name, cluster in ((CLUSTER, kraft_cluster), (SECOND, second_cluster)):
        clusters.append({"name": name, "conn_id": f"kafka_medic_{name}", "rebalance_cron": None,
                         "policy": {"rebalance_on_incomplete_load": True}})
        connections[f"kafka_medic_{name}"] = {"conn_type": "kafka", "extra": {
            "bootstrap.servers": cluster.bootstrap, "kafka_medic": {"policy": POLICY, "remediation": REMEDIATION}}}
    began = time.monotonic()
    with celery_stack(tmp_path_factory.mktemp("celery"), clusters, connections) as airflow, \
            started(airflow, [f"kafka_medic__{SECOND}__{kind}" for kind in ("sample", "detect")]) as airflow:
        print(f"Celery stack ready in {time.monotonic() - began:.0f}s")
        yield airflow


def finished(airflow: CeleryAirflow, dag_id: str, run_id: str, timeout_s: float) -> dict:
    def done():
        run = airflow.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
        return run["state"] in ("success", "failed") and run
    return wait_for(done, timeout_s, f"{dag_id} run {run_id} to finish", interval=3)


def test_heal_runs_end_to_end_with_its_tasks_on_both_workers(stack, kraft_cluster):
    topic = f"cel-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": kraft_cluster.bootstrap})
    admin.create_topics([NewTopic(topic, 3, replica_assignment=[[VICTIM, 1], [2, VICTIM], [3, VICTIM]])])[
        topic].result(30)
    known = {r["dag_run_id"] for r in stack.runs(HEAL_DAG)}
    began = time.monotonic()
    kraft_cluster.kill_broker(VICTIM)
    try:
        run_id = wait_for(lambda: next((r["dag_run_id"] for r in stack.runs(HEAL_DAG)
                                        if r["dag_run_id"] not in known), None),
                          300, "the detector to start a heal run", interval=3)
        run = finished(stack, HEAL_DAG, run_id, 600)
        tis = stack.call("GET", f"/dags/{HEAL_DAG}/dagRuns/{run_id}/taskInstances")["task_instances"]
        assert run["state"] == "success", {ti["task_id"]: ti["state"] for ti in tis}
        ran = {ti["task_id"]: ti["hostname"] for ti in tis if ti["state"] == "success"}
        assert {"snapshot", "plan", "execute_batches", "verify", "report"} <= set(ran), ran
        assert set(ran.values()) == set(topology.WORKERS), ran
        state = read_cluster_state(ClusterConfig(bootstrap=kraft_cluster.bootstrap))
        assert all(VICTIM not in p.replicas for p in state.partitions if p.topic == topic)
        print(f"heal: broker killed to run finished in {time.monotonic() - began:.0f}s; tasks per worker: "
              f"{ {w: sorted(t for t, h in ran.items() if h == w) for w in topology.WORKERS} }")
    finally:
        kraft_cluster.start_broker(VICTIM)


def test_a_second_cluster_rebalances_while_the_first_heals_one_execution_per_cluster(stack, kraft_cluster,
                                                                                     second_cluster):
    pause_monitoring(stack)  # the heal is started by hand; one worker is the execution's, the other the heal's
    topic = f"two-{uuid.uuid4().hex[:6]}"
    # Every replica on brokers 1 and 2 of three, moved at 0.25 MB/s one at a time: minutes of execution,
    # started first; the first cluster's broker dies once it runs.
    placed_topic(second_cluster.bootstrap, topic, [[1, 2], [2, 1]] * 4, mb=160)
    conf = {"force": True, "throttle_mb_s": 0.25, "concurrency": 1, "excluded_topics": every_topic_but(topic)}
    rebalance = stack.call("POST", f"/dags/{SECOND_REBALANCE}/dagRuns", {"logical_date": None, "conf": conf})[
        "dag_run_id"]
    wait_for(lambda: stack.task_states(SECOND_REBALANCE, rebalance).get(TASK) == "running", 600,
             "the second cluster's execution to run", interval=2)
    victims = f"cel-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": kraft_cluster.bootstrap})
    admin.create_topics([NewTopic(victims, 2, replica_assignment=[[VICTIM, 1], [2, VICTIM]])])[victims].result(30)
    kraft_cluster.kill_broker(VICTIM)
    try:
        # by hand, as the UI's Trigger button starts one: it heals what is dead now, whatever the detector
        # still remembers of the first test's kill
        heal = stack.call("POST", f"/dags/{HEAL_DAG}/dagRuns", {"logical_date": None})["dag_run_id"]
        pools = (f"kafka_medic__{CLUSTER}", f"kafka_medic__{SECOND}")

        def both_pools_held():
            return all(stack.call("GET", f"/pools/{pool}")["running_slots"] == 1 for pool in pools)
        wait_for(both_pools_held, 600, "both clusters' pools held at once", interval=1)
        assert finished(stack, HEAL_DAG, heal, 600)["state"] == "success", stack.task_states(HEAL_DAG, heal)
        assert finished(stack, SECOND_REBALANCE, rebalance, 900)["state"] == "success", \
            stack.task_states(SECOND_REBALANCE, rebalance)
    finally:
        kraft_cluster.start_broker(VICTIM)
    spans = {dag: pooled_spans(stack, dag, run) for dag, run in ((HEAL_DAG, heal), (SECOND_REBALANCE, rebalance))}
    (heal_start, heal_end), (rebalance_start, rebalance_end) = (
        (min(s for s, _ in v), max(e for _, e in v)) for v in spans.values())
    assert heal_start < rebalance_end and rebalance_start < heal_end, spans  # the two executions overlapped
    assert all(stack.call("GET", f"/pools/{pool}")["slots"] == 1 for pool in pools)
    state = read_cluster_state(ClusterConfig(bootstrap=second_cluster.bootstrap))
    assert {b for p in state.partitions if p.topic == topic for b in p.replicas} == {1, 2, 3}
    print(f"pooled spans (s): heal {heal_end - heal_start:.0f}, rebalance {rebalance_end - rebalance_start:.0f}, "
          f"overlap {min(heal_end, rebalance_end) - max(heal_start, rebalance_start):.0f}")


def pause_monitoring(airflow: CeleryAirflow) -> None:
    """Pause the first cluster's sample and detect DAGs: with two one-task workers, their runs every minute
    would otherwise take the worker a test needs."""
    for kind in ("sample", "detect"):
        airflow.call("PATCH", f"/dags/kafka_medic__{CLUSTER}__{kind}", {"is_paused": True})


def pooled_spans(airflow: CeleryAirflow, dag_id: str, run_id: str) -> list[tuple[float, float]]:
    """(start, end) of each task of the run that held its cluster's pool, as epoch seconds."""
    tis = airflow.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
    return [(datetime.fromisoformat(ti["start_date"]).timestamp(), datetime.fromisoformat(ti["end_date"]).timestamp())
            for ti in tis if ti["pool"].startswith("kafka_medic__") and ti["start_date"]]


def test_a_killed_workers_execute_task_is_retried_on_the_other_and_resumes_from_the_journal(stack, kraft_cluster):
    pause_monitoring(stack)  # only this test's rebalance runs now
    topic = f"cel-{uuid.uuid4().hex[:6]}"
    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap)
    wait_for(lambda: not read_cluster_state(config).under_replicated_partitions(), 120,
             "the restarted broker to catch up")
    placed_topic(kraft_cluster.bootstrap, topic, [[1, 2], [2, 1]] * 4, mb=80)
    conf = {"force": True, "throttle_mb_s": 1, "concurrency": 1, "excluded_topics": every_topic_but(topic)}
    run_id = stack.call("POST", f"/dags/{DAG}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]

    journal = Journal(stack.env["KAFKA_MEDIC_STORE_URL"])
    execution, ti = wait_for(lambda: in_flight_owner(journal, run_id, stack), 600,
                             "the execute task to run with moves in flight", interval=1)
    worker = ti["hostname"]
    assert worker in topology.WORKERS and ti["pid"] == execution.owner_pid, ti
    submitted_before = {r.task.name for r in journal.tasks(execution.id) if r.state != j.PENDING}
    killed_at = time.time()
    assert execution.owner_pid in stack.kill_worker(worker)

    run = finished(stack, DAG, run_id, 900)
    assert run["state"] == "success", stack.task_states(DAG, run_id)
    tries = stack.call("GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{TASK}/tries")["task_instances"]
    [other] = set(topology.WORKERS) - {worker}
    assert [(t["try_number"], t["state"], t["hostname"]) for t in tries] == [(1, "failed", worker),
                                                                             (2, "success", other)], tries
    print(f"worker {worker} killed; the retry on {other} finished the run {time.time() - killed_at:.0f}s later")
    assert_resumed_once(journal, execution, killed_at, submitted_before, topic, config,
                        stack.env["KAFKA_MEDIC_STORE_URL"], f"{DAG}/{run_id}")
    journal.close()
