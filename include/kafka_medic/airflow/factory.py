"""The DAG factory: every managed cluster gets the same DAGs, with stable ids kafka_medic__<cluster>__<kind>.

Scheduled: `sample` (load into the metrics store) and `detect` (anomalies -> alerts and asset events).
Remediation, one chain of small retryable tasks each:

    validate | wait_for_grace -> snapshot -> plan -> approve -> check_plan -> set_throttles
        -> execute_batches -> elect_leaders -> verify -> clear_throttles (teardown) -> report
                                                      check_plan -> replan (when the plan is stale) -> report

One remediation DAG per kind in `kafka_medic.remediation.kinds`, started by the kind's triggers: `heal`
from the detector's asset event, `rebalance` nightly, from goal-violation events or by hand, the others by
hand with a form. The tasks that write to the cluster share the cluster's one-slot pool.

The cluster's policy (`kafka_medic.remediation.policy`, from clusters.json) is every form's defaults and
reaches the tasks that plan, gate or record (op_kwargs `policy`); a `maintenance` DAG switches automated
runs off and on and re-adds remembered brokers; a `stop` DAG stops the running execution. A cluster
whose policy is bad gets one DAG, `kafka_medic__<cluster>__policy_error`, whose one task fails saying
why; the other clusters are untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypedDict

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, AssetOrTimeSchedule, BaseOperator, CronTriggerTimetable, TriggerRule

from kafka_medic.airflow import bootstrap, fidelity, ids, maintenance, monitoring, steps, stop_execution
from kafka_medic.airflow.approval import ProposalApproval
from kafka_medic.airflow.clusters import ManagedCluster
from kafka_medic.airflow.grace import FailureGraceSensor
from kafka_medic.airflow.monitoring import anomaly_asset
from kafka_medic.airflow.params import form, maintenance_form
from kafka_medic.remediation.kinds import DETECTOR, KINDS, MANUAL, SCHEDULE, Kind, triggered_by

OWNER = "kafka-medic"
START = datetime(2026, 1, 1)
DEFAULT_ARGS = {"owner": OWNER, "retries": 2, "retry_delay": timedelta(seconds=15)}
# The scheduled DAGs'; each remediation kind carries its own.
SAMPLE_DOC = "Samples broker and partition load into the metrics store."
DETECT_DOC = "Finds anomalies, alerts once per anomaly, and starts heal or rebalance through asset events."
MAINTENANCE_DOC = ("Switches the cluster's maintenance on or off (automated runs skip while it is on) and "
                   "re-adds brokers remembered as decommissioned or demoted.")
BOOTSTRAP_DOC = ("Fills the load windows from Prometheus history (range queries), so a fresh install can plan "
                 "at once; started by hand, idempotent.")
STOP_DOC = "Stops the cluster's running execution: rolls back the moves in flight and clears the throttles."
POLICY_ERROR_DOC = "The cluster's policy in clusters.json is invalid: this DAG's task says why; fix the file."
log = logging.getLogger(__name__)


def build_dags(clusters: list[ManagedCluster]) -> dict[str, DAG]:
    """Every DAG of every cluster, by DAG id."""
    dags = []
    for cluster in clusters:
        if cluster.policy_error:
            log.error("%s", cluster.policy_error)
            dags.append(policy_error_dag(cluster))
            continue
        dags += [sample_dag(cluster), detect_dag(cluster), maintenance_dag(cluster), bootstrap_dag(cluster),
                 stop_dag(cluster)]
        dags += [remediation_dag(cluster, kind) for kind in KINDS.values()]
    return {dag.dag_id: dag for dag in dags}


def _dag(cluster: ManagedCluster, name: str, doc: str, schedule, **kwargs) -> DAG:
    return DAG(
        dag_id=cluster.dag_id(name),
        description=f"{doc} Cluster {cluster.name}.",
        doc_md=doc,
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["kafka-medic", f"cluster:{cluster.name}", name],
        **kwargs,
    )


def sample_dag(cluster: ManagedCluster) -> DAG:
    with _dag(cluster, "sample", SAMPLE_DOC, timedelta(minutes=cluster.sample_every_minutes)) as dag:
        PythonOperator(task_id=ids.SAMPLE, python_callable=monitoring.sample,
                       op_kwargs=_where(cluster) | {"every_minutes": cluster.sample_every_minutes})
    return dag


def detect_dag(cluster: ManagedCluster) -> DAG:
    with _dag(cluster, "detect", DETECT_DOC, timedelta(minutes=cluster.detect_every_minutes)) as dag:
        found = PythonOperator(task_id=ids.DETECT, python_callable=monitoring.detect,
                               op_kwargs=_where(cluster) | {"policy": cluster.policy.as_dict()})
        for kind in triggered_by(DETECTOR):
            PythonOperator(
                task_id=ids.publish(kind.name), python_callable=monitoring.publish,
                op_kwargs={"cluster": cluster.name, "action": kind.name, "due": found.output},
                outlets=[anomaly_asset(cluster.name, kind.name)],
            )
    return dag


def maintenance_dag(cluster: ManagedCluster) -> DAG:
    with _dag(cluster, "maintenance", MAINTENANCE_DOC, None, params=maintenance_form()) as dag:
        PythonOperator(task_id=ids.MAINTENANCE, python_callable=maintenance.apply, op_kwargs=_where(cluster))
    return dag


def bootstrap_dag(cluster: ManagedCluster) -> DAG:
    with _dag(cluster, "bootstrap", BOOTSTRAP_DOC, None, params=bootstrap.bootstrap_form(cluster.policy)) as dag:
        PythonOperator(task_id=ids.BOOTSTRAP, python_callable=bootstrap.run,
                       op_kwargs=_where(cluster) | {"policy": cluster.policy.as_dict()})
    return dag


def stop_dag(cluster: ManagedCluster) -> DAG:
    with _dag(cluster, "stop", STOP_DOC, None) as dag:
        PythonOperator(task_id=ids.STOP, python_callable=stop_execution.stop, op_kwargs=_where(cluster))
    return dag


def policy_error_dag(cluster: ManagedCluster) -> DAG:
    """Runs once, failing with the policy's error, so the cluster's page in the UI says what to fix."""
    with _dag(cluster, "policy_error", POLICY_ERROR_DOC, "@once") as dag:
        # no retries: the house rule is for tasks a retry can help, and only editing clusters.json helps this one
        PythonOperator(task_id=ids.POLICY_ERROR, python_callable=steps.fail, op_kwargs={"reason": cluster.policy_error},
                       retries=0)
    return dag


def remediation_dag(cluster: ManagedCluster, kind: Kind) -> DAG:
    """A kind people trigger has its form, checked first; one they do not waits out the anomalies' grace."""
    manual = MANUAL in kind.triggers
    params = form(kind.name, cluster.policy) if manual else None
    policy = {"policy": cluster.policy.as_dict()}
    with _dag(cluster, kind.name, kind.doc, _schedule(cluster, kind), params=params) as dag:
        first: BaseOperator
        if manual:
            first = PythonOperator(task_id=ids.VALIDATE, python_callable=steps.validate,
                                   op_kwargs=_where(cluster) | {"kind": kind.name})
        else:
            first = FailureGraceSensor(task_id=ids.WAIT_FOR_GRACE, **_where(cluster), **policy)
        _remediation_chain(cluster, kind, first)
    return dag


def _schedule(cluster: ManagedCluster, kind: Kind):
    """The detector's asset event, the cluster's cron, either one, or None (started by hand only)."""
    asset = anomaly_asset(cluster.name, kind.name) if DETECTOR in kind.triggers else None
    cron = cluster.rebalance_cron if SCHEDULE in kind.triggers else None
    timetable = CronTriggerTimetable(cron, timezone="UTC") if cron else None
    if asset and timetable:
        return AssetOrTimeSchedule(timetable=timetable, assets=asset)
    return asset or timetable


def _remediation_chain(cluster: ManagedCluster, kind: Kind, first: BaseOperator) -> None:
    where = _where(cluster)

    def step(task_id: str, callable_: Callable, pool: bool = True, **op_kwargs) -> PythonOperator:
        return PythonOperator(task_id=task_id, python_callable=callable_, op_kwargs=op_kwargs,
                              pool=cluster.pool if pool else None)

    policy = cluster.policy.as_dict()
    snapshot = step(ids.SNAPSHOT, steps.snapshot, pool=False, **where, request=first.output, policy=policy)
    plan = step(ids.PLAN, steps.make_plan, pool=False, cluster=cluster.name, request=first.output,
                model=snapshot.output)
    approve = ProposalApproval(task_id=ids.APPROVE, action=kind.policy_action, **where,
                               timeout=timedelta(minutes=cluster.approval_timeout_minutes))
    check = step(ids.CHECK_PLAN, fidelity.check_plan, pool=False, **where, policy=policy)
    replan = fidelity.Replan(task_id=ids.REPLAN, dag_id=cluster.dag_id(kind.name))
    throttles = step(ids.SET_THROTTLES, steps.set_throttles, **where, request=first.output, proposal=plan.output)
    execution_id = throttles.output
    moves = step(ids.EXECUTE_BATCHES, steps.execute_batches, **where, execution_id=execution_id, policy=policy)
    leaders = step(ids.ELECT_LEADERS, steps.elect_leaders, **where, execution_id=execution_id)
    verify = step(ids.VERIFY, steps.verify, **where, execution_id=execution_id)
    clear = step(ids.CLEAR_THROTTLES, steps.clear_throttles, **where, execution_id=execution_id)
    report = PythonOperator(task_id=ids.REPORT, python_callable=steps.report,
                            op_kwargs=where | {"kind": kind.name, "policy": policy},
                            trigger_rule=TriggerRule.ALL_DONE)
    plan >> approve >> check >> throttles >> moves >> leaders >> verify >> clear.as_teardown(setups=throttles) >> report
    check >> replan >> report


class Where(TypedDict):
    """Which cluster a task acts on: every step's first two arguments."""

    cluster: str
    conn_id: str


def _where(cluster: ManagedCluster) -> Where:
    return {"cluster": cluster.name, "conn_id": cluster.conn_id}
