"""Task ids and XCom keys of the generated DAGs: one task reads another's output by these names.

A task id here is also what people see in the Airflow UI and what tests and runbooks name, so changing
one changes every DAG at once (and orphans the history of the old task).
"""

SAMPLE, DETECT = "sample", "detect"  # the scheduled DAGs' tasks; detect's publishers are publish_<kind>
MAINTENANCE = "switch"  # the maintenance DAG's one task
BOOTSTRAP = "bootstrap"  # the bootstrap DAG's one task
STOP = "stop"  # the stop DAG's one task
POLICY_ERROR = "policy_error"  # the one task of a cluster whose policy is invalid
# The remediation chain, in order. Its first task is one or the other of FIRST_TASKS: the one whose
# return value is the request (validate: from the form; wait_for_grace: from the anomalies).
VALIDATE, WAIT_FOR_GRACE = "validate", "wait_for_grace"
FIRST_TASKS = (VALIDATE, WAIT_FOR_GRACE)
SNAPSHOT, PLAN, APPROVE = "snapshot", "plan", "approve"
CHECK_PLAN, REPLAN = "check_plan", "replan"  # plan fidelity: still fits the live cluster? else plan again
SET_THROTTLES, EXECUTE_BATCHES, ELECT_LEADERS = "set_throttles", "execute_batches", "elect_leaders"
VERIFY, CLEAR_THROTTLES, REPORT = "verify", "clear_throttles", "report"

# XCom keys beside the tasks' return values.
OUTCOME = "outcome"  # why a run ended before executing (read by the report task)
SUMMARY = "summary"  # plan: the proposal as text
APPROVAL_BODY = "approval_body"  # plan: the proposal as markdown for the approval gate
PLAN_BASIS = "plan_basis"  # plan: what the proposal was planned on (`remediation.fidelity.PlanBasis`)
PLAN_DIGEST = "plan_digest"  # plan: the digest of the moves and the basis, which the approval records
REPLAN_CONF = "replan_conf"  # check_plan: the conf of the run that plans again, when the plan is stale
DECISION = "decision"  # approve: {"approved", "by", "reason", "digest"}
SLACK_MESSAGE = "slack_message"  # approve: the Slack message posted for it, {"channel", "ts"}
RESPONSE_TIMEOUT = "response_timeout_s"  # approve: how long a person had to answer

# The conf keys a re-planning run (`airflow.fidelity`) carries beside its form's: the run it replaces, how many
# re-plans in a row so far, and the type of the run that started the chain (a re-planned nightly run is still
# an automated one: maintenance pauses it).
REPLAN_OF, REPLANS, STARTED_AS = "replan_of", "replans", "started_as"


def publish(kind: str) -> str:
    """The detect DAG's task that starts `kind` with an asset event."""
    return f"publish_{kind}"
