"""Every DAG file imports through DagBag, holds no secret, and follows the house rules.

House rules: every task retries, every DAG has an owner and tags, ids are stable per cluster, the
tasks that write to a cluster share its one-slot pool, and clearing throttles is a teardown.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization

from kafka_medic.airflow.dag_files import SHARDS, shard_of
from kafka_medic.airflow.factory import OWNER

from .conftest import CANARY, CLUSTERS

DAGS = Path(__file__).resolve().parents[2] / "dags"
MANUAL_KINDS = ("add_brokers", "decommission", "demote", "preferred_leader_election")
KINDS = ("sample", "detect", "maintenance", "bootstrap", "stop", "heal", "rebalance", *MANUAL_KINDS)
CREDENTIAL = re.compile(r"""(password|passwd|secret|token|api[_-]?key)["']?\s*[:=]\s*["'][^"']""", re.IGNORECASE)
WRITERS = ("set_throttles", "execute_batches", "elect_leaders", "verify", "clear_throttles")


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def test_every_dag_file_imports(dagbag):
    assert dagbag.import_errors == {}
    assert {dag.fileloc for dag in dagbag.dags.values()} <= {str(p) for p in DAGS.glob("*.py")}


def test_every_cluster_gets_every_dag_with_a_stable_id(dagbag):
    expected = {f"kafka_medic__{c['name']}__{kind}" for c in CLUSTERS for kind in KINDS}
    assert set(dagbag.dag_ids) == expected


def test_each_clusters_dags_come_once_from_the_file_of_its_shard(dagbag):
    assert sorted(p.name for p in DAGS.glob("*.py")) == [f"kafka_medic_dags_{i}.py" for i in range(SHARDS)]
    assert sum(stat.dag_num for stat in dagbag.dagbag_stats) == len(dagbag.dag_ids)  # no DAG built by two files
    for dag in dagbag.dags.values():
        cluster = dag.dag_id.split("__")[1]
        assert Path(dag.fileloc).name == f"kafka_medic_dags_{shard_of(cluster)}.py", dag.dag_id
    assert len({dag.fileloc for dag in dagbag.dags.values()}) == len({shard_of(c["name"]) for c in CLUSTERS})


def test_owner_tags_and_retries(dagbag):
    for dag in dagbag.dags.values():
        assert dag.owner == OWNER, dag.dag_id
        assert dag.tags, dag.dag_id
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag.dag_id}.{task.task_id} has no retries"


def test_no_secret_in_dag_files_or_serialized_dags(dagbag):
    for path in DAGS.glob("*"):
        if path.is_file():  # not __pycache__, which Python writes there where it keeps bytecode
            assert not CREDENTIAL.search(path.read_text()), f"{path} assigns a credential"
    for dag in dagbag.dags.values():
        assert CANARY not in json.dumps(DagSerialization.to_dict(dag), default=str), dag.dag_id


def test_cluster_writes_share_one_pool_and_throttles_are_cleared_by_a_teardown(dagbag):
    for cluster in CLUSTERS:
        for kind in ("heal", "rebalance", *MANUAL_KINDS):
            dag = dagbag.dags[f"kafka_medic__{cluster['name']}__{kind}"]
            assert {dag.get_task(t).pool for t in WRITERS} == {f"kafka_medic__{cluster['name']}"}
            assert dag.get_task("clear_throttles").is_teardown
            assert dag.get_task("report").trigger_rule == "all_done"


def test_the_stop_dag_is_started_by_hand_and_takes_no_pool_slot(dagbag):
    """The cluster's one-slot pool is held by the execution it stops: a pooled stop would wait for it."""
    for cluster in CLUSTERS:
        dag = dagbag.dags[f"kafka_medic__{cluster['name']}__stop"]
        assert dag.schedule is None and [t.task_id for t in dag.tasks] == ["stop"]
        assert dag.get_task("stop").pool != f"kafka_medic__{cluster['name']}"


def test_manual_dags_have_a_validated_form(dagbag):
    rebalance = dagbag.dags["kafka_medic__alpha__rebalance"]
    assert {"goals", "dry_run", "excluded_topics", "throttle_mb_s", "concurrency", "force"} <= set(rebalance.params)
    assert "brokers" in dagbag.dags["kafka_medic__alpha__decommission"].params
    assert dagbag.dags["kafka_medic__beta__preferred_leader_election"].schedule is None


def test_forms_leave_concurrency_empty_so_the_executor_paces_by_bytes_in_flight(dagbag):
    """Empty is the byte budget (issue 19); a default count paced 1,000 small moves at 3.9 a second."""
    for kind in ("rebalance", *MANUAL_KINDS):
        params = dagbag.dags[f"kafka_medic__alpha__{kind}"].params
        assert "concurrency" in params and params["concurrency"] is None, kind


def test_every_approval_gate_consults_the_policy(dagbag):
    """Each remediation's gate names its own action, one the approval policy knows (so it can auto-approve)."""
    from kafka_medic.notify.policy import POLICY_ACTIONS

    for cluster in CLUSTERS:
        for kind in ("heal", "rebalance", *MANUAL_KINDS):
            gate = dagbag.dags[f"kafka_medic__{cluster['name']}__{kind}"].get_task("approve")
            assert (gate.action, gate.action in POLICY_ACTIONS) == (kind, True), kind
