"""The remediation chain's task callables: validate -> snapshot -> plan -> (approval) -> throttles -> moves
-> leaders -> verify -> clear throttles -> report.

Each is one small retryable Airflow task that passes plain JSON to the next through XCom. Every cluster
write goes through `kafka_medic.executor`, whose steps are idempotent and resume from the journal and
the cluster's own state, so a retried task picks up where the killed one stopped. Errors a retry cannot
fix (a bad form, an execution that was stopped) fail at once with AirflowFailException.

The executor, the metrics store and the planner (pandas, numpy) are imported inside the callables that
use them: this module is imported whenever the DAG files are parsed, and parsing must stay fast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from kafka_medic.airflow import ids
from kafka_medic.airflow.hook import ClusterSettings, KafkaMedicHook
from kafka_medic.errors import MedicError
from kafka_medic.remediation.kinds import KINDS
from kafka_medic.remediation.policy import ClusterPolicy, parse_policy
from kafka_medic.remediation.request import Request, mark_brokers, plan_for, validate_request

if TYPE_CHECKING:
    from kafka_medic.kafka.state import ClusterState
    from kafka_medic.metrics.load_model import LoadModel
    from kafka_medic.model import ClusterModel

log = logging.getLogger(__name__)
# kafka-python logs every connection at INFO: dozens of lines per task that bury what moved and why.
logging.getLogger("kafka").setLevel(logging.WARNING)


def settings(cluster: str, conn_id: str) -> ClusterSettings:
    return KafkaMedicHook(conn_id, cluster).get_settings()


@contextmanager
def failing_fast(ti=None):
    """A MedicError here is about the request or the cluster's answer to it: retrying will not help."""
    try:
        yield
    except MedicError as exc:
        if ti is not None:
            ti.xcom_push(key=ids.OUTCOME, value=f"failed: {exc}")
        raise AirflowFailException(str(exc)) from exc


def skip(ti, reason: str) -> NoReturn:
    """End the run here with the reason, which the report task puts in the action log."""
    ti.xcom_push(key=ids.OUTCOME, value=reason)
    raise AirflowSkipException(reason)


def fail(reason: str) -> NoReturn:
    """A task that can only fail, saying why (a cluster whose policy is invalid)."""
    raise AirflowFailException(reason)


def run_type(dag_run) -> str:
    """manual, scheduled, asset_triggered...; a re-planning run is of the type of the run that started its chain."""
    started_as = (dag_run.conf or {}).get(ids.STARTED_AS)
    return str(started_as or getattr(dag_run.run_type, "value", dag_run.run_type))


def pause_in_maintenance(cluster: str, ti, dag_run, by_hand_goes_ahead: bool = True) -> None:
    """Skip a run nobody started by hand while the cluster is in maintenance; a person's run goes ahead
    unless the kind is never a person's decision (heal: its work comes from the detector, not a form)."""
    from kafka_medic.remediation.intent import IntentStore

    with IntentStore() as intents:
        switch = intents.maintenance(cluster)
    if switch is None:
        return
    if by_hand_goes_ahead and run_type(dag_run) == "manual":
        log.warning("cluster %s is in maintenance (%s); running anyway: started by hand", cluster, switch.reason)
        return
    skip(ti, switch.skip_reason(cluster))


def validate(kind: str, cluster: str, conn_id: str, params: dict[str, Any], ti, dag_run) -> dict:
    """Check the trigger form against the live cluster before anything is planned or written."""
    from kafka_medic.kafka.reader import read_cluster_state

    pause_in_maintenance(cluster, ti, dag_run)
    config = settings(cluster, conn_id).config
    state = read_cluster_state(config)
    with failing_fast(ti):
        request = validate_request(kind, dict(params), state)
    request = replace(request, reason=f"{run_type(dag_run)} {request.reason}")
    log.info("request: %s", request)
    return request.as_dict()


def snapshot(cluster: str, conn_id: str, request: dict, policy: dict, ti) -> dict:
    """The cluster model now, with the request's brokers marked (decommission, excluded) when it names any,
    and the brokers remembered as decommissioned or demoted excluded; a kind that needs complete loads
    skips, saying why, when they are not and the policy does not allow it."""
    from kafka_medic.kafka.reader import read_cluster_state
    from kafka_medic.model import model_to_dict
    from kafka_medic.remediation.intent import IntentStore

    s = settings(cluster, conn_id)
    req = Request.from_dict(request)
    rules = parse_policy(policy)
    state = read_cluster_state(s.config)
    model, loads = cluster_model(s, state, rules)
    if KINDS[req.kind].needs_complete_load and not loads.complete and not rules.rebalance_on_incomplete_load:
        skip(ti, f"load model incomplete: {loads.valid_windows} of {loads.windows} windows of "
                 f"{loads.window_s:g}s valid, {loads.valid_partition_ratio:.0%} of partitions sampled in every "
                 "window; the policy does not rebalance on partial loads (rebalance_on_incomplete_load)")
    with IntentStore() as intents:
        remembered = intents.active(cluster)
    for intent in remembered:
        log.info("broker %d is remembered as %s (by %s): it receives nothing", intent.broker, intent.intent, intent.by)
    mark_brokers(model, req, [i.broker for i in remembered])
    log.info("model of %s: %d brokers (dead: %s), %d partitions", cluster, len(model.brokers),
             state.dead_brokers or "none", len(model.partitions))
    return model_to_dict(model)


def cluster_model(s: ClusterSettings, state: ClusterState, policy: ClusterPolicy) -> tuple[ClusterModel, LoadModel]:
    """Placement and sizes from the cluster, network and CPU from the metrics store over the policy's windows,
    capacities from the file; and the load model, to say how complete it is."""
    from kafka_medic.live_model import LoadWindows, build_live_model

    windows = LoadWindows(window_s=policy.window_minutes * 60.0, windows=policy.load_windows,
                          statistic=policy.load_statistic)
    model, loads = build_live_model(state, s.config.name, windows=windows, capacity_file=s.capacity_file)
    if not loads.complete:
        log.warning("load model incomplete (%d of %d windows valid): network and CPU loads are partial",
                    loads.valid_windows, loads.windows)
    return model, loads


def make_plan(cluster: str, request: dict, model: dict, ti) -> dict:
    """The proposal for the request; skips (with the reason) when there is nothing to do or it is a dry run."""
    from kafka_medic.airflow.approval import proposal_link
    from kafka_medic.model import parse_model, proposal_to_dict
    from kafka_medic.notify.summary import approval_markdown
    from kafka_medic.optimizer import render_summary
    from kafka_medic.optimizer.summary import partial_note
    from kafka_medic.remediation.fidelity import plan_basis, plan_digest

    req = Request.from_dict(request)
    with failing_fast(ti):
        proposal = plan_for(req, parse_model(model))
    summary = render_summary(proposal)
    log.info("proposal:\n%s", summary)
    ti.xcom_push(key=ids.SUMMARY, value=summary)
    body = approval_markdown(proposal, link=proposal_link(cluster, ti.run_id))
    ti.xcom_push(key=ids.APPROVAL_BODY, value=body)  # the Airflow UI's approval page
    stats = proposal.stats
    if KINDS[req.kind].only_when_violated and not req.force and not stats["violated_goals_before"]:
        skip(ti, f"no goal is violated: nothing to {req.kind} (trigger with force to plan anyway)")
    if not proposal.moves:
        skip(ti, f"the plan has no moves: {partial_note(proposal) or 'nothing to do'}")
    if req.dry_run:
        skip(ti, f"dry run: {len(proposal.moves)} partitions would change, nothing moved")
    # only a plan that goes on to the approval needs its basis (read by check_plan after it)
    basis = plan_basis(parse_model(model), proposal)  # parsed again: planning may change the model it is given
    ti.xcom_push(key=ids.PLAN_BASIS, value=basis.as_dict())
    ti.xcom_push(key=ids.PLAN_DIGEST, value=plan_digest(proposal, basis))
    return proposal_to_dict(proposal)


def set_throttles(cluster: str, conn_id: str, request: dict, proposal: dict) -> str:
    """Start (or resume) the execution in the journal and put the replication throttles on; its id."""
    from kafka_medic.executor import Execution, ExecutionOptions, Journal
    from kafka_medic.model import parse_proposal
    from kafka_medic.units import MB

    s = settings(cluster, conn_id)
    config = s.config
    req = Request.from_dict(request)
    options = ExecutionOptions(
        concurrency=req.concurrency, throttle=req.throttle_mb_s * MB if req.throttle_mb_s else None,
        auto_throttle=req.auto_throttle, capacity_file=s.capacity_file,
    )
    journal = Journal()
    with failing_fast():
        execution = Execution.start(config, parse_proposal(proposal), options, journal, log.info)
    execution.set_throttles()
    return execution.id


def execute_batches(cluster: str, conn_id: str, execution_id: str, policy: dict | None = None) -> str:
    """Move replicas batch by batch until done; a kill mid-way leaves the journal for the retry to resume."""
    from kafka_medic.executor import Execution, Journal, Outcome

    config = settings(cluster, conn_id).config
    outcome = Execution(config, Journal(), execution_id, _telling_stalls(cluster, policy)).execute_batches()
    if outcome != Outcome.DONE:
        raise AirflowFailException(f"execution {execution_id} {outcome}: {Journal().get(execution_id).message}")
    return outcome


def _telling_stalls(cluster: str, policy: dict | None) -> Callable[[str], None]:
    """The executor's log line callback: logged, and its ALERT lines (stalled or timed-out moves) told as the
    run's outcome is (`airflow.outcomes`), in the approval's thread, to the policy's notifiers too."""
    from airflow.sdk import get_current_context

    from kafka_medic.airflow import outcomes
    from kafka_medic.notify import outcomes as said

    context: dict[str, Any] = dict(get_current_context())
    ti, dag_run = context["ti"], context["dag_run"]
    kind = dag_run.dag_id.rsplit("__", 1)[-1]
    notifiers = parse_policy(policy).notifiers

    def say(line: str) -> None:
        log.info("%s", line)
        if line.startswith("ALERT "):
            alert = said.stalled(cluster, kind, line.removeprefix("ALERT "), f"{dag_run.dag_id}/{dag_run.run_id}")
            outcomes.send(alert, notifiers, context, outcomes.approval_thread(ti))

    return say


def elect_leaders(cluster: str, conn_id: str, execution_id: str) -> dict[str, str]:
    from kafka_medic.executor import Execution, Journal

    config = settings(cluster, conn_id).config
    failures = Execution(config, Journal(), execution_id, log.info).elect_leaders().failures
    for partition, reason in failures.items():
        log.warning("leader of %s not moved: %s", partition, reason)
    return failures


def verify(cluster: str, conn_id: str, execution_id: str) -> dict:
    """Read the cluster and compare with the proposal; fails naming every move that is not done."""
    from kafka_medic.executor import Execution, Journal
    from kafka_medic.units import MB

    config = settings(cluster, conn_id).config
    report = Execution(config, Journal(), execution_id, log.info).verify()
    if report["undone"]:
        undone = ", ".join(f"{u['partition']} ({u['reason']})" for u in report["undone"])
        raise AirflowFailException(f"{len(report['undone'])} moves not done: {undone}")
    log.info("all %d moves done, %.1f MB moved", len(report["done"]), report["bytes_moved"] / MB)
    return report


def clear_throttles(cluster: str, conn_id: str, execution_id: str) -> dict:
    """The teardown: roll back moves still in flight (the run ended early), clear throttles, free the lock."""
    from kafka_medic.executor import Execution, Journal
    from kafka_medic.executor import journal as j

    config = settings(cluster, conn_id).config
    execution = Execution(config, Journal(), execution_id, log.info)
    record = execution.record()
    in_flight = [r for r in execution.tasks() if r.state == j.SUBMITTED]
    if record.status == j.RUNNING and in_flight:
        with execution.claimed():
            execution.abort("the Airflow run ended before the moves finished")
    execution.clear_throttles()
    return execution.finish()


def report(cluster: str, conn_id: str, kind: str, policy: dict, ti, dag_run) -> dict:
    """Write the run to the action log (store and Kafka topic) and end the task log with its summary.

    Runs whatever happened upstream: an execution's report, or why the run ended before executing
    (a bad form, a recovered broker, nothing to do, a rejection or no answer).
    """
    import time

    from kafka_medic.notify.action_log import ActionRecord, record_action

    request = ti.xcom_pull(task_ids=ids.VALIDATE) or ti.xcom_pull(task_ids=ids.WAIT_FOR_GRACE) or {}
    proposal = ti.xcom_pull(task_ids=ids.PLAN) or {}
    decision = ti.xcom_pull(task_ids=ids.APPROVE, key=ids.DECISION) or {}
    execution = ti.xcom_pull(task_ids=ids.CLEAR_THROTTLES) or {}
    why = request.get("anomalies") or [request.get("reason") or kind]
    approved_by = decision.get("by", "") if decision.get("approved") else ""
    if decision.get("by") == "policy":
        approved_by = f"auto: {decision['reason']}"
    run = f"{dag_run.dag_id}/{dag_run.run_id}"
    if execution:
        record = ActionRecord.from_execution_report(execution, kind, why, approved_by, run)
        remember_intent(cluster, kind, request, record.outcome, run, parse_policy(policy))
    else:
        ended = [ti.xcom_pull(task_ids=t, key=ids.OUTCOME)
                 for t in (*ids.FIRST_TASKS, ids.SNAPSHOT, ids.PLAN, ids.REPLAN, ids.CHECK_PLAN)]
        reason = next((r for r in ended if r), None)
        if decision.get("approved") is False:
            outcome, reason = "rejected", decision["reason"]
        elif reason and not reason.startswith("failed"):
            outcome = "skipped"
        else:
            outcome, reason = "failed", reason or "failed before executing: see the failed task's log"
        record = ActionRecord(
            cluster=cluster, action=kind, why=why, approved_by=approved_by,
            moves_planned=len(proposal.get("moves", [])), moves_done=0, bytes_moved=0, outcome=outcome,
            started_at=dag_run.start_date.timestamp(), finished_at=time.time(), message=reason, run=run,
        )
    # Runs that never reached a decision wrote nothing to the cluster, and the action topic is no exception.
    reached = bool(decision or execution)
    log.info("%s", record_action(record, settings(cluster, conn_id).config if reached else None))
    if execution:
        from kafka_medic.executor.report import report_lines

        for line in report_lines(execution):
            log.info("%s", line)
    tell_outcome(cluster, kind, record.outcome, record.message, execution, proposal, policy, run, ti)
    return record.to_dict()


def tell_outcome(cluster: str, kind: str, outcome: str, message: str, execution: dict, proposal: dict, policy: dict,
                 run: str, ti) -> None:
    """A finished execution (its summary) or a failed run goes to Slack, in the approval's thread, and to the
    policy's notifiers; runs that skipped or were rejected said so already (the approval message, the run)."""
    from kafka_medic.airflow import outcomes
    from kafka_medic.notify import outcomes as said

    if execution:
        told = said.finished(cluster, kind, execution, proposal.get("stats") or {}, run)
    elif outcome == "failed":
        told = said.failed(cluster, kind, message, run)
    else:
        return
    outcomes.send(told, parse_policy(policy).notifiers, thread=outcomes.approval_thread(ti))


def remember_intent(cluster: str, kind: str, request: dict, outcome: str, run: str, policy: ClusterPolicy) -> None:
    """A finished decommission or demote keeps its brokers out of later plans (`kafka_medic.remediation.intent`)."""
    from kafka_medic.remediation.intent import IntentStore

    intent, brokers = KINDS[kind].remembers, request.get("brokers") or []
    if intent is None or outcome != "succeeded" or not brokers:
        return
    ttl = policy.intent_ttl_hours * 3600 if policy.intent_ttl_hours is not None else None
    with IntentStore() as intents:
        intents.remember(cluster, brokers, intent, by=run, ttl_s=ttl)
    log.info("brokers %s remembered as %s%s: later plans exclude them until re-added", brokers, intent,
             f" for {policy.intent_ttl_hours:g} h" if ttl is not None else "")
