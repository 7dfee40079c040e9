"""End to end with a real scheduler: kill a broker, and kafka-medic's DAGs detect it, wait out the grace
period, ask Slack, and heal the cluster once a signed Slack click approves; or skip if the broker returns.

One `airflow standalone` (scheduler, DAG processor, triggerer, api-server with the kafka-medic plugin) on
SQLite serves the module, pointed at the session's KRaft cluster and a local Slack-compatible server.
Every step is driven the way production drives it: DAG schedules, asset events, Slack's HTTP request.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from kafka_medic.airflow.standalone import StandaloneAirflow
from kafka_medic.detector import AnomalyLog
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.notify.action_log import ActionLog

from ..unit.test_notify_interactivity import SECRET, click_body, headers
from ..unit.test_slack import TOKEN, FakeSlack
from .kafka_helpers import wait_for
from .test_slack_approval import free_port

CLUSTER, CONN_ID, VICTIM = "e2e", "kafka_medic_e2e", 4
HEAL_DAG = f"kafka_medic__{CLUSTER}__heal"
# Only broker failures call for a remediation here; the test sets how long their grace period is.
QUIET = {"under_replicated_partitions": {"action": None}, "hard_goal_violation": {"action": None},
         "soft_goal_violation": {"action": None}}


@dataclass
class Medic:
    """The standalone Airflow, the Slack it talks to and the cluster it manages."""

    airflow: StandaloneAirflow
    slack: FakeSlack
    bootstrap: str

    def set_grace(self, seconds: int) -> None:
        """The cluster's connection (in Airflow's database), with a broker-failure grace period of `seconds`."""
        extra = {"bootstrap.servers": self.bootstrap,
                 "kafka_medic": {"remediation": {**QUIET, "broker_failure": {"act_after_s": seconds}}}}
        connection = {"connection_id": CONN_ID, "conn_type": "kafka", "extra": json.dumps(extra)}
        try:
            self.airflow.call("PATCH", f"/connections/{CONN_ID}", connection)
        except urllib.error.HTTPError:
            self.airflow.call("POST", "/connections", connection)

    def new_heal_run(self, known: set[str], timeout_s: float = 300) -> str:
        def started():
            return next((r["dag_run_id"] for r in self.airflow.runs(HEAL_DAG) if r["dag_run_id"] not in known), None)
        return wait_for(started, timeout_s, "the detector to start a heal run", interval=3)

    def task_states(self, run_id: str) -> dict[str, str]:
        return self.airflow.task_states(HEAL_DAG, run_id)

    def finished(self, run_id: str, timeout_s: float = 600) -> dict[str, str]:
        def done():
            run = self.airflow.call("GET", f"/dags/{HEAL_DAG}/dagRuns/{run_id}")
            return run["state"] in ("success", "failed") and self.task_states(run_id)
        return wait_for(done, timeout_s, f"heal run {run_id} to finish", interval=3)

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
            home, free_port(), [{"name": CLUSTER, "conn_id": CONN_ID, "rebalance_cron": None}],
            {"kafka_medic_slack": slack_conn})
        airflow.env["KAFKA_MEDIC_HOME"] = str(home / "medic")
        instance = Medic(airflow, slack, kraft_cluster.bootstrap)
        try:
            airflow.start()
            instance.set_grace(600)
            yield instance
        except BaseException:
            print(airflow.log_path.read_text(errors="replace")[-6000:])
            raise
        finally:
            airflow.stop()


def proposals(slack: FakeSlack) -> list[dict]:
    """Slack messages asking for an approval (the ones with buttons)."""
    return [body for method, body in slack.calls if method == "chat.postMessage"
            and any(block.get("type") == "actions" for block in body.get("blocks", []))]


def test_broker_back_within_the_grace_period_is_not_healed(medic, kraft_cluster):
    known = {r["dag_run_id"] for r in medic.airflow.runs(HEAL_DAG)}
    medic.set_grace(600)
    kraft_cluster.kill_broker(VICTIM)
    try:
        run_id = medic.new_heal_run(known)
        wait_for(lambda: medic.task_states(run_id).get("wait_for_grace") == "deferred", 300,
                 "the grace sensor to wait in the triggerer", interval=3)
    finally:
        kraft_cluster.start_broker(VICTIM)
    states = medic.finished(run_id)

    assert states["wait_for_grace"] == "skipped"
    assert {states[t] for t in ("plan", "approve", "set_throttles", "execute_batches")} == {"skipped"}
    assert states["report"] == "success" and proposals(medic.slack) == []
    record = medic.actions()[0]
    assert (record.action, record.outcome, record.moves_done) == ("heal", "skipped", 0)
    assert "recovered within the grace period" in record.message


def test_dead_broker_is_healed_after_a_signed_slack_approval(medic, kraft_cluster):
    topic = f"e2e-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": kraft_cluster.bootstrap})
    assignment = [[VICTIM, 1, 2], [2, VICTIM, 3], [3, 1, VICTIM], [1, 2, 3]]
    admin.create_topics([NewTopic(topic, len(assignment), replica_assignment=assignment)])[topic].result(30)
    wait_for(medic.victim_seen_alive, 300, f"the detector to see broker {VICTIM} alive", interval=3)
    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap)
    before = {p.name for p in read_cluster_state(config).partitions}
    known = {r["dag_run_id"] for r in medic.airflow.runs(HEAL_DAG)}
    medic.set_grace(20)
    kraft_cluster.kill_broker(VICTIM)
    try:
        run_id = medic.new_heal_run(known)
        message = wait_for(lambda: proposals(medic.slack), 600, "the approval request in Slack", interval=3)[-1]
        value = message["blocks"][-1]["elements"][0]["value"]
        assert json.loads(value)["run_id"] == run_id
        body = click_body(value=value)
        url = f"{medic.airflow.url}/kafka-medic/slack/interactivity"
        request = urllib.request.Request(url, data=body, method="POST", headers={
            **headers(body, int(time.time())), "Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.loads(response.read())["decision"] == "approve"
        states = medic.finished(run_id)
        assert set(states.values()) == {"success"}, states

        state = read_cluster_state(config)
        healed = [p for p in state.partitions if p.name in before]  # not the action topic the report creates
        assert topic in {p.topic for p in healed}
        assert not [p.name for p in healed if VICTIM in p.replicas or p.under_replicated]
        assert state.throttles() == {"brokers": {}, "topics": {}}
        record = medic.actions()[0]
        assert (record.action, record.outcome, record.approved_by) == ("heal", "succeeded", "alice (Slack)")
        assert record.why == [f"broker_failure:{VICTIM}"] and record.moves_done == record.moves_planned > 0
    finally:
        kraft_cluster.start_broker(VICTIM)
