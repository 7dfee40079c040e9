"""The approval gate: Airflow's human-in-the-loop ApprovalOperator, with the cluster's policy in front of it.

Within the policy's limits the gate approves at once and says which rule allowed it. Otherwise it parks
the task in Airflow's "awaiting input" state with the proposal summary as its body (the Airflow UI's
Required Actions page), and the Slack notifier posts the same summary with Approve/Reject buttons that the
Slack interactivity endpoint answers. A rejection or a timeout (the default answer is Reject) skips the
gate with the reason, so nothing downstream moves a replica.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import BaseHook, BaseNotifier
from airflow.sdk.exceptions import AirflowNotFoundException, AirflowSkipException

from kafka_medic.airflow.hook import KafkaMedicHook
from kafka_medic.errors import MedicError

log = logging.getLogger(__name__)
SLACK_CONN_ID = "kafka_medic_slack"
PLAN_TASK = "plan"
# Markdown with GFM tables (`kafka_medic.notify.summary.approval_markdown`): the UI collapses a plain code block.
BODY = "{{ ti.xcom_pull(task_ids='plan', key='approval_body') }}"


class SlackApprovalNotifier(BaseNotifier):
    """Posts the proposal to Slack with Approve/Reject buttons naming the waiting task instance.

    Slack is optional: without a `kafka_medic_slack` connection or $KAFKA_MEDIC_SLACK_TOKEN the gate
    is answered in the Airflow UI only.
    """

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action = action

    def notify(self, context) -> None:
        from kafka_medic.model import parse_proposal
        from kafka_medic.notify.approval import ApprovalRef

        notifier = slack_notifier()
        if notifier is None:
            log.info("Slack is not configured (connection %s): approve in the Airflow UI", SLACK_CONN_ID)
            return
        ti = context["ti"]
        proposal = parse_proposal(ti.xcom_pull(task_ids=PLAN_TASK))
        ref = ApprovalRef(dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index)
        posted = notifier.post_proposal(proposal, self.action, request_reason(ti), ref)
        log.info("approval request posted to Slack channel %s (ts %s)", posted.channel, posted.ts)


class ProposalApproval(ApprovalOperator):
    """Approve the plan task's proposal: by policy at once, else by a person in Slack or the Airflow UI."""

    def __init__(self, *, cluster: str, conn_id: str, action: str, timeout: timedelta, **kwargs: Any) -> None:
        super().__init__(
            subject=f"{action} on Kafka cluster {cluster}: approve the proposal?",
            body=BODY,
            defaults=ApprovalOperator.REJECT,
            response_timeout=timeout,
            notifiers=[SlackApprovalNotifier(action)],
            **kwargs,
        )
        self.cluster = cluster
        self.conn_id = conn_id
        self.action = action

    def execute(self, context):
        from kafka_medic.model import parse_proposal
        from kafka_medic.notify.policy import POLICY_ACTIONS, AutoApproved, decide, parse_policy

        ti = context["ti"]
        proposal = parse_proposal(ti.xcom_pull(task_ids=PLAN_TASK))
        settings = KafkaMedicHook(self.conn_id, self.cluster).get_settings()
        if self.action in POLICY_ACTIONS:
            decision = decide(parse_policy(settings.policy), self.action, proposal)
            if isinstance(decision, AutoApproved):
                self.log.info("approved without asking: %s", decision.reason)
                ti.xcom_push(key="decision", value={"approved": True, "by": "policy", "reason": decision.reason})
                return None
            self.log.info("a person must approve: %s", decision.reason)
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]):
        answer = HITLOperator.execute_complete(self, context=context, event=event)
        user = answer["responded_by_user"] or {}
        by = user.get("name") or user.get("id") or "nobody"
        approved = answer["chosen_options"] == [ApprovalOperator.APPROVE]
        if approved:
            reason = f"approved by {by}"
        elif event.get("timedout"):
            reason = f"no answer within {self.response_timeout}: rejected by default"
        else:
            reason = f"rejected by {by}"
        context["ti"].xcom_push(key="decision", value={"approved": approved, "by": by, "reason": reason})
        self.log.info("%s", reason)
        if not approved:
            raise AirflowSkipException(f"{reason}: nothing moves")
        return answer


def slack_notifier():
    """The Slack client from the `kafka_medic_slack` connection or the environment; None when not configured."""
    from kafka_medic.notify.slack import SlackNotifier, SlackSettings

    try:
        conn = BaseHook.get_connection(SLACK_CONN_ID)
    except AirflowNotFoundException:
        conn = None
    try:
        settings = SlackSettings.from_connection(conn) if conn else SlackSettings.from_env()
    except MedicError:
        return None
    return SlackNotifier(settings)


def request_reason(ti) -> str:
    """Why the run plans at all: the anomaly or the manual trigger, as the first task recorded it."""
    for task_id in ("validate", "wait_for_grace"):
        request = ti.xcom_pull(task_ids=task_id)
        if request:
            return request.get("reason", "")
    return ""
