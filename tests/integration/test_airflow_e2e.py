"""End to end with a real scheduler: kill a broker, and kafka-medic's DAGs detect it, wait out the grace
period, ask Slack, and heal the cluster once a signed Slack click approves; or skip if the broker returns;
or move nothing when the approval is refused, rejected (in Slack or the Airflow UI) or not answered in time.

One `airflow standalone` (scheduler, DAG processor, triggerer, api-server with the kafka-medic plugin) on
SQLite serves the module, pointed at the session's KRaft cluster and a local Slack-compatible server.
Every step is driven the way production drives it: DAG schedules, asset events, Slack's HTTP request,
the REST call behind the Airflow UI's Required Actions page. The tests run in file order and share it.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_medic.airflow.standalone import StandaloneAirflow
from kafka_medic.detector import AnomalyLog
from kafka_medic.devcluster import DevCluster
from kafka_medic.devcluster.ports import free_ports
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.notify.action_log import ActionLog

from ..unit.test_notify_interactivity import SECRET, click_body, headers
from ..unit.test_slack import TOKEN, FakeSlack
from .kafka_helpers import all_succeeded, wait_for
from .servers import started

CLUSTER, CONN_ID, VICTIM = "e2e", "kafka_medic_e2e", 4
HEAL_DAG = f"kafka_medic__{CLUSTER}__heal"
# Only broker failures call for a remediation here; the test sets how long their grace period is.
WRITERS = ("set_throttles", "execute_batches", "elect_leaders", "verify", "clear_throttles")
QUIET = {"under_replicated_partitions": {"action": None}, "hard_goal_violation": {"action": None},
         "soft_goal_violation": {"action": None}}


def post(url: str, body: bytes, hdrs: dict[str, str]) -> tuple[int, dict]:
    """A form POST, as Slack sends interactivity requests: the HTTP status and the JSON answer."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={**hdrs, "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@dataclass
class Medic:
    """The standalone Airflow, the Slack it talks to and the cluster it manages."""

    airflow: StandaloneAirflow
    slack: FakeSlack
    bootstrap: str

    def set_grace(self, seconds: int, approval_timeout_minutes: float | None = None) -> None:
        """The cluster's connection (in Airflow's database), with a broker-failure grace period of `seconds`
        and, if given, the policy's time to answer a heal's approval."""
        medic = {"remediation": {**QUIET, "broker_failure": {"act_after_s": seconds}}}
        if approval_timeout_minutes:
            medic["policy"] = {"heal": {"approval": "required", "timeout_minutes": approval_timeout_minutes}}
        extra = {"bootstrap.servers": self.bootstrap, "kafka_medic": medic}
        connection = {"connection_id": CONN_ID, "conn_type": "kafka", "extra": json.dumps(extra)}
        try:
            self.airflow.call("PATCH", f"/connections/{CONN_ID}", connection)
        except urllib.error.HTTPError:
            self.airflow.call("POST", "/connections", connection)

    @contextmanager
    def victim_down(self, cluster: DevCluster) -> Iterator[str]:
        """Kill the victim broker with a 20 s grace period and yield the heal run the detector starts for it;
        the broker is restarted afterwards."""
        known = {r["dag_run_id"] for r in self.airflow.runs(HEAL_DAG)}
        self.set_grace(20)
        cluster.kill_broker(VICTIM)
        try:
            yield self.new_heal_run(known)
        finally:
            self.set_grace(600)
            cluster.start_broker(VICTIM)

    def new_heal_run(self, known: set[str], timeout_s: float = 300) -> str:
        def started():
            return next((r["dag_run_id"] for r in self.airflow.runs(HEAL_DAG) if r["dag_run_id"] not in known), None)
        return wait_for(started, timeout_s, "the detector to start a heal run", interval=3)

    def trigger_heal(self) -> str:
        """A heal run started by hand (as the Airflow UI's Trigger button does); it heals what is dead now."""
        return self.airflow.call("POST", f"/dags/{HEAL_DAG}/dagRuns", {"logical_date": None})["dag_run_id"]

    def task_states(self, run_id: str) -> dict[str, str]:
        return self.airflow.task_states(HEAL_DAG, run_id)

    def task_log(self, run_id: str, task_id: str) -> str:
        return "\n".join(line.get("event", "") for line in self.airflow.task_log(HEAL_DAG, run_id, task_id))

    def proposal(self, run_id: str, timeout_s: float = 600) -> dict:
        """The Slack message asking to approve the run's proposal, once it is there and the approval waits."""
        def posted():
            return next((m for m in proposals(self.slack) if json.loads(button(m)["value"])["run_id"] == run_id),
                        None)
        message = wait_for(posted, timeout_s, f"the approval request of {run_id} in Slack", interval=3)
        wait_for(lambda: self.airflow.awaiting_input(HEAL_DAG, run_id, "approve"), 120,
                 f"the scheduler to see the approval of {run_id} wait", interval=2)
        return message

    def click(self, body: bytes, signed: dict[str, str]) -> tuple[int, dict]:
        """Slack's interactivity request to the plugin: its HTTP status and JSON answer."""
        return post(f"{self.airflow.url}/kafka-medic/slack/interactivity", body, signed)

    def answer_in_ui(self, run_id: str, option: str) -> dict:
        """What the Airflow UI's Required Actions page sends when a person picks Approve or Reject."""
        return self.airflow.call("PATCH", f"/dags/{HEAL_DAG}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails",
                                 {"chosen_options": [option], "params_input": {}})

    def finished(self, run_id: str, timeout_s: float = 600) -> dict[str, str]:
        def done():
            run = self.airflow.call("GET", f"/dags/{HEAL_DAG}/dagRuns/{run_id}")
            return run["state"] in ("success", "failed") and self.task_states(run_id)
        try:
            return wait_for(done, timeout_s, f"heal run {run_id} to finish", interval=3)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; its tasks: {self.task_states(run_id)}") from None

    def pause_detect(self, paused: bool) -> None:
        """Pause (or resume) the detect DAG; pausing waits for a detect run in progress to end."""
        detect = f"kafka_medic__{CLUSTER}__detect"
        self.airflow.call("PATCH", f"/dags/{detect}", {"is_paused": paused})
        if paused:
            wait_for(lambda: all(r["state"] != "running" for r in self.airflow.runs(detect)[:3]), 120,
                     "the detect run in progress to end", interval=2)

    def victim_seen_alive(self) -> bool:
        """The detector has closed the victim's failure (a new kill will be a new anomaly).

        Only the victim's own anomaly counts: other tests on the shared cluster may leave anomalies
        of their own (an odd replication factor, say) that have nothing to do with this flow.
        """
        with AnomalyLog(self.store) as anomalies:
            return all(a.key != f"broker_failure:{VICTIM}" for a in anomalies.active(CLUSTER))

    @property
    def store(self) -> str:
        return f"sqlite:///{self.airflow.home / 'medic' / 'metrics.db'}"

    def actions(self) -> list:
        with ActionLog(self.store) as log:
            return log.recent(CLUSTER)


@pytest.fixture(scope="module")
def medic(kraft_cluster, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-e2e")
    with FakeSlack() as slack:
        slack_conn = {"conn_type": "slack", "password": TOKEN, "extra": {
            "channel": "#kafka-ops", "base_url": slack.base_url, "signing_secret": SECRET,
            "approvers": {"U123": "alice"}}}
        airflow = StandaloneAirflow(
            home, free_ports(1)[0], [{"name": CLUSTER, "conn_id": CONN_ID, "rebalance_cron": None}],
            {"kafka_medic_slack": slack_conn})
        airflow.env["KAFKA_MEDIC_HOME"] = str(home / "medic")
        instance = Medic(airflow, slack, kraft_cluster.bootstrap)
        with started(airflow):
            instance.set_grace(600)
            yield instance


def proposals(slack: FakeSlack) -> list[dict]:
    """Slack messages asking for an approval (the ones with buttons), each with the ts Slack gave it."""
    return [{**body, "ts": f"1700000000.{i + 1:06d}"} for i, (method, body) in enumerate(slack.calls)
            if method == "chat.postMessage" and any(block.get("type") == "actions" for block in body.get("blocks", []))]


def button(message: dict) -> dict:
    return message["blocks"][-1]["elements"][0]


def updates(slack: FakeSlack, message: dict) -> list[str]:
    """How each chat.update of `message` ended it (the last block's text); its buttons must be gone."""
    found = [body for method, body in slack.calls if method == "chat.update" and body["ts"] == message["ts"]]
    assert all(b["type"] != "actions" for body in found for b in body["blocks"])
    return [body["blocks"][-1]["elements"][0]["text"] for body in found]


def topic_on_victim(bootstrap: str) -> str:
    """A new topic with replicas on the victim broker (three of its four partitions), for a heal to move."""
    topic = f"e2e-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    replicas = [[VICTIM, 1, 2], [2, VICTIM, 3], [3, 1, VICTIM], [1, 2, 3]]
    admin.create_topics([NewTopic(topic, len(replicas), replica_assignment=replicas)])[topic].result(30)
    return topic


def assignment(bootstrap: str) -> dict[str, list[int]]:
    return {p.name: list(p.replicas) for p in read_cluster_state(ClusterConfig(bootstrap=bootstrap)).partitions}


def assert_nothing_moved(states: dict[str, str], before: dict[str, list[int]], bootstrap: str) -> None:
    """The run stopped at the approval: every writing task skipped, the cluster as it was when the broker died."""
    assert states["approve"] == "skipped" and states["report"] == "success", states
    assert {states[t] for t in WRITERS} == {"skipped"}, states
    state = read_cluster_state(ClusterConfig(bootstrap=bootstrap))
    assert {p.name: list(p.replicas) for p in state.partitions if p.name in before} == before
    assert state.throttles() == {"brokers": {}, "topics": {}} and state.reassigning_partitions() == []


def test_broker_back_within_the_grace_period_is_not_healed(medic, kraft_cluster):
    """...and when it dies again before any detect run saw it alive, that is a new failure with its own heal."""
    known = {r["dag_run_id"] for r in medic.airflow.runs(HEAL_DAG)}
    medic.set_grace(600)
    kraft_cluster.kill_broker(VICTIM)
    try:
        run_id = medic.new_heal_run(known)
        wait_for(lambda: medic.task_states(run_id).get("wait_for_grace") == "deferred", 300,
                 "the grace sensor to wait in the triggerer", interval=3)
        medic.pause_detect(True)  # from here only the heal's sensor sees the broker come back
    finally:
        kraft_cluster.start_broker(VICTIM)
    try:
        states = medic.finished(run_id)
        assert states["wait_for_grace"] == "skipped"
        assert {states[t] for t in ("plan", "approve", "set_throttles", "execute_batches")} == {"skipped"}
        assert states["report"] == "success" and proposals(medic.slack) == []
        record = medic.actions()[0]
        assert (record.action, record.outcome, record.moves_done) == ("heal", "skipped", 0)
        assert "recovered within the grace period" in record.message
        assert medic.victim_seen_alive()  # the sensor ended the episode: detect is paused

        known.add(run_id)
        kraft_cluster.kill_broker(VICTIM)
        medic.pause_detect(False)
        again = medic.new_heal_run(known)
        wait_for(lambda: medic.task_states(again).get("wait_for_grace") == "deferred", 300,
                 "the second heal's grace sensor to wait", interval=3)
    finally:
        medic.pause_detect(False)
        kraft_cluster.start_broker(VICTIM)
    assert medic.finished(again)["wait_for_grace"] == "skipped"


def test_nothing_moves_unless_an_approver_approves(medic, kraft_cluster):
    """One broker kill, three heal runs that end at the approval without moving a replica, each saying why.

    The detector's run refuses a forged, a stale and an unlisted Slack click while it waits (each answered
    with the reason), then a Slack Reject ends it; a run started by hand is rejected in the Airflow UI; a third
    gets no answer within the policy's timeout. Slack's message says every outcome.
    """
    topic_on_victim(kraft_cluster.bootstrap)
    wait_for(medic.victim_seen_alive, 300, f"the detector to see broker {VICTIM} alive", interval=3)
    before = assignment(kraft_cluster.bootstrap)
    with medic.victim_down(kraft_cluster) as run_id:
        message = medic.proposal(run_id)
        value = button(message)["value"]
        now = int(time.time())
        body = click_body(value=value, message=message)
        assert medic.click(body, headers(body, now, secret="forged")) == (401, {"ok": False, "error": "bad signature"})
        assert medic.click(body, headers(body, now - 3600)) == (401, {"ok": False, "error": "stale timestamp"})
        stranger = click_body(user="U999", value=value, message=message)
        assert medic.click(stranger, headers(stranger, now)) == (403, {"ok": False, "error": "user U999 not allowed"})
        assert medic.task_states(run_id)["approve"] == "awaiting_input" and updates(medic.slack, message) == []

        reject = click_body("kafka_medic_reject", value=value, message=message)
        assert medic.click(reject, headers(reject, int(time.time()))) == (
            200, {"ok": True, "decision": "reject", "user": "U123"})
        assert updates(medic.slack, message) == [":x: Rejected by <@U123>"]
        status, answer = medic.click(reject, headers(reject, int(time.time())))  # a second click comes too late
        assert status == 409 and "already been updated" in answer["error"], answer
        assert_nothing_moved(medic.finished(run_id), before, kraft_cluster.bootstrap)
        assert updates(medic.slack, message) == [":x: Rejected by <@U123>"]  # the task left Slack's own update
        record = medic.actions()[0]
        assert (record.run, record.outcome, record.approved_by) == (f"{HEAL_DAG}/{run_id}", "rejected", "")
        assert record.message == "rejected by alice (Slack)" and record.moves_done == 0 < record.moves_planned
        assert "rejected by alice (Slack)" in medic.task_log(run_id, "approve")

        run_id = medic.trigger_heal()
        message = medic.proposal(run_id)
        medic.answer_in_ui(run_id, "Reject")
        assert_nothing_moved(medic.finished(run_id), before, kraft_cluster.bootstrap)
        (outcome,) = updates(medic.slack, message)
        by = re.fullmatch(r":x: Rejected by (.+) in the Airflow UI: nothing moves", outcome)
        assert by, outcome
        record = medic.actions()[0]
        assert (record.outcome, record.message) == ("rejected", f"rejected by {by[1]}")

        medic.set_grace(20, approval_timeout_minutes=0.25)
        run_id = medic.trigger_heal()
        message = medic.proposal(run_id)
        assert_nothing_moved(medic.finished(run_id), before, kraft_cluster.bootstrap)
        assert updates(medic.slack, message) == [
            ":hourglass: No answer within 0:00:15: rejected by default, nothing moves"]
        record = medic.actions()[0]
        assert (record.outcome, record.message) == ("rejected", "no answer within 0:00:15: rejected by default")
        assert "no answer within 0:00:15: rejected by default" in medic.task_log(run_id, "approve")


def test_dead_broker_is_healed_after_a_signed_slack_approval(medic, kraft_cluster):
    topic = topic_on_victim(kraft_cluster.bootstrap)
    wait_for(medic.victim_seen_alive, 300, f"the detector to see broker {VICTIM} alive", interval=3)
    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap)
    before = {p.name for p in read_cluster_state(config).partitions}
    with medic.victim_down(kraft_cluster) as run_id:
        message = medic.proposal(run_id)
        body = click_body(value=button(message)["value"], message=message)
        assert medic.click(body, headers(body, int(time.time())))[1]["decision"] == "approve"
        assert updates(medic.slack, message) == [":white_check_mark: Approved by <@U123>"]
        states = medic.finished(run_id)
        assert all_succeeded(states), states
        assert updates(medic.slack, message) == [":white_check_mark: Approved by <@U123>"]

        state = read_cluster_state(config)
        healed = [p for p in state.partitions if p.name in before]  # not the action topic the report creates
        assert topic in {p.topic for p in healed}
        assert not [p.name for p in healed if VICTIM in p.replicas or p.under_replicated]
        assert state.throttles() == {"brokers": {}, "topics": {}}
        record = medic.actions()[0]
        assert (record.action, record.outcome, record.approved_by) == ("heal", "succeeded", "alice (Slack)")
        assert record.why == [f"broker_failure:{VICTIM}"] and record.moves_done == record.moves_planned > 0
