"""The Airflow scheduler SIGKILLed mid-run of a rebalance, while its execute task moves replicas, and
started again: the run finishes, every move is submitted once (journal), and the action log says what
really happened.

A real `airflow standalone` (LocalExecutor) runs the rebalance; only its `airflow scheduler` process is
killed (its task processes run on without it) and a new scheduler is started in a session of its own
(standalone's group is in another session, which a new process may not join), stopped by the test.
Orphaned task checks run every 20 s instead of 5 minutes, or the new scheduler would wait that long to
look at the old one's tasks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest

from kafka_medic.airflow.standalone import AIRFLOW, StandaloneAirflow
from kafka_medic.devcluster.ports import free_ports
from kafka_medic.executor import Journal
from kafka_medic.executor import journal as j
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.notify.action_log import ActionLog

from ..integration.executor_helpers import CheckedProducer, no_reassignments, placed_topic
from ..integration.kafka_helpers import all_succeeded, every_topic_but, wait_for
from ..integration.servers import started
from ..integration.test_airflow_worker_kill import POLICY, QUIET
from .faults import lost_messages, throttles_left

CLUSTER, CONN_ID = "fs", "kafka_medic_fs"
DAG = f"kafka_medic__{CLUSTER}__rebalance"


@pytest.fixture(scope="module")
def airflow(fault_cluster, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-scheduler-kill")
    extra = {"bootstrap.servers": fault_cluster.bootstrap, "kafka_medic": {"policy": POLICY, "remediation": QUIET}}
    airflow = StandaloneAirflow(home, free_ports(1)[0], [{"name": CLUSTER, "conn_id": CONN_ID, "rebalance_cron": None,
                                                            # no sampling here: plan on sizes alone
                                                            "policy": {"rebalance_on_incomplete_load": True}}],
                                {CONN_ID: {"conn_type": "kafka", "extra": extra}})
    airflow.env |= {"KAFKA_MEDIC_HOME": str(home / "medic"),
                    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "20",
                    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "15",
                    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60"}
    # sample and detect are not needed here; they would only compete for the two cores
    with started(airflow, [f"kafka_medic__{CLUSTER}__{kind}" for kind in ("sample", "detect")]):
        yield airflow


def scheduler(airflow: StandaloneAirflow) -> psutil.Process:
    """The `airflow scheduler` process itself: the LocalExecutor's workers it forks share its command line."""
    children = psutil.Process(airflow.process.pid).children(recursive=True)
    named = [p for p in children if _command(p)[-1:] == ["scheduler"]]
    pids = {p.pid for p in named}
    [proc] = [p for p in named if p.ppid() not in pids]
    return proc


def _command(process: psutil.Process) -> list[str]:
    """The command line, or none for a child that exited meanwhile (task processes come and go; a zombie has none)."""
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def moving(journal: Journal, airflow: StandaloneAirflow, run_id: str) -> bool:
    """The execution is moving replicas (some submitted, maybe some done, not all); fails at once, saying
    why, if the run ended before: a wait for the first submission alone could miss it and wait forever."""
    running = [e for e in journal.list(CLUSTER) if e.status == j.RUNNING and e.phase == "moving"]
    states = [r.state for r in journal.tasks(running[0].id) if r.task.kind == "replica"] if running else []
    if j.SUBMITTED in states or (j.DONE in states and j.PENDING in states):
        return True
    if airflow.call("GET", f"/dags/{DAG}/dagRuns/{run_id}")["state"] in ("success", "failed"):
        states = airflow.task_states(DAG, run_id)
        logs = {task: [r.get("event") for r in airflow.task_log(DAG, run_id, task)][-15:]
                for task, state in states.items() if state not in (None, "skipped")}
        raise AssertionError(f"run {run_id} ended before moving anything: {states}\n{logs}")
    return False


def test_scheduler_killed_mid_run_and_restarted(whole_cluster, airflow, record):
    record.fault = "`airflow scheduler` SIGKILLed while execute_batches moves replicas, a new one started"
    bootstrap, topic = whole_cluster.bootstrap, "fault-scheduler"
    config = ClusterConfig(bootstrap)
    placed_topic(bootstrap, topic, [[1, 2], [2, 1]] * 2, mb=64, min_isr=1)  # ~16 s a move at 1 MB/s
    conf = {"force": True, "throttle_mb_s": 1, "concurrency": 1, "excluded_topics": every_topic_but(topic)}
    journal = Journal(f"sqlite:///{airflow.home / 'medic' / 'metrics.db'}")
    with CheckedProducer(bootstrap, topic) as producer:
        run_id = airflow.call("POST", f"/dags/{DAG}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]
        wait_for(lambda: moving(journal, airflow, run_id), 600, "the execute task to move replicas", interval=0.5)
        os.kill(scheduler(airflow).pid, signal.SIGKILL)
        killed_at = time.time()
        with open(airflow.log_path, "ab") as out:
            restarted = subprocess.Popen([str(AIRFLOW), "scheduler"], env=airflow.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

        def finished():
            run = airflow.call("GET", f"/dags/{DAG}/dagRuns/{run_id}")
            return run["state"] in ("success", "failed") and run
        try:
            run = wait_for(finished, 900, f"run {run_id} to finish after the scheduler kill", interval=3)
        finally:
            os.killpg(restarted.pid, signal.SIGTERM)
            try:
                restarted.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(restarted.pid, signal.SIGKILL)
                restarted.wait(30)
    states = airflow.task_states(DAG, run_id)
    [execution] = journal.list(CLUSTER)
    replica_moves = [r for r in journal.tasks(execution.id) if r.task.kind == "replica"]
    record.acked = len(producer.acked)
    record.lost = lost_messages(bootstrap, topic, producer, 4)
    record.throttles_left = throttles_left(config)
    with ActionLog(f"sqlite:///{airflow.home / 'medic' / 'metrics.db'}") as log:
        action = log.recent(CLUSTER)[0]
    record.outcome = (f"run {run['state']}, execution {execution.status}, {len(replica_moves)} moves submitted "
                      f"{sorted({r.submissions for r in replica_moves})} time(s), action log {action.outcome}; "
                      f"done {time.time() - killed_at:.0f} s after the kill")
    assert run["state"] == "success" and all_succeeded(states), states
    assert execution.status == "succeeded", execution.message
    assert replica_moves and {r.submissions for r in replica_moves} == {1}
    assert (action.action, action.outcome, action.run) == ("rebalance", "succeeded", f"{DAG}/{run_id}")
    assert record.lost == 0 and record.throttles_left == 0
    assert no_reassignments(config)
    journal.close()
