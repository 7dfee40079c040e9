"""Cruise Control's own client (`cccli`, from cruise-control-client) drives kafka-medic's CC API.

One `airflow standalone` (the demo's all-admins mode: `cccli` cannot send a bearer token, see
test_cruise_control_auth.py for the authenticated side) serves the module, managing the session's KRaft
cluster. Reads and dry runs are answered in-process; `dryrun=false` is a DAG run that waits for its
approval, which `cccli review` gives; `cccli stop` rolls a throttled execution back. Bad parameters are
400s naming them and move nothing. Last, schemathesis sends what the OpenAPI schema allows to every
endpoint and no answer may be a 5xx. The tests run in file order and share the Airflow.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from kafka_medic.airflow.standalone import StandaloneAirflow
from kafka_medic.devcluster.ports import free_ports
from kafka_medic.executor import Journal
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state

from .executor_helpers import no_reassignments, our_throttles, partitions_of, placed_topic
from .kafka_helpers import every_topic_but, wait_for
from .servers import started

CLUSTER, CONN_ID = "ccapi", "kafka_medic_ccapi"
BIN = Path(sys.executable).parent
# Only what a test asks for moves anything: no anomaly starts a remediation on this shared cluster.
QUIET = {kind: {"action": None} for kind in ("broker_failure", "disk_failure", "under_replicated_partitions",
                                             "hard_goal_violation", "soft_goal_violation")}


@pytest.fixture(scope="module")
def api(kraft_cluster, tmp_path_factory):
    """The standalone Airflow; the cluster's detect DAG is paused (nothing here needs anomalies)."""
    home = tmp_path_factory.mktemp("airflow-ccapi")
    connection = {"conn_type": "kafka", "extra": {"bootstrap.servers": kraft_cluster.bootstrap,
                                                  "kafka_medic": {"remediation": QUIET}}}
    airflow = StandaloneAirflow(
        home, free_ports(1)[0],
        [{"name": CLUSTER, "conn_id": CONN_ID, "rebalance_cron": None,
          "policy": {"rebalance_on_incomplete_load": True}}],
        {CONN_ID: connection})
    airflow.env["KAFKA_MEDIC_HOME"] = str(home / "medic")
    with started(airflow, paused=[f"kafka_medic__{CLUSTER}__detect"]):
        yield airflow


@pytest.fixture(scope="module")
def config(kraft_cluster) -> ClusterConfig:
    return ClusterConfig(kraft_cluster.bootstrap)


def cccli(api: StandaloneAirflow, *args: str) -> dict:
    """`cccli -a <api-server>/kafka-medic/<cluster> ARGS`: the final JSON answer (it polls 202s itself)."""
    address = f"localhost:{api.port}/kafka-medic/{CLUSTER}"
    done = subprocess.run([str(BIN / "cccli"), "-a", address, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def assignments(config: ClusterConfig) -> dict[tuple[str, int], list[int]]:
    return {(p.topic, p.partition): list(p.replicas) for p in read_cluster_state(config).partitions}


def skewed_topic(bootstrap: str, mb: float = 0.2) -> str:
    """A topic whose 8 partitions all sit on brokers 1 and 2, for a rebalance to spread."""
    topic = f"ccapi-{uuid.uuid4().hex[:6]}"
    placed_topic(bootstrap, topic, [[1, 2] if p % 2 else [2, 1] for p in range(8)], mb)
    return topic


def runs(api: StandaloneAirflow, kind: str) -> list[dict]:
    return api.runs(f"kafka_medic__{CLUSTER}__{kind}")


def test_reads_answer_in_cruise_control_shapes(api, config):
    state = cccli(api, "state", "--substates", "monitor", "executor", "analyzer", "anomaly_detector")
    assert set(state) >= {"MonitorState", "ExecutorState", "AnalyzerState", "AnomalyDetectorState"}
    assert state["ExecutorState"]["state"] == "NO_TASK_IN_PROGRESS"
    alive = sorted(b.id for b in read_cluster_state(config).brokers.values() if b.alive)
    load = cccli(api, "load")
    assert sorted(b["Broker"] for b in load["brokers"]) == alive
    partitions = cccli(api, "partition_load", "--num-entries", "5")
    assert 0 < len(partitions["records"]) <= 5
    kafka = cccli(api, "kafka_cluster_state")
    assert sorted(int(b) for b in kafka["KafkaBrokerState"]["ReplicaCountByBrokerId"]) == alive
    proposals = cccli(api, "proposals")
    assert "summary" in proposals and "loadAfterOptimization" in proposals
    tasks = cccli(api, "user_tasks")["userTasks"]
    assert {"state", "load", "partition_load", "kafka_cluster_state", "proposals"} <= {
        t["RequestURL"].split("?")[0].rsplit("/", 1)[-1] for t in tasks}


@pytest.mark.parametrize("args, named", [
    (["rebalance", "--add-parameter", "no_such_param=1"], "no_such_param"),
    (["rebalance", "--goals", "NoSuchGoal"], "goals"),
    (["rebalance", "--excluded-topics", "("], "excluded_topics"),
    (["remove_broker", "a"], "brokerid"),
    (["add_broker", "99", "--dry-run"], "brokerid"),
    (["topic_configuration", "--add-parameter", "topic=x", "replication_factor=3"], "topic_configuration"),
])
def test_a_bad_parameter_is_a_400_naming_it_and_nothing_moves(api, config, args, named):
    before, started_runs = assignments(config), len(runs(api, "rebalance"))
    answer = cccli(api, *args)
    assert named in answer["errorMessage"], answer
    assert assignments(config) == before and len(runs(api, "rebalance")) == started_runs


@pytest.mark.parametrize("endpoint, query, named", [
    ("rebalance", "concurrent_partition_movements_per_broker=0", "concurrent_partition_movements_per_broker"),
    ("admin", "disable_self_healing_for=NO_SUCH_ANOMALY", "disable_self_healing_for"),
])
def test_what_cccli_refuses_itself_is_refused_by_the_server_too(api, config, endpoint, query, named):
    before = assignments(config)
    url = f"http://localhost:{api.port}/kafka-medic/{CLUSTER}/kafkacruisecontrol/{endpoint}?{query}"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=120)
    assert refused.value.code == 400
    assert json.loads(refused.value.read())["errorMessage"].startswith(f"{named}: ")
    assert assignments(config) == before


def test_dry_runs_plan_and_move_nothing(api, config, kraft_cluster):
    topic = skewed_topic(kraft_cluster.bootstrap)
    before = assignments(config)
    plan = cccli(api, "rebalance", "--dry-run", "--excluded-topics", every_topic_but(topic))
    assert plan["summary"]["numReplicaMovements"] > 0
    assert {p["topicPartition"]["topic"] for p in plan["proposals"]} == {topic}
    removal = cccli(api, "remove_broker", "4", "--dry-run")
    assert removal["summary"]["excludedBrokersForReplicaMove"] == [4]
    assert all(4 not in p["newReplicas"] for p in removal["proposals"])
    assert any(4 in p["oldReplicas"] for p in removal["proposals"]) == any(4 in r for r in before.values())
    assert assignments(config) == before
    assert runs(api, "rebalance") == [] and runs(api, "decommission") == []


def test_self_healing_switches_per_anomaly_type(api):
    def detector() -> dict:
        return cccli(api, "state", "--substates", "anomaly_detector")["AnomalyDetectorState"]

    assert "DISK_FAILURE" in detector()["selfHealingDisabled"]  # QUIET: no remediation for it at all
    message = cccli(api, "admin", "--disable-self-healing-for", "BROKER_FAILURE")["message"]
    assert "self-healing disabled for BROKER_FAILURE (anomaly kinds: broker_failure)" in message
    assert "BROKER_FAILURE" in detector()["selfHealingDisabled"]
    cccli(api, "admin", "--enable-self-healing-for", "BROKER_FAILURE")
    assert "BROKER_FAILURE" not in detector()["selfHealingDisabled"]


def test_sampling_pauses_and_resumes_the_sample_dag(api):
    sample = f"kafka_medic__{CLUSTER}__sample"
    cccli(api, "pause_sampling")
    assert api.call("GET", f"/dags/{sample}")["is_paused"] is True
    cccli(api, "resume_sampling")
    assert api.call("GET", f"/dags/{sample}")["is_paused"] is False


def review_when_waiting(api: StandaloneAirflow, run_id: str) -> None:
    """Approve the run once review_board lists it pending, as an operator would with cccli."""
    def pending() -> bool:
        board = cccli(api, "review_board")["RequestInfo"]
        return any(r["Id"] == run_id and r["Status"] == "PENDING_REVIEW" for r in board)
    wait_for(pending, 600, f"run {run_id} to wait for its review", interval=3)
    [answer] = cccli(api, "review", "--approve", run_id)["RequestInfo"]
    assert (answer["Id"], answer["Status"]) == (run_id, "APPROVED")


def run_state(api: StandaloneAirflow, run_id: str) -> str:
    return api.call("GET", f"/dags/kafka_medic__{CLUSTER}__rebalance/dagRuns/{run_id}")["state"]


def test_a_rebalance_waits_for_its_review_and_then_moves(api, config, kraft_cluster):
    topic = skewed_topic(kraft_cluster.bootstrap)
    before = partitions_of(config, topic)
    [submitted] = cccli(api, "rebalance", "--excluded-topics", every_topic_but(topic))["RequestInfo"]
    run_id = submitted["Id"]
    assert submitted["Status"] == "SUBMITTED" and run_id.startswith("ccapi__")
    assert run_id in {t["UserTaskId"] for t in cccli(api, "user_tasks")["userTasks"]}
    assert partitions_of(config, topic) == before  # nothing moves before the review
    review_when_waiting(api, run_id)
    assert wait_for(lambda: run_state(api, run_id) in ("success", "failed") and run_state(api, run_id), 900,
                    f"rebalance run {run_id} to finish", interval=3) == "success", api.task_states(
        f"kafka_medic__{CLUSTER}__rebalance", run_id)
    after = partitions_of(config, topic)
    assert {b for p in after.values() for b in p.replicas} - {1, 2}, "the topic was not spread"
    assert no_reassignments(config) and our_throttles(config, topic) == {"brokers": {}, "topic": {}}


def test_stop_rolls_back_a_throttled_rebalance(api, config, kraft_cluster):
    topic = skewed_topic(kraft_cluster.bootstrap, mb=24)
    before = partitions_of(config, topic)
    [submitted] = cccli(api, "rebalance", "--excluded-topics", every_topic_but(topic),
                        "--add-parameter", f"replication_throttle={512 * 1024}")["RequestInfo"]
    run_id = submitted["Id"]
    review_when_waiting(api, run_id)

    def moving() -> bool:
        return any(tp[0] == topic for tp in read_cluster_state(config).reassigning_partitions())
    wait_for(moving, 600, f"the throttled rebalance of {topic} to be moving", interval=0.5)
    answer = cccli(api, "stop_proposal_execution")
    assert answer["message"].startswith("Proposal execution stopped"), answer
    wait_for(lambda: run_state(api, run_id) in ("success", "failed"), 600, f"run {run_id} to end", interval=3)
    assert no_reassignments(config)
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
    with Journal(f"sqlite:///{api.home / 'medic' / 'metrics.db'}") as journal:
        execution = journal.list(CLUSTER, limit=1)[0]
    assert execution.status == "stopped", (execution.status, execution.message)
    after = partitions_of(config, topic)
    moves = execution.proposal.moves
    assert moves and all(m.topic == topic for m in moves)
    for m in moves:  # a move in flight was rolled back to its old replicas; one that had finished stays done
        assert set(after[m.partition].replicas) in (set(m.old_replicas), set(m.new_replicas)), m
        assert set(m.old_replicas) == set(before[m.partition].replicas)
    assert any(set(after[m.partition].replicas) == set(m.old_replicas) for m in moves), "nothing was stopped"


def test_no_request_the_schema_allows_gets_a_server_error(api, tmp_path):
    base = f"http://localhost:{api.port}/kafka-medic/{CLUSTER}/kafkacruisecontrol"
    command = [str(BIN / "schemathesis"), "run", f"{base}/openapi.json", "--url", base,
               "--checks", "not_a_server_error", "--max-examples", "3", "--phases", "examples,fuzzing",
               "--request-timeout", "300", "--generation-deterministic", "--suppress-health-check", "all"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:]
