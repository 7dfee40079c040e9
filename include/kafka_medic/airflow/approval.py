"""The approval gate: Airflow's human-in-the-loop ApprovalOperator, with the cluster's policy in front of it.

Within the policy's limits the gate approves at once and says which rule allowed it. Otherwise it parks
the task in Airflow's "awaiting input" state with the proposal summary as its body (the Airflow UI's
Required Actions page), and the Slack notifier posts the same summary with Approve/Reject buttons that the
Slack interactivity endpoint answers. A rejection or a timeout (the default answer is Reject) skips the
gate with the reason, so nothing downstream moves a replica. The policy may set how long a person has to
answer (`timeout_minutes`), else the cluster's `approval_timeout_minutes`.

Both the body and the Slack message link to the console's proposal page of the run (`proposal_link`): every
move with its reason and each broker's load before and after, which the summary can only abbreviate.

Whatever answers (a Slack click, the Airflow UI, the timeout), the Slack message ends up saying who decided:
the plugin rewrites it at once for a click; for the other answers `execute_complete` does.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import BaseHook, BaseNotifier
from airflow.sdk.exceptions import AirflowNotFoundException, AirflowSkipException

from kafka_medic.airflow import ids
from kafka_medic.airflow.hook import KafkaMedicHook
from kafka_medic.errors import MedicError
from kafka_medic.notify.approval import SLACK_CONN_ID

log = logging.getLogger(__name__)
# Markdown with GFM tables (`kafka_medic.notify.summary.approval_markdown`): the UI collapses a plain code block.
BODY = f"{{{{ ti.xcom_pull(task_ids='{ids.PLAN}', key='{ids.APPROVAL_BODY}') }}}}"


class SlackApprovalNotifier(BaseNotifier):
    """Posts the proposal to Slack with Approve/Reject buttons naming the waiting task instance.

    Slack is optional: without a `kafka_medic_slack` connection or $KAFKA_MEDIC_SLACK_TOKEN the gate
    is answered in the Airflow UI only.
    """

    def __init__(self, action: str, cluster: str) -> None:
        super().__init__()
        self.action = action
        self.cluster = cluster

    def notify(self, context) -> None:
        from kafka_medic.model import parse_proposal
        from kafka_medic.notify.approval import ApprovalRef

        notifier = slack_notifier()
        if notifier is None:
            log.info("Slack is not configured (connection %s): approve in the Airflow UI", SLACK_CONN_ID)
            return
        ti = context["ti"]
        proposal = parse_proposal(ti.xcom_pull(task_ids=ids.PLAN))
        ref = ApprovalRef(dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=ti.map_index)
        link = proposal_link(self.cluster, ti.run_id)
        posted = notifier.post_proposal(proposal, self.action, request_reason(ti), ref, link=link)
        ti.xcom_push(key=ids.SLACK_MESSAGE, value={"channel": posted.channel, "ts": posted.ts})
        log.info("approval request posted to Slack channel %s (ts %s)", posted.channel, posted.ts)


class ProposalApproval(ApprovalOperator):
    """Approve the plan task's proposal: by policy at once, else by a person in Slack or the Airflow UI."""

    def __init__(self, *, cluster: str, conn_id: str, action: str, timeout: timedelta, **kwargs: Any) -> None:
        super().__init__(
            subject=f"{action} on Kafka cluster {cluster}: approve the proposal?",
            body=BODY,
            defaults=ApprovalOperator.REJECT,
            response_timeout=timeout,
            notifiers=[SlackApprovalNotifier(action, cluster)],
            **kwargs,
        )
        self.cluster = cluster
        self.conn_id = conn_id
        self.action = action

    def execute(self, context):
        from kafka_medic.model import parse_proposal
        from kafka_medic.notify.policy import POLICY_ACTIONS, AutoApproved, decide, parse_policy

        ti = context["ti"]
        proposal = parse_proposal(ti.xcom_pull(task_ids=ids.PLAN))
        settings = KafkaMedicHook(self.conn_id, self.cluster).get_settings()
        if self.action in POLICY_ACTIONS:
            policy = parse_policy(settings.policy)
            decision = decide(policy, self.action, proposal)
            if isinstance(decision, AutoApproved):
                self.log.info("approved without asking: %s", decision.reason)
                ti.xcom_push(key=ids.DECISION, value={"approved": True, "by": "policy", "reason": decision.reason,
                                                      "digest": approved_digest(ti)})
                return None
            self.log.info("a person must approve: %s", decision.reason)
            minutes = policy.for_action(proposal.cluster, self.action).timeout_minutes
            if minutes:
                self.response_timeout = timedelta(minutes=minutes)
        ti.xcom_push(key=ids.RESPONSE_TIMEOUT, value=self.response_timeout.total_seconds())
        self.log.info("waiting up to %s for an answer (no answer: rejected)", self.response_timeout)
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]):
        answer = HITLOperator.execute_complete(self, context=context, event=event)
        ti = context["ti"]
        user = answer["responded_by_user"] or {}
        by = user.get("name") or user.get("id") or "nobody"
        approved = answer["chosen_options"] == [ApprovalOperator.APPROVE]
        if approved:
            reason, outcome = f"approved by {by}", f":white_check_mark: Approved by {by} in the Airflow UI"
        elif event.get("timedout"):
            timeout_s = ti.xcom_pull(task_ids=ti.task_id, key=ids.RESPONSE_TIMEOUT) or 0
            waited = timedelta(seconds=timeout_s) or self.response_timeout
            reason = f"no answer within {waited}: rejected by default"
            outcome = f":hourglass: No answer within {waited}: rejected by default, nothing moves"
        else:
            reason, outcome = f"rejected by {by}", f":x: Rejected by {by} in the Airflow UI: nothing moves"
        ti.xcom_push(key=ids.DECISION, value={"approved": approved, "by": by, "reason": reason,
                                              "digest": approved_digest(ti)})
        self.log.info("%s", reason)
        tell_slack(ti, self.cluster, self.action, user, outcome)
        if not approved:
            raise AirflowSkipException(f"{reason}: nothing moves")
        return answer


def approved_digest(ti) -> str | None:
    """The digest of the plan the decision is about (`remediation.fidelity`): the check before the first move
    executes only a plan with this digest."""
    return ti.xcom_pull(task_ids=ids.PLAN, key=ids.PLAN_DIGEST)


def proposal_link(cluster: str, run_id: str) -> str:
    """The console's page of the run's plan, absolute under Airflow's [api] base_url when it is set (a link in
    Slack must be), else from the server's root (the Airflow UI resolves it on its own origin)."""
    from airflow.configuration import conf

    from kafka_medic.console.pages import proposal_url

    return (conf.get("api", "base_url", fallback="") or "").rstrip("/") + proposal_url(cluster, run_id)


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


def tell_slack(ti, cluster: str, action: str, responder: dict, outcome: str) -> None:
    """End the proposal's Slack message with the outcome, unless a Slack click did (the plugin updated it)."""
    from kafka_medic.model import parse_proposal
    from kafka_medic.notify.interactivity import answered_in_slack
    from kafka_medic.notify.slack import MessageRef

    posted = ti.xcom_pull(task_ids=ti.task_id, key=ids.SLACK_MESSAGE)
    if not posted or answered_in_slack(responder):
        return
    notifier = slack_notifier()
    if notifier is None:
        return
    try:
        proposal = parse_proposal(ti.xcom_pull(task_ids=ids.PLAN))
        notifier.close_proposal(MessageRef(**posted), proposal, action, request_reason(ti), outcome,
                                link=proposal_link(cluster, ti.run_id))
    except MedicError as exc:  # the decision stands even if Slack cannot be told
        log.warning("could not update the Slack message: %s", exc)
    else:
        log.info("Slack message %s updated: %s", posted["ts"], outcome)


def request_reason(ti) -> str:
    """Why the run plans at all: the anomaly or the manual trigger, as the first task recorded it."""
    for task_id in ids.FIRST_TASKS:
        request = ti.xcom_pull(task_ids=task_id)
        if request:
            return request.get("reason", "")
    return ""
