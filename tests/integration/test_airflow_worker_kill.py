"""The executor's resumption seen through Airflow: SIGKILL the process running `execute_batches` mid-way,
and Airflow's retry of the task resumes the execution from its journal and finishes it.

A real `airflow standalone` (LocalExecutor: each task runs in a child process of a supervisor) runs a
rebalance of the session's KRaft cluster, approved by the cluster's policy, that moves a topic's replicas
under a low replication throttle. Once the journal shows submitted moves and the cluster copies them, the
test kills the process the journal names as the execution's owner, which is the process Airflow reports
for the running task instance. The retry must not submit any move twice, and the run must end with the
cluster as proposed and no throttle left.

The same Airflow also serves the approval page of a run the policy does not approve, opened in headless
Chromium: the proposal's per-broker before/after table must render as a table, one row per broker (a
plain code block there loses its line breaks), and a Reject clicked on that page moves nothing.

And it serves the trigger forms: each remediation DAG's form can be submitted as it opens, except that
the broker ones need their brokers; a rebalance triggered from the form with an unknown broker or a bad
regex fails at validation with a one-line reason, and moves nothing.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from urllib.parse import unquote

import psutil
import pytest
from playwright.sync_api import Locator, Page, expect

from kafka_medic.airflow.standalone import StandaloneAirflow
from kafka_medic.devcluster.ports import free_ports
from kafka_medic.executor import Journal
from kafka_medic.executor import journal as j
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.notify.action_log import ActionLog

from .browser import answer, browser_page
from .executor_helpers import placed_topic
from .kafka_helpers import all_succeeded, only_spreading, wait_for
from .servers import started

CLUSTER, CONN_ID = "wk", "kafka_medic_wk"
DAG = f"kafka_medic__{CLUSTER}__rebalance"
ADD_DAG = f"kafka_medic__{CLUSTER}__add_brokers"  # not in the policy: a person must approve it
TASK = "execute_batches"
# Nothing but this test's trigger starts a remediation: no detector-driven runs on the shared cluster.
QUIET = {kind: {"action": None} for kind in ("broker_failure", "under_replicated_partitions",
                                            "hard_goal_violation", "soft_goal_violation")}
POLICY = {"rebalance": {"approval": "auto", "max_data_gb": 1}}


@pytest.fixture(scope="module")
def airflow(kraft_cluster, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-worker-kill")
    extra = {"bootstrap.servers": kraft_cluster.bootstrap, "kafka_medic": {"policy": POLICY, "remediation": QUIET}}
    # the rebalance plans on the samples of a fresh store: the policy allows rebalancing on partial loads
    clusters = [{"name": CLUSTER, "conn_id": CONN_ID, "rebalance_cron": None,
                 "policy": {"rebalance_on_incomplete_load": True}}]
    airflow = StandaloneAirflow(home, free_ports(1)[0], clusters, {CONN_ID: {"conn_type": "kafka", "extra": extra}})
    airflow.env["KAFKA_MEDIC_HOME"] = str(home / "medic")
    # sample and detect are not needed here; they would only compete for the two cores
    with started(airflow, [f"kafka_medic__{CLUSTER}__{kind}" for kind in ("sample", "detect")]):
        yield airflow


def task_instance(airflow: StandaloneAirflow, run_id: str, task_id: str, dag_id: str = DAG) -> dict:
    return airflow.call("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")


def in_flight_owner(journal: Journal, run_id: str, airflow: StandaloneAirflow, cluster: str = CLUSTER):
    """(execution, task instance) once the execute task of `cluster`'s rebalance run is mid-way through the
    moves; else None."""
    ti = task_instance(airflow, run_id, TASK, f"kafka_medic__{cluster}__rebalance")
    if ti["state"] != "running" or not ti.get("pid"):
        return None
    running = [e for e in journal.list(cluster) if e.status == j.RUNNING and e.phase == "moving"]
    if not running or not running[0].owner_pid:
        return None
    execution = running[0]
    states = [r.state for r in journal.tasks(execution.id)]
    # Mid-way: a move done, one copying, one still waiting, so the retry has to resume and to submit.
    return (execution, ti) if {j.DONE, j.SUBMITTED, j.PENDING} <= set(states) else None


def test_killed_execute_task_is_retried_and_resumes_the_execution(airflow, kraft_cluster):
    topic = f"wk-{uuid.uuid4().hex[:6]}"
    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap)
    # Every replica on brokers 1 and 2 of four: the rebalance spreads them onto 3 and 4 (12 moves, 6 to
    # each: topic_replica_distribution's band is 8 +- 2 replicas a broker), one move per broker at a time at
    # 1 MB/s, 5 MB each, so each stage of the execution lasts long enough to be seen and killed.
    placed_topic(kraft_cluster.bootstrap, topic, [[1, 2], [2, 1]] * 8, mb=80)
    conf = {"force": True, "throttle_mb_s": 1, "concurrency": 1, **only_spreading(topic)}
    run_id = airflow.call("POST", f"/dags/{DAG}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]

    journal = Journal(f"sqlite:///{airflow.home / 'medic' / 'metrics.db'}")
    execution, ti = wait_for(lambda: in_flight_owner(journal, run_id, airflow), 600,
                             "the execute task to run with moves in flight", interval=1)
    victim = psutil.Process(execution.owner_pid)
    assert ti["pid"] == execution.owner_pid, (ti["pid"], execution.owner_pid)  # Airflow's task process
    assert airflow.process.pid in {p.pid for p in victim.parents()}, "not a process of this Airflow"
    # the moves the cluster took before the kill: a batch caught SUBMITTING (marked, not confirmed) is
    # submitted by the retry instead, still once in all
    submitted_before = {r.task.name for r in journal.tasks(execution.id) if r.submissions > 0}
    assert ti["try_number"] == 1 and victim.is_running()
    killed_at = time.time()
    os.kill(victim.pid, signal.SIGKILL)

    def finished():
        run = airflow.call("GET", f"/dags/{DAG}/dagRuns/{run_id}")
        return run["state"] in ("success", "failed") and run
    run = wait_for(finished, 900, f"run {run_id} to finish after the kill", interval=3)
    states = airflow.task_states(DAG, run_id)
    assert run["state"] == "success" and all_succeeded(states), states
    tries = airflow.call("GET", f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{TASK}/tries")["task_instances"]
    assert [(t["try_number"], t["state"]) for t in tries] == [(1, "failed"), (2, "success")], tries

    assert_resumed_once(journal, execution, killed_at, submitted_before, topic, config,
                        f"sqlite:///{airflow.home / 'medic' / 'metrics.db'}", f"{DAG}/{run_id}")
    journal.close()


def assert_resumed_once(journal: Journal, execution, killed_at: float, submitted_before: set[str], topic: str,
                        config: ClusterConfig, store: str, run: str, cluster: str = CLUSTER) -> None:
    """The retry resumed the same execution: every move submitted exactly once, some of them after the kill;
    the cluster ends as proposed with no throttle, and the action log has the run's success."""
    assert [e.id for e in journal.list(cluster) if e.started_at >= execution.started_at] == [execution.id]
    finished_execution = journal.get(execution.id)
    assert finished_execution.status == "succeeded", finished_execution.message
    records = journal.tasks(execution.id)
    replica_moves = [r for r in records if r.task.kind == "replica"]
    assert {r.submissions for r in replica_moves} == {1}, [(r.task.name, r.submissions) for r in replica_moves]
    assert {r.state for r in records} == {j.DONE}
    after_kill = {r.task.name for r in replica_moves if r.submitted_at > killed_at}
    assert after_kill and not after_kill & submitted_before, (after_kill, submitted_before)

    state = read_cluster_state(config)
    placed = {p.name: list(p.replicas) for p in state.partitions}
    proposal = finished_execution.proposal
    assert proposal.moves and all(m.topic == topic for m in proposal.moves)
    assert {f"{m.topic}-{m.partition}": placed[f"{m.topic}-{m.partition}"] for m in proposal.moves} == {
        f"{m.topic}-{m.partition}": list(m.new_replicas) for m in proposal.moves}
    assert state.throttles() == {"brokers": {}, "topics": {}}
    assert not state.reassigning_partitions() and not state.under_replicated_partitions()

    with ActionLog(store) as log:
        record = log.recent(cluster)[0]
    assert (record.action, record.outcome, record.run) == ("rebalance", "succeeded", run)
    assert record.moves_done == record.moves_planned == len(proposal.moves)
    print(f"killed pid {execution.owner_pid} {killed_at - execution.started_at:.0f}s into the execution; "
          f"{len(submitted_before)} of {len(replica_moves)} moves submitted before, {len(after_kill)} by the retry; "
          f"execution took {record.duration_s:.0f}s")


def test_approval_page_shows_the_proposal_as_tables_and_reject_moves_nothing(airflow, kraft_cluster, tmp_path):
    topic = f"wk-ui-{uuid.uuid4().hex[:6]}"
    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap)
    placed_topic(kraft_cluster.bootstrap, topic, [[1, 2], [2, 1]] * 8, mb=1)  # 16 a broker: 3 and 4 need 6
    before = {p.name: list(p.replicas) for p in read_cluster_state(config).partitions}
    conf = {"brokers": [3, 4], **only_spreading(topic)}
    run_id = airflow.call("POST", f"/dags/{ADD_DAG}/dagRuns", {"logical_date": None, "conf": conf})["dag_run_id"]
    wait_for(lambda: airflow.awaiting_input(ADD_DAG, run_id, "approve"), 300, "the approval to wait for a person",
             interval=2)

    with browser_page(f"{airflow.url}/dags/{ADD_DAG}/runs/{run_id}/tasks/approve/required_actions", 1400) as page:
        reject = page.get_by_role("button", name="Reject", exact=True)
        reject.wait_for(timeout=120_000)
        tables = page.locator("table")
        assert tables.count() == 2, page.inner_text("body")
        brokers = [r.inner_text().split("\t")[:2] for r in tables.nth(1).locator("tbody tr").all()]
        assert brokers == [[str(b), "alive"] for b in (1, 2, 3, 4)], brokers
        moved = [r.inner_text().split("\t")[0] for r in tables.nth(0).locator("tbody tr").all()]
        assert moved and all(name.startswith(f"{topic}-") for name in moved), moved
        page.screenshot(path=str(tmp_path / "approval.png"), full_page=True)
        answer(page, reject)

    def finished():
        run = airflow.call("GET", f"/dags/{ADD_DAG}/dagRuns/{run_id}")
        return run["state"] in ("success", "failed") and airflow.task_states(ADD_DAG, run_id)
    states = wait_for(finished, 300, f"run {run_id} to finish after the rejection", interval=3)
    assert states["approve"] == "skipped" and states["execute_batches"] == "skipped", states
    state = read_cluster_state(config)
    assert {p.name: list(p.replicas) for p in state.partitions if p.name in before} == before
    assert state.throttles() == {"brokers": {}, "topics": {}}
    print(f"approval page screenshot: {tmp_path / 'approval.png'}")


def trigger_form(page: Page, airflow: StandaloneAirflow, dag_id: str) -> Locator:
    """The DAG's "Trigger" dialog, opened from its page, as a person opens it."""
    page.goto(f"{airflow.url}/dags/{dag_id}", wait_until="networkidle")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.locator("[role=dialog][data-state=open]")
    dialog.get_by_text("Run Parameters").wait_for()
    return dialog


def fill_list(page: Page, dialog: Locator, field: str, value: str) -> None:
    """Type into the form's list `field`, a JSON editor (Monaco); other fields may be editors too."""
    dialog.locator(f"#element_{field}").get_by_role("textbox", name="Editor content").focus()
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    page.keyboard.insert_text(value)


def test_each_trigger_form_can_be_submitted_once_its_required_fields_are_filled(airflow):
    """Optional fields left empty do not block the Trigger button; the broker kinds need their brokers."""
    with browser_page(airflow.url) as page:
        for kind in ("rebalance", "preferred_leader_election", "add_brokers", "decommission", "demote"):
            dialog = trigger_form(page, airflow, f"kafka_medic__{CLUSTER}__{kind}")
            trigger = dialog.get_by_role("button", name="Trigger", exact=True)
            if kind in ("add_brokers", "decommission", "demote"):
                expect(trigger).to_be_disabled()
                fill_list(page, dialog, "brokers", "[3]")
            expect(trigger).to_be_enabled(timeout=30_000)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("excluded_brokers", "[99]", "excluded_brokers: unknown broker 99; the cluster has [1, 2, 3, 4]"),
    ("excluded_topics", "orders-([", "excluded_topics: 'orders-([' is not a valid regex"),
])
def test_rebalance_form_with_a_bad_value_fails_at_validation_and_moves_nothing(airflow, kraft_cluster, field,
                                                                               value, message):
    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap)
    before = {p.name: list(p.replicas) for p in read_cluster_state(config).partitions}
    with browser_page(airflow.url) as page:
        dialog = trigger_form(page, airflow, DAG)
        if field == "excluded_brokers":
            fill_list(page, dialog, field, value)
        else:
            dialog.locator(f"#element_{field}").fill(value)
        dialog.get_by_role("button", name="Trigger", exact=True).click()
        page.wait_for_url(f"**/dags/{DAG}/runs/**")
        run_id = unquote(page.url.split("/runs/")[1].split("/")[0])
    assert airflow.call("GET", f"/dags/{DAG}/dagRuns/{run_id}")["conf"][field] == json_or_text(value)

    def finished():
        run = airflow.call("GET", f"/dags/{DAG}/dagRuns/{run_id}")
        return run["state"] in ("success", "failed") and run
    assert wait_for(finished, 300, f"run {run_id} to finish", interval=2)["state"] == "failed"
    states = airflow.task_states(DAG, run_id)
    assert states["validate"] == "failed" and states["report"] == "success", states
    assert states["replan"] == "skipped", states  # it runs whatever happened upstream, and found no stale plan
    assert {task for task, state in states.items()
            if state not in ("upstream_failed", "success") and task != "replan"} == {"validate"}
    [failure] = [line for line in airflow.task_log(DAG, run_id, "validate") if line.get("error_detail")]
    assert failure["error_detail"][0]["exc_value"].startswith(message), failure
    assert not [line for line in airflow.task_log(DAG, run_id, "validate")
                if str(line.get("logger", "")).startswith("kafka.")]  # the client's chatter stays out

    state = read_cluster_state(config)
    assert {p.name: list(p.replicas) for p in state.partitions if p.name in before} == before
    assert state.throttles() == {"brokers": {}, "topics": {}} and not state.reassigning_partitions()
    with ActionLog(f"sqlite:///{airflow.home / 'medic' / 'metrics.db'}") as log:
        [record] = [r for r in log.recent(CLUSTER) if r.run == f"{DAG}/{run_id}"]
    assert record.outcome == "failed" and message in record.message


def json_or_text(value: str):
    return json.loads(value) if value.startswith("[") else value
