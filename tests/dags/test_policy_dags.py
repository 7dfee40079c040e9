"""The cluster policy in clusters.json shapes the DAGs: forms default to it, tasks receive it, and a bad
policy takes only its own cluster down, to one failing DAG that says why."""

from __future__ import annotations

import json

import pytest
from airflow.dag_processing.dagbag import DagBag

from . import airflow_env

POLICY = {"throttle": 25, "concurrency": 4, "goals": ["rack_aware", "disk_capacity"], "balance_band": 0.2,
          "capacity_threshold": 0.7, "load_windows": 12, "window_minutes": 30, "load_statistic": "p95"}


@pytest.fixture(scope="module")
def dagbag():
    patch = pytest.MonkeyPatch()
    path = airflow_env.HOME / "clusters-policy.json"
    path.write_text(json.dumps({"clusters": [
        {"name": "good", "conn_id": "kafka_medic_good", "policy": POLICY},
        {"name": "bad", "conn_id": "kafka_medic_bad", "policy": {"throttle": -5}},
    ]}))
    patch.setenv("KAFKA_MEDIC_CLUSTERS", str(path))
    yield DagBag(dag_folder=str(airflow_env.DAGS))
    patch.undo()


def test_a_bad_policy_leaves_its_cluster_one_failing_dag_and_the_others_whole(dagbag):
    assert dagbag.import_errors == {}
    bad = sorted(d for d in dagbag.dag_ids if d.startswith("kafka_medic__bad__"))
    assert bad == ["kafka_medic__bad__policy_error"]
    # sample, detect, maintenance, bootstrap, stop and the six kinds
    assert len([d for d in dagbag.dag_ids if d.startswith("kafka_medic__good__")]) == 11
    [task] = dagbag.dags["kafka_medic__bad__policy_error"].tasks
    assert "cluster 'bad': policy.throttle: must be a positive number, got -5" in task.op_kwargs["reason"]
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="policy.throttle"):
        task.python_callable(**task.op_kwargs)


def test_the_forms_default_to_the_policy_and_the_tasks_receive_it(dagbag):
    rebalance = dagbag.dags["kafka_medic__good__rebalance"]
    defaults = {name: rebalance.params[name] for name in
                ("throttle_mb_s", "auto_throttle", "concurrency", "goals", "balance_band", "capacity_threshold")}
    assert defaults == {"throttle_mb_s": 25, "auto_throttle": False, "concurrency": 4,
                        "goals": ["rack_aware", "disk_capacity"], "balance_band": 0.2,
                        "capacity_threshold": {"disk": 0.7, "nw_in": 0.7, "nw_out": 0.7, "cpu": 0.7}}
    assert dagbag.dags["kafka_medic__good__decommission"].params["throttle_mb_s"] == 25
    heal = dagbag.dags["kafka_medic__good__heal"]
    assert heal.get_task("wait_for_grace").policy["throttle"] == 25
    assert heal.get_task("snapshot").op_kwargs["policy"]["load_windows"] == 12
    detect = dagbag.dags["kafka_medic__good__detect"].get_task("detect")
    assert detect.op_kwargs["policy"]["load_statistic"] == "p95"
    assert set(dagbag.dags["kafka_medic__good__maintenance"].params) == {"maintenance", "reason", "readd_brokers"}
    bootstrap = dagbag.dags["kafka_medic__good__bootstrap"]
    assert bootstrap.params["hours"] == 6  # the policy's horizon: 12 windows of 30 minutes
    assert bootstrap.schedule is None and bootstrap.get_task("bootstrap").op_kwargs["policy"]["window_minutes"] == 30
