"""Plan fidelity in the remediation chain: approve -> check_plan -> set_throttles, and replan beside it.

Right before the first write, `check_plan` executes only the plan that was approved (the digest the approval
recorded) and only if it still fits the live cluster (`remediation.fidelity.drift` against the policy's
bounds). A stale plan is not executed: `check_plan` skips, which skips every write, and `replan` starts the
same DAG again with the run's conf, so the new run plans on the cluster as it is now and asks for approval
again, in the Airflow UI as any run. The policy's `max_replans` bounds the chain: a cluster that keeps
changing fails the run saying why instead of re-planning forever.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import TriggerRule
from airflow.sdk.exceptions import AirflowSkipException

from kafka_medic.airflow import ids, steps
from kafka_medic.errors import MedicError
from kafka_medic.remediation.policy import parse_policy

log = logging.getLogger(__name__)


def check_plan(cluster: str, conn_id: str, policy: dict, ti, dag_run) -> str:
    """The approved plan's digest when it still fits the live cluster; else skip (re-plan) or fail (too many)."""
    from kafka_medic.kafka.reader import read_cluster_state
    from kafka_medic.model import parse_proposal
    from kafka_medic.remediation.fidelity import PlanBasis, drift, plan_basis, plan_digest

    rules = parse_policy(policy)
    proposal = parse_proposal(ti.xcom_pull(task_ids=ids.PLAN))
    planned = PlanBasis.from_dict(ti.xcom_pull(task_ids=ids.PLAN, key=ids.PLAN_BASIS))
    approved = (ti.xcom_pull(task_ids=ids.APPROVE, key=ids.DECISION) or {}).get("digest")
    digest = plan_digest(proposal, planned)
    with steps.failing_fast(ti):
        if approved != digest:
            raise MedicError(f"the plan is not the one approved (digest {digest[:12]}, approved "
                             f"{str(approved)[:12]}): nothing moves")
    s = steps.settings(cluster, conn_id)
    model, _ = steps.cluster_model(s, read_cluster_state(s.config), rules)
    stale = drift(planned, plan_basis(model, proposal), rules.max_plan_drift, rules.max_plan_age_minutes * 60)
    if stale is None:
        log.info("the plan still fits the cluster: executing the approved plan %s", digest[:12])
        return digest
    conf = dict(dag_run.conf or {})
    replans = int(conf.get(ids.REPLANS, 0))
    with steps.failing_fast(ti):
        if replans >= rules.max_replans:
            raise MedicError(f"the plan is stale ({stale}) after {replans} re-plans in a row "
                             f"(policy max_replans {rules.max_replans}): nothing moves")
    ti.xcom_push(key=ids.REPLAN_CONF, value=conf | {
        ids.REPLAN_OF: dag_run.run_id, ids.REPLANS: replans + 1, ids.STARTED_AS: steps.run_type(dag_run)})
    steps.skip(ti, f"the plan is stale: {stale}; nothing moves, a new run plans again and asks again")


class Replan(TriggerDagRunOperator):
    """Starts this DAG again with the conf `check_plan` left when it found the plan stale; skips otherwise."""

    def __init__(self, *, dag_id: str, **kwargs: Any) -> None:
        super().__init__(trigger_dag_id=dag_id, trigger_rule=TriggerRule.ALL_DONE, **kwargs)

    def execute(self, context):
        from airflow.sdk import timezone

        ti = context["ti"]
        conf = ti.xcom_pull(task_ids=ids.CHECK_PLAN, key=ids.REPLAN_CONF)
        if not conf:
            raise AirflowSkipException("the plan was not found stale: nothing to plan again")
        self.conf = conf
        self.trigger_run_id = f"replan__{timezone.utcnow().isoformat()}"
        stale = ti.xcom_pull(task_ids=ids.CHECK_PLAN, key=ids.OUTCOME)
        ti.xcom_push(key=ids.OUTCOME, value=f"{stale}: run {self.trigger_run_id} (re-plan {conf[ids.REPLANS]})")
        log.info("planning again in run %s of %s", self.trigger_run_id, self.trigger_dag_id)
        return super().execute(context)
