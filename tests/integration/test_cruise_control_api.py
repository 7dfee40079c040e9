"""Cruise Control's own client (`cccli`, from cruise-control-client) drives kafka-medic's Cruise Control API.

One `airflow standalone` with the plugin (the demo's all-admins mode: `cccli` has no way to send a bearer
token, so the token-checking side is test_cruise_control_auth.py) manages the session's KRaft cluster as
cluster `cc`. `cccli` talks to /kafka-medic/cc/kafkacruisecontrol/ as to a Cruise Control server: reads,
dry runs, a rebalance that waits for its approval and moves once `review` approves it, a stopped execution,
sampling paused and resumed, self-healing switched per anomaly type through `admin`. Then schemathesis sends
what the OpenAPI schema allows (dry runs only) and nothing may answer 5xx. The tests run in file order and
share the Airflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections import Counter
from email.message import Message
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_medic.airflow.ccapi import MAX_BLOCK_ENV
from kafka_medic.airflow.standalone import StandaloneAirflow
from kafka_medic.ccapi import CC_VERSION
from kafka_medic.devcluster.ports import free_ports
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.remediation.intent import IntentStore
from kafka_medic.storage import STORE_URL_ENV

from .kafka_helpers import produce, wait_for
from .servers import started

CLUSTER, CONN_ID = "cc", "kafka_medic_cc"
CCCLI = Path(sys.executable).parent / "cccli"
REBALANCE_DAG = f"kafka_medic__{CLUSTER}__rebalance"
# The detector starts nothing here (its DAG is paused too): every run in this module is one the test asked for.
# broker_failure keeps its default rule (heal) so that `admin` has a self-healing type to switch off and on.
QUIET = {kind: {"action": None} for kind in ("disk_failure", "offline_partitions", "under_replicated_partitions",
                                              "hard_goal_violation", "soft_goal_violation")}


@pytest.fixture(scope="module")
def medic(kraft_cluster, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-ccapi")
    connection = {"conn_type": "kafka", "extra": {"bootstrap.servers": kraft_cluster.bootstrap,
                                                  "kafka_medic": {"remediation": QUIET}}}
    # No sample DAG runs (it is paused below): the load model stays partial, which the policy allows here.
    clusters = [{"name": CLUSTER, "conn_id": CONN_ID, "rebalance_cron": None,
                 "policy": {"rebalance_on_incomplete_load": True}}]
    airflow = StandaloneAirflow(home, free_ports(1)[0], clusters, {CONN_ID: connection})
    airflow.env["KAFKA_MEDIC_HOME"] = str(home / "medic")
    airflow.env[MAX_BLOCK_ENV] = "200"  # reads and plans outlast it: cccli gets 202s and polls, as from Cruise Control
    with started(airflow, paused=[f"kafka_medic__{CLUSTER}__{kind}" for kind in ("sample", "detect")]):
        yield airflow


@pytest.fixture(scope="module")
def skewed(kraft_cluster) -> str:
    """A topic whose replicas all sit on brokers 1 and 2, with some data: every rebalance has moves to make."""
    topic = f"cc-skew-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": kraft_cluster.bootstrap})
    replicas = [[1, 2], [2, 1]] * 4
    admin.create_topics([NewTopic(topic, len(replicas), replica_assignment=replicas)])[topic].result(30)
    produce(kraft_cluster.bootstrap, topic, 4000, size=1000)
    return topic


def cccli(airflow: StandaloneAirflow, *args: str) -> tuple[dict, str]:
    """Run `cccli` against the cluster's API as against a Cruise Control at that address: its JSON answer
    and what it printed on the way (each 202's progress)."""
    address = f"localhost:{airflow.port}/kafka-medic/{CLUSTER}"
    done = subprocess.run([str(CCCLI), "-a", address, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_PROXY": "*"})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def call(airflow: StandaloneAirflow, method: str, endpoint: str, query: str = "",
         headers: dict[str, str] | None = None) -> tuple[int, dict, Message]:
    """One plain HTTP request to the API: status, JSON body, headers (names in any case)."""
    url = f"{airflow.url}/kafka-medic/{CLUSTER}/kafkacruisecontrol/{endpoint}" + (f"?{query}" if query else "")
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read()), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def assignment(bootstrap: str) -> dict[str, list[int]]:
    return {p.name: list(p.replicas) for p in read_cluster_state(ClusterConfig(bootstrap=bootstrap)).partitions}


def runs(airflow: StandaloneAirflow, kind: str) -> list[dict]:
    return airflow.runs(f"kafka_medic__{CLUSTER}__{kind}")


def test_reads_answer_in_cruise_control_shapes(medic, kraft_cluster, skewed):
    state, _ = cccli(medic, "state", "--substate", "monitor", "executor", "analyzer", "anomaly_detector")
    assert state["ExecutorState"]["state"] == "NO_TASK_IN_PROGRESS"
    assert state["MonitorState"]["state"] == "PAUSED"  # the sample DAG is paused
    assert state["MonitorState"]["numTotalPartitions"] == len(assignment(kraft_cluster.bootstrap))
    assert {"isProposalReady", "readyGoals"} <= set(state["AnalyzerState"])
    assert {"recentGoalViolations", "selfHealingEnabled", "balancednessScore"} <= set(state["AnomalyDetectorState"])
    assert state["AnomalyDetectorState"]["selfHealingEnabled"] == ["BROKER_FAILURE"]  # the only rule that acts

    load, _ = cccli(medic, "load")
    placed = assignment(kraft_cluster.bootstrap)
    assert [b["Broker"] for b in load["brokers"]] == [1, 2, 3, 4]
    assert sum(b["Replicas"] for b in load["brokers"]) == sum(len(r) for r in placed.values())
    assert all(b["BrokerState"] == "ALIVE" for b in load["brokers"])

    # Other modules' topics on the shared cluster hold data too: ask for this module's topic.
    partitions, _ = cccli(medic, "partition_load", "--resource", "disk", "--number-of-entries-to-show", "5",
                          "--topic", skewed)
    records = partitions["records"]
    assert len(records) == 5 and [r["disk"] for r in records] == sorted((r["disk"] for r in records), reverse=True)
    assert {r["topic"] for r in records} == {skewed} and records[0]["disk"] > 0

    cluster_state, _ = cccli(medic, "kafka_cluster_state")
    brokers = cluster_state["KafkaBrokerState"]
    assert brokers["Summary"]["Brokers"] == 4
    assert sum(brokers["ReplicaCountByBrokerId"].values()) == sum(len(r) for r in placed.values())
    assert cluster_state["KafkaPartitionState"]["offline"] == []

    proposals, _ = cccli(medic, "proposals")
    assert proposals["summary"]["numReplicaMovements"] > 0 and proposals["proposals"]
    assert assignment(kraft_cluster.bootstrap) == placed

    # Without the session cookie, a client that got a 202 asks again by the User-Task-ID header.
    status, body, headers = call(medic, "GET", "load")
    task_id = headers["User-Task-ID"]
    assert status in (200, 202) and headers["Cruise-Control-Version"] == CC_VERSION and task_id
    if status == 202:
        assert body["progress"][0]["operation"] == "load"

    def answered():
        answer = call(medic, "GET", "load", headers={"User-Task-ID": task_id})
        return answer[0] == 200 and answer
    _, body, headers = wait_for(answered, 120, f"user task {task_id} to answer")
    assert headers["User-Task-ID"] == task_id and [b["Broker"] for b in body["brokers"]] == [1, 2, 3, 4]


def test_dry_runs_plan_and_move_nothing(medic, kraft_cluster, skewed):
    before = assignment(kraft_cluster.bootstrap)
    rebalance, progress = cccli(medic, "rebalance", "--dry-run")
    moved = {f"{p['topicPartition']['topic']}-{p['topicPartition']['partition']}" for p in rebalance["proposals"]}
    assert moved and moved <= set(before)
    assert rebalance["summary"]["numReplicaMovements"] > 0
    after = {b["Broker"]: b["Replicas"] for b in rebalance["loadAfterOptimization"]["brokers"]}
    assert after[3] > 0 and after[4] > 0  # brokers 3 and 4 get some of the skewed topic's replicas

    removed, _ = cccli(medic, "remove_broker", "4", "--dry-run")
    assert all(4 not in p["newReplicas"] for p in removed["proposals"])
    assert {b["Broker"]: b["Replicas"] for b in removed["loadAfterOptimization"]["brokers"]}[4] == 0

    assert assignment(kraft_cluster.bootstrap) == before
    assert runs(medic, "rebalance") == [] and runs(medic, "decommission") == []
    polls = progress.count('"progress"')  # 202s while the plan outlasted the 200 ms block (none if it did not)
    print(f"cccli polled through {polls} 202 responses for the dry-run rebalance")


def test_bad_parameters_get_400_naming_them_and_nothing_moves(medic, kraft_cluster, skewed):
    before = assignment(kraft_cluster.bootstrap)
    for method, endpoint, query, named in [
        ("POST", "rebalance", "dryrun=false&no_such_thing=1", "no_such_thing"),
        ("POST", "rebalance", "dryrun=false&goals=NoSuchGoal", "goals"),
        ("POST", "rebalance", "dryrun=false&concurrent_partition_movements_per_broker=0",
         "concurrent_partition_movements_per_broker"),
        ("POST", "remove_broker", "dryrun=false&brokerid=9", "brokerid"),
        ("POST", "remove_broker", "dryrun=false", "brokerid"),
        ("POST", "rebalance", "dryrun=false&excluded_topics=(", "excluded_topics"),
        ("GET", "partition_load", "resource=heat", "resource"),
        ("POST", "admin", "disable_self_healing_for=NO_SUCH_ANOMALY", "disable_self_healing_for"),
        ("POST", "admin", "concurrent_partition_movements_per_broker=2", "concurrent_partition_movements_per_broker"),
        ("POST", "topic_configuration", "topic=orders&replication_factor=3", "topic_configuration"),
    ]:
        status, body, headers = call(medic, method, endpoint, query)
        assert status == 400, (endpoint, query, body)
        assert body["errorMessage"].startswith((f"{named}:", f"{named} is not supported")), body
        assert body["version"] == 1
        assert headers["Cruise-Control-Version"] == CC_VERSION
    printed, _ = cccli(medic, "remove_broker", "9")  # cccli executes unless --dry-run
    assert printed["errorMessage"].startswith("brokerid: unknown broker 9")
    assert assignment(kraft_cluster.bootstrap) == before
    assert runs(medic, "rebalance") == [] and runs(medic, "decommission") == [] and runs(medic, "maintenance") == []


def test_a_rebalance_waits_for_its_approval_and_moves_once_review_approves(medic, kraft_cluster, skewed):
    before = assignment(kraft_cluster.bootstrap)
    submitted, _ = cccli(medic, "rebalance")  # no --dry-run: cccli sends dryrun=False
    (request,) = submitted["RequestInfo"]
    run_id = request["Id"]
    assert request["Status"] == "SUBMITTED" and [r["dag_run_id"] for r in runs(medic, "rebalance")] == [run_id]

    wait_for(lambda: medic.awaiting_input(REBALANCE_DAG, run_id, "approve"), 600,
             f"run {run_id} to wait for its approval", interval=2)
    board, _ = cccli(medic, "review_board")
    assert [(r["Id"], r["Status"]) for r in board["RequestInfo"]] == [(run_id, "PENDING_REVIEW")]
    tasks, _ = cccli(medic, "user_tasks")
    assert [t["Status"] for t in tasks["userTasks"] if t["UserTaskId"] == run_id] == ["Active"]
    assert assignment(kraft_cluster.bootstrap) == before  # nothing moves before the approval

    reviewed, _ = cccli(medic, "review", "--approve", run_id)
    assert [(r["Id"], r["Status"]) for r in reviewed["RequestInfo"]] == [(run_id, "APPROVED")]

    def finished():
        run = medic.call("GET", f"/dags/{REBALANCE_DAG}/dagRuns/{run_id}")
        return run["state"] in ("success", "failed") and run["state"]
    assert wait_for(finished, 600, f"run {run_id} to finish", interval=3) == "success", \
        medic.task_states(REBALANCE_DAG, run_id)
    after = assignment(kraft_cluster.bootstrap)
    # A replica set that changed took a new broker; a leadership move may only reorder a list (its leader first).
    moved = {name for name in before if set(after[name]) != set(before[name])}
    assert moved and all({3, 4} & set(after[name]) for name in moved if name.startswith(skewed)), (before, after)
    board, _ = cccli(medic, "review_board")
    assert [(r["Id"], r["Status"]) for r in board["RequestInfo"]] == [(run_id, "APPROVED")]
    tasks, _ = cccli(medic, "user_tasks")
    assert [t["Status"] for t in tasks["userTasks"] if t["UserTaskId"] == run_id] == ["Completed"]
    print(f"rebalance run {run_id}: {len(moved)} partitions moved after the review")


def test_stop_rolls_back_the_running_execution(medic, kraft_cluster):
    """A throttled rebalance, approved through `review`, stopped by `stop_proposal_execution` mid-way: the
    executor rolls back what is in flight, the run fails saying so, and no throttle or move is left."""
    topic = f"cc-slow-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": kraft_cluster.bootstrap})
    admin.create_topics([NewTopic(topic, 4, replica_assignment=[[1, 2], [2, 1]] * 2)])[topic].result(30)
    produce(kraft_cluster.bootstrap, topic, 16_000, size=1000)  # 4 MB per partition: minutes at 50 KB/s
    submitted, _ = cccli(medic, "rebalance", "--add-parameter", "replication_throttle=51200")
    run_id = submitted["RequestInfo"][0]["Id"]
    wait_for(lambda: medic.awaiting_input(REBALANCE_DAG, run_id, "approve"), 600,
             f"run {run_id} to wait for its approval", interval=2)
    cccli(medic, "review", "--approve", run_id)

    def moving():
        executor = cccli(medic, "state")[0]["ExecutorState"]
        return executor.get("numInProgressPartitionMovements", 0) > 0 and executor  # submitted: execute_batches runs
    executor = wait_for(moving, 600, "the execution to move replicas", interval=3)
    assert executor["triggeredUserTaskId"] == run_id
    assert executor["state"] == "INTER_BROKER_REPLICA_MOVEMENT_TASK_IN_PROGRESS"

    stopped, _ = cccli(medic, "stop_proposal_execution")
    assert stopped["message"] == f"Proposal execution stopped on cluster {CLUSTER}."

    def finished():
        run = medic.call("GET", f"/dags/{REBALANCE_DAG}/dagRuns/{run_id}")
        return run["state"] in ("success", "failed") and run["state"]
    assert wait_for(finished, 600, f"run {run_id} to end", interval=3) == "failed"
    assert medic.task_states(REBALANCE_DAG, run_id)["execute_batches"] == "failed"
    state = read_cluster_state(ClusterConfig(bootstrap=kraft_cluster.bootstrap))
    assert state.reassigning_partitions() == [] and state.throttles() == {"brokers": {}, "topics": {}}
    assert cccli(medic, "state")[0]["ExecutorState"]["state"] == "NO_TASK_IN_PROGRESS"
    again, _ = cccli(medic, "stop_proposal_execution")
    assert again["message"] == f"No ongoing proposal execution on cluster {CLUSTER}."
    tasks, _ = cccli(medic, "user_tasks")
    assert [t["Status"] for t in tasks["userTasks"] if t["UserTaskId"] == run_id] == ["CompletedWithError"]


def test_sampling_pauses_and_resumes(medic):
    paused, _ = cccli(medic, "pause_sampling")
    assert "paused" in paused["message"]
    state, _ = cccli(medic, "state", "--substate", "monitor")
    assert state["MonitorState"]["state"] == "PAUSED"
    resumed, _ = cccli(medic, "resume_sampling")
    assert "resumed" in resumed["message"]
    assert medic.call("GET", f"/dags/kafka_medic__{CLUSTER}__sample")["is_paused"] is False
    state, _ = cccli(medic, "state", "--substate", "monitor")
    assert state["MonitorState"]["state"] == "RUNNING"
    cccli(medic, "pause_sampling")
    assert medic.call("GET", f"/dags/kafka_medic__{CLUSTER}__sample")["is_paused"] is True


def test_schemathesis_finds_no_server_error(medic, skewed):
    """Every operation but those that change settings, with what the schema allows; execution requests
    forced to dry runs. No response may be a 5xx."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    status, raw, _ = call(medic, "GET", "openapi.json")
    assert status == 200
    del raw["security"]  # the demo's Airflow adds its own token; schemathesis would send a made-up one (401)
    schema = schemathesis.openapi.from_dict(raw)
    base_url = f"{medic.url}/kafka-medic/{CLUSTER}/kafkacruisecontrol"
    changes = {"review", "admin", "pause_sampling", "resume_sampling", "stop_proposal_execution"}
    plans = {"proposals", "rebalance", "add_broker", "remove_broker", "demote_broker", "fix_offline_replicas"}
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        name = operation.definition.raw["operationId"]
        if name in changes:
            continue

        # Each valid plan request plans (seconds on a loaded machine): fewer of them keep the test in minutes.
        @settings(max_examples=20 if name in plans else 50, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def no_server_error(case):
            if case.method == "POST":
                case.query = {**(case.query or {}), "dryrun": "true"}
            response = case.call(base_url=base_url, timeout=120)
            statuses[response.status_code] += 1
            if response.status_code == 202:  # the answer comes later: ask for it by the User-Task-ID
                # schemathesis's Response keeps header names in lower case, each with a list of values
                (task_id,) = response.headers.get("user-task-id") or [None]
                assert task_id, (case.method, case.path, case.query, "202 without a User-Task-ID header")
                task = {"User-Task-ID": task_id}

                def answered():
                    polled = case.call(base_url=base_url, headers=task, timeout=120)
                    return (polled,) if polled.status_code != 202 else None
                (response,) = wait_for(answered, 300, f"user task {task_id}", interval=0.2)
                statuses[response.status_code] += 1
            assert response.status_code < 500, (case.method, case.path, case.query, response.text[:500])
        no_server_error()
    print(f"schemathesis: {sum(statuses.values())} requests over {len(operations) - len(changes)} operations, "
          f"by status {dict(statuses)}")
    assert runs(medic, "decommission") == [] and runs(medic, "add_brokers") == []


def test_self_healing_switches_per_anomaly_type(medic):
    """`admin` switches self-healing per Cruise Control anomaly type, kept in the store beside the cluster's
    other intents and shown in `state`; an unknown type is a 400 naming the parameter (above)."""
    def detector():
        return cccli(medic, "state", "--substate", "anomaly_detector")[0]["AnomalyDetectorState"]

    said, _ = cccli(medic, "admin", "--disable-self-healing-for", "broker_failure", "goal_violation")
    assert "self-healing disabled for BROKER_FAILURE,GOAL_VIOLATION" in said["message"], said
    state = detector()
    assert state["selfHealingEnabled"] == []
    assert {"BROKER_FAILURE", "GOAL_VIOLATION"} <= set(state["selfHealingDisabled"])
    store = medic.env.get(STORE_URL_ENV) or f"sqlite:///{Path(medic.env['KAFKA_MEDIC_HOME']) / 'metrics.db'}"
    with IntentStore(store) as intents:
        off = intents.self_healing_off(CLUSTER)
    assert set(off) == {"broker_failure", "hard_goal_violation", "soft_goal_violation"}
    assert all(switch.by.startswith("ccapi:") for switch in off.values())

    said, _ = cccli(medic, "admin", "--enable-self-healing-for", "broker_failure", "goal_violation")
    assert "self-healing enabled for BROKER_FAILURE,GOAL_VIOLATION" in said["message"], said
    assert detector()["selfHealingEnabled"] == ["BROKER_FAILURE"]
