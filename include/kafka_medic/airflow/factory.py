"""The DAG factory: every managed cluster gets the same DAGs, with stable ids kafka_medic__<cluster>__<kind>.

Scheduled: `sample` (load into the metrics store) and `detect` (anomalies -> alerts and asset events).
Remediation, one chain of small retryable tasks each:

    validate | wait_for_grace -> snapshot -> plan -> approve -> set_throttles -> execute_batches
        -> elect_leaders -> verify -> clear_throttles (teardown) -> report

`heal` starts from the detector's asset event, `rebalance` nightly, from goal-violation events or by hand,
the others by hand with a form. The tasks that write to the cluster share the cluster's one-slot pool.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, AssetOrTimeSchedule, CronTriggerTimetable, TriggerRule

from kafka_medic.airflow import monitoring, steps
from kafka_medic.airflow.approval import ProposalApproval
from kafka_medic.airflow.clusters import ManagedCluster
from kafka_medic.airflow.grace import FailureGraceSensor
from kafka_medic.airflow.monitoring import anomaly_asset
from kafka_medic.airflow.params import form

OWNER = "kafka-medic"
START = datetime(2026, 1, 1)
DEFAULT_ARGS = {"owner": OWNER, "retries": 2, "retry_delay": timedelta(seconds=15)}
HEAL, REBALANCE = "heal", "rebalance"  # the detector's actions, each a DAG started by an asset
MANUAL_KINDS = ("add_brokers", "decommission", "demote", "preferred_leader_election")
DOCS = {
    "sample": "Samples broker and partition load into the metrics store.",
    "detect": "Finds anomalies, alerts once per anomaly, and starts heal or rebalance through asset events.",
    "heal": "Moves replicas off dead brokers and failed disks once the failure outlasts its grace period.",
    "rebalance": "Rebalances replicas and leadership to meet the goals (skips when none is violated unless forced).",
    "add_brokers": "Moves replicas onto newly added brokers.",
    "decommission": "Empties brokers so they can be removed.",
    "demote": "Takes leadership off brokers for maintenance.",
    "preferred_leader_election": "Hands leadership back to each partition's preferred replica.",
}


def build_dags(clusters: list[ManagedCluster]) -> dict[str, DAG]:
    """Every DAG of every cluster, by DAG id."""
    dags = []
    for cluster in clusters:
        dags += [sample_dag(cluster), detect_dag(cluster), heal_dag(cluster), rebalance_dag(cluster)]
        dags += [manual_dag(cluster, kind) for kind in MANUAL_KINDS]
    return {dag.dag_id: dag for dag in dags}


def _dag(cluster: ManagedCluster, kind: str, schedule, **kwargs) -> DAG:
    return DAG(
        dag_id=cluster.dag_id(kind),
        description=f"{DOCS[kind]} Cluster {cluster.name}.",
        doc_md=DOCS[kind],
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["kafka-medic", f"cluster:{cluster.name}", kind],
        **kwargs,
    )


def sample_dag(cluster: ManagedCluster) -> DAG:
    with _dag(cluster, "sample", timedelta(minutes=cluster.sample_every_minutes)) as dag:
        PythonOperator(task_id="sample", python_callable=monitoring.sample,
                       op_kwargs=_where(cluster) | {"every_minutes": cluster.sample_every_minutes})
    return dag


def detect_dag(cluster: ManagedCluster) -> DAG:
    with _dag(cluster, "detect", timedelta(minutes=cluster.detect_every_minutes)) as dag:
        found = PythonOperator(task_id="detect", python_callable=monitoring.detect, op_kwargs=_where(cluster))
        for action in (HEAL, REBALANCE):
            PythonOperator(
                task_id=f"publish_{action}", python_callable=monitoring.publish,
                op_kwargs={"cluster": cluster.name, "action": action, "due": found.output},
                outlets=[anomaly_asset(cluster.name, action)],
            )
    return dag


def heal_dag(cluster: ManagedCluster) -> DAG:
    with _dag(cluster, "heal", anomaly_asset(cluster.name, HEAL)) as dag:
        grace = FailureGraceSensor(task_id="wait_for_grace", **_where(cluster))
        _remediation_chain(cluster, "heal", grace)
    return dag


def rebalance_dag(cluster: ManagedCluster) -> DAG:
    asset = anomaly_asset(cluster.name, REBALANCE)
    schedule = asset
    if cluster.rebalance_cron:
        schedule = AssetOrTimeSchedule(timetable=CronTriggerTimetable(cluster.rebalance_cron, timezone="UTC"),
                                       assets=asset)
    with _dag(cluster, "rebalance", schedule, params=form("rebalance")) as dag:
        _remediation_chain(cluster, "rebalance", _validate(cluster, "rebalance"))
    return dag


def manual_dag(cluster: ManagedCluster, kind: str) -> DAG:
    with _dag(cluster, kind, None, params=form(kind)) as dag:
        _remediation_chain(cluster, kind, _validate(cluster, kind))
    return dag


def _validate(cluster: ManagedCluster, kind: str) -> PythonOperator:
    return PythonOperator(task_id="validate", python_callable=steps.validate,
                          op_kwargs=_where(cluster) | {"kind": kind})


def _remediation_chain(cluster: ManagedCluster, kind: str, first: PythonOperator) -> None:
    where = _where(cluster)

    def step(task_id: str, callable_: Callable, pool: bool = True, **op_kwargs) -> PythonOperator:
        return PythonOperator(task_id=task_id, python_callable=callable_, op_kwargs=op_kwargs,
                              pool=cluster.pool if pool else None)

    snapshot = step("snapshot", steps.snapshot, pool=False, **where, request=first.output)
    plan = step("plan", steps.make_plan, pool=False, request=first.output, model=snapshot.output)
    approve = ProposalApproval(task_id="approve", action=kind, **where,
                               timeout=timedelta(minutes=cluster.approval_timeout_minutes))
    throttles = step("set_throttles", steps.set_throttles, **where, request=first.output, proposal=plan.output)
    execution_id = throttles.output
    moves = step("execute_batches", steps.execute_batches, **where, execution_id=execution_id)
    leaders = step("elect_leaders", steps.elect_leaders, **where, execution_id=execution_id)
    verify = step("verify", steps.verify, **where, execution_id=execution_id)
    clear = step("clear_throttles", steps.clear_throttles, **where, execution_id=execution_id)
    report = PythonOperator(task_id="report", python_callable=steps.report, op_kwargs=where | {"kind": kind},
                            trigger_rule=TriggerRule.ALL_DONE)
    plan >> approve >> throttles >> moves >> leaders >> verify >> clear.as_teardown(setups=throttles) >> report


def _where(cluster: ManagedCluster) -> dict[str, str]:
    return {"cluster": cluster.name, "conn_id": cluster.conn_id}
