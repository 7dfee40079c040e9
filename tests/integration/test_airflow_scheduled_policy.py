"""With a real scheduler: the nightly rebalance, started by its cron and not by a person, runs at the
cluster policy's throttle, read back from the brokers while it moves.

One `airflow standalone` serves a cluster whose rebalance cron fires every minute and whose policy sets
a throttle, the goal (replica counts) and allows rebalancing on the partial loads of a fresh store. The
rebalance DAG stays paused until a topic whose replicas all sit on brokers 1 and 2 exists.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import pytest

from kafka_medic.airflow.standalone import StandaloneAirflow
from kafka_medic.devcluster.ports import free_ports
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.notify.action_log import ActionLog

from .executor_helpers import placed_topic
from .kafka_helpers import all_succeeded, delete_topics, wait_for

CLUSTER, CONN_ID = "nightly", "kafka_medic_nightly"
DAG = f"kafka_medic__{CLUSTER}__rebalance"
THROTTLE_MB_S = 2
QUIET = {kind: {"action": None} for kind in ("broker_failure", "disk_failure", "under_replicated_partitions",
                                              "hard_goal_violation", "soft_goal_violation")}


@pytest.fixture(scope="module")
def airflow(kraft_cluster, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-scheduled")
    extra = {"bootstrap.servers": kraft_cluster.bootstrap,
             "kafka_medic": {"policy": {"rebalance": {"approval": "auto", "max_data_gb": 1}}, "remediation": QUIET}}
    policy = {"throttle": THROTTLE_MB_S, "goals": ["rack_aware", "replica_distribution"],
              "rebalance_on_incomplete_load": True}
    clusters = [{"name": CLUSTER, "conn_id": CONN_ID, "rebalance_cron": "* * * * *", "policy": policy}]
    airflow = StandaloneAirflow(home, free_ports(1)[0], clusters, {CONN_ID: {"conn_type": "kafka", "extra": extra}})
    airflow.env["KAFKA_MEDIC_HOME"] = str(home / "medic")
    airflow.env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "True"  # nothing runs until the test says so
    try:
        airflow.start()
        yield airflow
    finally:
        airflow.stop()


def skewing_pairs(config: ClusterConfig) -> int:
    """Pairs of partitions on brokers 1 and 2 that leave both 30% above the mean replica count, whatever the
    session's earlier tests left on the shared cluster: a scheduled rebalance plans only when a goal is violated."""
    counts = Counter(b for p in read_cluster_state(config).partitions for b in p.replicas)
    brokers = read_cluster_state(config).alive_brokers
    pairs = 4
    while min(counts[1], counts[2]) + 2 * pairs <= 1.3 * (counts.total() + 4 * pairs) / len(brokers):
        pairs *= 2
    return pairs


@pytest.fixture
def topic(kraft_cluster):
    """The test's topic, deleted afterwards: the session's other tests share the cluster."""
    name = f"nightly-{uuid.uuid4().hex[:6]}"
    yield name
    delete_topics(kraft_cluster, name)


def test_the_scheduled_rebalance_runs_at_the_policys_throttle(airflow, kraft_cluster, topic):
    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap, name=CLUSTER)
    placed_topic(kraft_cluster.bootstrap, topic, [[1, 2], [2, 1]] * skewing_pairs(config), mb=16)
    seen: set[tuple[int, str, str]] = set()
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            for broker, rates in read_cluster_state(config).throttles()["brokers"].items():
                seen.update((int(broker), name, str(value)) for name, value in rates.items())
            done.wait(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    airflow.call("PATCH", f"/dags/{DAG}", {"is_paused": False})
    try:
        def finished_scheduled_run():
            try:
                runs = [r for r in airflow.runs(DAG) if r["run_type"] == "scheduled"]  # newest first
            except OSError:  # an API busy with the scheduler's writes (SQLite) answers late: ask again
                return None
            return runs and runs[-1]["state"] in ("success", "failed") and runs[-1]  # the first one
        run = wait_for(finished_scheduled_run, 900, "a scheduled rebalance to finish", interval=3)
    finally:
        airflow.call("PATCH", f"/dags/{DAG}", {"is_paused": True})
        done.set()
        poller.join(30)
    states = airflow.task_states(DAG, run["dag_run_id"])
    if run["state"] != "success" or not all_succeeded(states):
        failed = "\n".join(f"{task}: {line.get('event')} {line.get('error_detail') or ''}"
                            for task, state in states.items() if state == "failed"
                            for line in airflow.task_log(DAG, run["dag_run_id"], task)[-20:])
        pytest.fail(f"run {run['state']}, tasks {states}; the failed tasks' last log lines:\n{failed}")
    rate = str(THROTTLE_MB_S * 2**20)
    assert seen and {(name, value) for _, name, value in seen} == {
        ("leader.replication.throttled.rate", rate), ("follower.replication.throttled.rate", rate)}, seen
    assert read_cluster_state(config).throttles() == {"brokers": {}, "topics": {}}
    with ActionLog(f"sqlite:///{airflow.home / 'medic' / 'metrics.db'}") as log:
        [record] = [r for r in log.recent(CLUSTER) if r.run == f"{DAG}/{run['dag_run_id']}"]
    assert (record.action, record.outcome) == ("rebalance", "succeeded")
    assert record.moves_done > 0 and record.why == ["scheduled rebalance"]
    print(f"scheduled run {run['dag_run_id']}: {record.moves_done} moves, {record.bytes_moved / 2**20:.1f} MB at "
          f"{THROTTLE_MB_S} MB/s on brokers {sorted({b for b, _, _ in seen})}")
