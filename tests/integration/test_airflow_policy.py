"""The cluster policy, intent memory and maintenance, on the remediation DAGs run in-process with
`dag.test()` against the real KRaft cluster.

Two managed clusters name the session's KRaft cluster: `policed`, whose policy throttles every run to
THROTTLE_MB_S and allows rebalancing on partial loads, and `strict`, on the default policy (24 windows of
an hour, no rebalance on partial loads). Throttle rates are read back from the brokers while the run is
under way, by a thread that polls their configs.

Two more tell people what came of unattended heals (issue 15, outcomes): `told`, whose policy names a
notifier, and `looping`, whose policy also allows MAX_ATTEMPTS heals of one anomaly an hour. Their heals are
the detector's: the detect DAG runs, Airflow's scheduler code starts the heal run from the asset event it
published, and that run's tasks run in-process as `dag.test()` runs its own. They kill a broker added for
them (`spare`), so a heal moves only their topics.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from ..dags import airflow_env  # noqa: F401  (Airflow's environment, before Airflow is imported)
from .kafka_helpers import all_succeeded, delete_topics, every_topic_but, wait_for

POLICED, STRICT, TOLD, LOOPING = "policed", "strict", "told", "looping"
THROTTLE_MB_S, CONCURRENCY = 3, 2
MAX_ATTEMPTS = 2
RECORDING = {"class": "tests.dags.test_grace.RecordingNotifier", "kwargs": {"label": "ops"}}
APPROVALS = {kind: {"approval": "auto", "max_data_gb": 1} for kind in ("heal", "rebalance", "add_brokers",
                                                                       "decommission")}
QUIET = {"under_replicated_partitions": {"action": None}, "hard_goal_violation": {"action": None},
         "soft_goal_violation": {"action": None}, "broker_failure": {"act_after_s": 0}}


@pytest.fixture(scope="module")
def dags(kraft_cluster, tmp_path_factory):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    home = tmp_path_factory.mktemp("airflow-policy")
    patch = pytest.MonkeyPatch()
    clusters = [
        {"name": POLICED, "conn_id": "kafka_medic_policed", "rebalance_cron": None,
         "policy": {"throttle": THROTTLE_MB_S, "concurrency": CONCURRENCY, "rebalance_on_incomplete_load": True}},
        {"name": STRICT, "conn_id": "kafka_medic_policed", "rebalance_cron": None},
        {"name": TOLD, "conn_id": "kafka_medic_policed", "rebalance_cron": None,
         "policy": {"throttle": 1, "concurrency": 1, "notifiers": [RECORDING]}},
        {"name": LOOPING, "conn_id": "kafka_medic_policed", "rebalance_cron": None,
         "policy": {"max_attempts": MAX_ATTEMPTS, "attempt_period_hours": 1, "notifiers": [RECORDING]}},
    ]
    (home / "clusters.json").write_text(json.dumps({"clusters": clusters}))
    patch.setenv("KAFKA_MEDIC_CLUSTERS", str(home / "clusters.json"))
    patch.setenv("KAFKA_MEDIC_HOME", str(home / "medic"))
    patch.delenv("KAFKA_MEDIC_STORE_URL", raising=False)
    patch.setenv("AIRFLOW_CONN_KAFKA_MEDIC_POLICED", json.dumps({"conn_type": "kafka", "extra": {
        "bootstrap.servers": kraft_cluster.bootstrap, "kafka_medic": {"policy": APPROVALS, "remediation": QUIET}}}))
    db.initdb()
    yield DagBag(dag_folder=str(airflow_env.DAGS))
    patch.undo()


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def latest_action(cluster: str):
    from kafka_medic.notify.action_log import ActionLog

    with ActionLog() as log:
        return log.recent(cluster)[0]


def config(kraft_cluster):
    from kafka_medic.kafka.config import ClusterConfig

    return ClusterConfig(bootstrap=kraft_cluster.bootstrap, name=POLICED)


@contextmanager
def polled(step: Callable[[], object]) -> Iterator[None]:
    """Call `step` every 0.2 s in a thread while the block runs, until it returns something true."""
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                if step():
                    return
            except Exception:  # a broker killed by the test makes a read fail now and then: poll again
                pass
            done.wait(0.2)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(60)


@contextmanager
def throttles_seen(kraft_cluster) -> Iterator[set[tuple[int, str, str]]]:
    """Every (broker, config, rate) the brokers report while the block runs, polled every 0.2 s."""
    from kafka_medic.kafka.reader import read_cluster_state

    seen: set[tuple[int, str, str]] = set()

    def read() -> None:
        for broker, rates in read_cluster_state(config(kraft_cluster)).throttles()["brokers"].items():
            seen.update((int(broker), name, str(value)) for name, value in rates.items())

    with polled(read):
        yield seen


def expected_rates(brokers) -> set[tuple[int, str, str]]:
    rate = str(THROTTLE_MB_S * 2**20)
    return {(b, name, rate) for b in brokers
            for name in ("leader.replication.throttled.rate", "follower.replication.throttled.rate")}


def skewed_topic(kraft_cluster, prefix: str, partitions: int = 8, brokers: list[int] | None = None) -> str:
    from kafka_medic.devcluster.workload import TopicLoad, create_skewed_topics

    topic = f"{prefix}-{uuid.uuid4().hex[:6]}"
    brokers = brokers or kraft_cluster.broker_ids
    create_skewed_topics(kraft_cluster.bootstrap, brokers, (TopicLoad(topic, partitions, 1.0),))
    return topic


def test_a_rebalance_that_sets_no_throttle_runs_at_the_policys_throttle(dags, kraft_cluster):
    """The form's defaults are the policy's, so a run whose conf leaves throttle and concurrency alone
    (as a scheduled run's has no conf at all) applies them: the brokers report THROTTLE_MB_S."""
    from kafka_medic.kafka.reader import read_cluster_state

    dag = dags.dags[f"kafka_medic__{POLICED}__rebalance"]
    assert (dag.params["throttle_mb_s"], dag.params["concurrency"]) == (THROTTLE_MB_S, CONCURRENCY)
    topic = skewed_topic(kraft_cluster, "policy-rebalance")
    with throttles_seen(kraft_cluster) as seen:
        run = dag.test(run_conf={"force": True, "excluded_topics": every_topic_but(topic)})
    assert str(run.state) == "success" and all_succeeded(states(run)), states(run)
    assert seen and seen <= expected_rates(kraft_cluster.broker_ids), seen
    assert read_cluster_state(config(kraft_cluster)).throttles() == {"brokers": {}, "topics": {}}
    record = latest_action(POLICED)
    assert (record.action, record.outcome) == ("rebalance", "succeeded") and record.moves_done > 0


def test_a_rebalance_on_an_incomplete_load_model_is_skipped_saying_why(dags, kraft_cluster):
    from kafka_medic.kafka.reader import read_cluster_state

    before = {p.name: p.replicas for p in read_cluster_state(config(kraft_cluster)).partitions}
    run = dags.dags[f"kafka_medic__{STRICT}__rebalance"].test(run_conf={"force": True})
    assert states(run)["snapshot"] == "skipped" and states(run)["plan"] == "skipped", states(run)
    assert states(run)["report"] == "success"
    record = latest_action(STRICT)
    assert (record.action, record.outcome) == ("rebalance", "skipped")
    assert record.message.startswith("load model incomplete: 0 of 24 windows of 3600s valid")
    assert "rebalance_on_incomplete_load" in record.message
    assert {p.name: p.replicas for p in read_cluster_state(config(kraft_cluster)).partitions} == before


def test_maintenance_blocks_the_heal_and_the_detectors_start_of_it(dags, kraft_cluster):
    from kafka_medic.kafka.reader import read_cluster_state
    from kafka_medic.remediation.intent import IntentStore

    victim = max(kraft_cluster.broker_ids)
    maintenance = dags.dags[f"kafka_medic__{POLICED}__maintenance"]
    run = maintenance.test(run_conf={"maintenance": "on", "reason": f"disk swap on broker {victim}"})
    assert str(run.state) == "success"
    before = {p.name: p.replicas for p in read_cluster_state(config(kraft_cluster)).partitions}
    kraft_cluster.kill_broker(victim)
    try:
        wait_for(lambda: victim in read_cluster_state(config(kraft_cluster)).dead_brokers, 60, "the broker dead")
        detect = dags.dags[f"kafka_medic__{POLICED}__detect"].test()
        assert states(detect)["detect"] == "success" and states(detect)["publish_heal"] == "skipped", states(detect)
        heal = dags.dags[f"kafka_medic__{POLICED}__heal"].test()
        assert states(heal)["wait_for_grace"] == "skipped" and states(heal)["set_throttles"] == "skipped"
        record = latest_action(POLICED)
        assert (record.action, record.outcome) == ("heal", "skipped")
        assert f"cluster {POLICED} is in maintenance since" in record.message
        assert f"disk swap on broker {victim}" in record.message
        assert {p.name: p.replicas for p in read_cluster_state(config(kraft_cluster)).partitions} == before
    finally:
        with IntentStore() as intents:
            intents.set_maintenance(POLICED, False)
        kraft_cluster.start_broker(victim)


def test_the_heal_the_detector_starts_runs_at_the_policys_throttle(dags, kraft_cluster):
    from kafka.admin import NewTopic

    from kafka_medic.kafka.admin import admin_client
    from kafka_medic.kafka.reader import read_cluster_state

    victim = max(kraft_cluster.broker_ids)
    topic = f"policy-heal-{uuid.uuid4().hex[:6]}"
    with admin_client(config(kraft_cluster)) as admin:
        admin.create_topics([NewTopic(topic, -1, -1, replica_assignments={p: [victim, 1 + p % 2] for p in range(4)})])
    wait_for(lambda: {p.topic for p in read_cluster_state(config(kraft_cluster)).partitions} >= {topic}, 60, "topic")
    kraft_cluster.kill_broker(victim)
    try:
        wait_for(lambda: victim in read_cluster_state(config(kraft_cluster)).dead_brokers, 60, "the broker dead")
        detect = dags.dags[f"kafka_medic__{POLICED}__detect"].test()
        assert states(detect)["publish_heal"] == "success", states(detect)
        with throttles_seen(kraft_cluster) as seen:
            heal = dags.dags[f"kafka_medic__{POLICED}__heal"].test()
        assert str(heal.state) == "success" and all_succeeded(states(heal)), states(heal)
        alive = [b for b in kraft_cluster.broker_ids if b != victim]
        assert seen and seen <= expected_rates(alive), seen
        state = read_cluster_state(config(kraft_cluster))
        assert not [p.name for p in state.partitions if victim in p.replicas]
        assert state.throttles() == {"brokers": {}, "topics": {}}
        assert (latest_action(POLICED).action, latest_action(POLICED).outcome) == ("heal", "succeeded")
    finally:
        kraft_cluster.start_broker(victim)


def test_a_decommissioned_broker_receives_nothing_in_the_next_rebalance_until_readded(dags, kraft_cluster):
    from kafka_medic.executor import Journal
    from kafka_medic.kafka.reader import read_cluster_state
    from kafka_medic.remediation.intent import IntentStore

    topic = skewed_topic(kraft_cluster, "policy-grow", 12)
    brokers = list(kraft_cluster.broker_ids)
    new = kraft_cluster.add_broker()
    try:
        only = {"excluded_topics": every_topic_but(topic), "goals": ["replica_distribution"], "dry_run": False}
        run = dags.dags[f"kafka_medic__{POLICED}__add_brokers"].test(run_conf={**only, "brokers": [new]})
        assert str(run.state) == "success", states(run)
        run = dags.dags[f"kafka_medic__{POLICED}__decommission"].test(run_conf={**only, "brokers": [new]})
        assert str(run.state) == "success", states(run)
        with IntentStore() as intents:
            assert [(i.broker, i.intent) for i in intents.active(POLICED)] == [(new, "decommissioned")]

        later = skewed_topic(kraft_cluster, "policy-later", 12, brokers)  # the empty broker: its obvious home
        with Journal() as journal:
            known = {e.id for e in journal.list(POLICED)}
        conf = {"force": True, "excluded_topics": every_topic_but(later), "goals": ["replica_distribution"]}
        run = dags.dags[f"kafka_medic__{POLICED}__rebalance"].test(run_conf=conf)
        assert str(run.state) == "success", states(run)
        with Journal() as journal:
            [execution] = [e for e in journal.list(POLICED) if e.id not in known]
        moves = execution.proposal.moves
        assert moves and not [m for m in moves if new in m.new_replicas or m.new_leader == new], moves
        assert not [p.name for p in read_cluster_state(config(kraft_cluster)).partitions if new in p.replicas]

        run = dags.dags[f"kafka_medic__{POLICED}__maintenance"].test(run_conf={"maintenance": "unchanged",
                                                                              "readd_brokers": [new]})
        assert str(run.state) == "success"
        with IntentStore() as intents:
            assert intents.active(POLICED) == []
    finally:
        kraft_cluster.remove_broker(new)


def test_a_broker_that_dies_between_approval_and_the_first_move_makes_the_run_plan_again(dags, healthy_kraft_cluster):
    """The approval is given (by policy, at once), then a broker dies before the first move: check_plan finds
    the plan stale, nothing is written, and replan starts the DAG again with the run's conf; that run plans on
    the cluster as it is now (the dead broker's replicas off it, nothing to it) and asks again."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    from kafka_medic.airflow import ids
    from kafka_medic.kafka.reader import read_cluster_state

    cluster = healthy_kraft_cluster
    victim = max(cluster.broker_ids)
    topic = skewed_topic(cluster, "policy-stale", 8, [b for b in cluster.broker_ids if b != min(cluster.broker_ids)])
    dag = dags.dags[f"kafka_medic__{POLICED}__rebalance"]
    approve = dag.get_task(ids.APPROVE)

    def broker_dies(context) -> None:
        cluster.kill_broker(victim)
        wait_for(lambda: victim in read_cluster_state(config(cluster)).dead_brokers, 60, "the broker dead")

    before = {p.name: p.replicas for p in read_cluster_state(config(cluster)).partitions if p.topic == topic}
    conf = {"force": True, "excluded_topics": every_topic_but(topic), "goals": ["replica_distribution"]}
    approve.on_success_callback = [broker_dies]
    try:
        stale = dag.test(run_conf=conf)
        approve.on_success_callback = []
        ran = states(stale)
        assert (ran[ids.APPROVE], ran[ids.CHECK_PLAN], ran[ids.REPLAN]) == ("success", "skipped", "success"), ran
        assert {ran[t] for t in ("set_throttles", "execute_batches", "verify")} == {"skipped"}, ran
        state = read_cluster_state(config(cluster))
        assert {p.name: p.replicas for p in state.partitions if p.topic == topic} == before
        assert state.throttles() == {"brokers": {}, "topics": {}}
        record = latest_action(POLICED)
        assert (record.action, record.outcome) == ("rebalance", "skipped")
        assert f"brokers changed since planning: alive {sorted(cluster.broker_ids)}" in record.message
        with create_session() as session:
            [again] = session.query(DagRun).filter(DagRun.dag_id == dag.dag_id,
                                                   DagRun.run_id.like("replan__%")).all()
            replan_conf = dict(again.conf)
            session.delete(again)  # no scheduler here: the test runs it below
        assert again.run_id in record.message
        assert replan_conf == conf | {ids.REPLAN_OF: stale.run_id, ids.REPLANS: 1, ids.STARTED_AS: "manual"}

        planned_again = dag.test(run_conf=replan_conf)
        assert str(planned_again.state) == "success" and all_succeeded(states(planned_again)), states(planned_again)
        moved = read_cluster_state(config(cluster))
        assert {p.name: p.replicas for p in moved.partitions if p.topic == topic} != before
        assert not [p.name for p in moved.partitions if p.topic == topic and victim in p.replicas]
    finally:
        approve.on_success_callback = []
        cluster.start_broker(victim)


@pytest.fixture
def slack(monkeypatch):
    """The local Slack-compatible server the tasks post to (the environment's Slack settings name it)."""
    from ..unit.test_slack import slack_in_env

    with slack_in_env(monkeypatch) as server:
        yield server


def posted(slack, prefix: str) -> list[str]:
    return [body["text"] for method, body in slack.calls if method == "chat.postMessage"
            and body.get("text", "").startswith(prefix)]


@pytest.fixture(scope="module")
def spare(kraft_cluster):
    """A broker added for the outcome tests, holding only their topics: the one they kill, so a heal moves
    their replicas and nobody else's. Removed at the end (the tests delete their topics)."""
    from .conftest import _healthy

    broker = kraft_cluster.add_broker()
    yield broker
    _healthy(kraft_cluster)
    kraft_cluster.remove_broker(broker)


def dead(kraft_cluster, broker: int) -> None:
    from kafka_medic.kafka.reader import read_cluster_state

    wait_for(lambda: broker in read_cluster_state(config(kraft_cluster)).dead_brokers, 60, f"broker {broker} dead")


def detector_started_heal(dags, cluster: str):
    """The detect DAG's run, then the heal run Airflow's scheduler starts from the asset event it published
    (the scheduler's own code creates the run, consuming the event), run to its end in-process as `dag.test()`
    runs the run it creates. Airflow queues asset-triggered runs only for unpaused DAGs: the tests' Airflow
    (unit test mode) creates them unpaused."""
    from airflow.jobs.job import Job
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.types import DagRunType
    from sqlalchemy import select

    detect, heal = (dags.dags[f"kafka_medic__{cluster}__{kind}"] for kind in ("detect", "heal"))
    run = detect.test()
    assert states(run)["publish_heal"] == "success", states(run)
    with create_session() as session:
        known = set(session.scalars(select(DagRun.run_id).where(DagRun.dag_id == heal.dag_id)))
        SchedulerJobRunner(job=Job())._create_dag_runs_asset_triggered(
            dag_models=[session.get(DagModel, heal.dag_id)], session=session)
    with create_session() as session:
        started = [r for r in session.scalars(select(DagRun.run_id).where(
            DagRun.dag_id == heal.dag_id, DagRun.run_type == DagRunType.ASSET_TRIGGERED)) if r not in known]
    assert len(started) == 1, f"the scheduler started {started} from the detect run's asset event"
    return run_to_end(heal, started[0])


def run_to_end(dag, run_id: str, timeout_s: float = 600):
    """Run an existing run's tasks in-process until it ends: `dag.test()`'s loop, for a run it did not create."""
    import time

    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.sdk import timezone
    from airflow.sdk.definitions.dag import _run_task
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    deadline = time.monotonic() + timeout_s
    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dag.dag_id, DagRun.run_id == run_id))
        run.dag = DBDagBag().get_dag_for_run(run, session=session)
        run.state, run.start_date = DagRunState.RUNNING, timezone.utcnow()
        session.commit()
        while run.state == DagRunState.RUNNING:
            assert time.monotonic() < deadline, f"{run_id} still running after {timeout_s:.0f}s: {states(run)}"
            session.expire_all()
            schedulable, _ = run.update_state(session=session)
            for ti in schedulable:
                ti.try_number += ti.state != TaskInstanceState.UP_FOR_RESCHEDULE
                ti.state, ti.scheduled_dttm = TaskInstanceState.SCHEDULED, timezone.utcnow()
            session.commit()
            scheduled = [t for t in run.get_task_instances(session=session) if t.state == TaskInstanceState.SCHEDULED]
            for ti in scheduled:
                _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
            if not scheduled and run.state == DagRunState.RUNNING:
                time.sleep(1)  # a task waiting out its retry delay, as dag.test() waits
    [run] = DagRun.find(dag_id=dag.dag_id, run_id=run_id)
    return run


@contextmanager
def destination_killed(kraft_cluster, topic: str) -> Iterator[list[int]]:
    """While the block runs, kill the broker the first move of `topic` copies to, once that move is under way;
    yields the killed broker's id (a list, empty if no move started)."""
    from kafka_medic.kafka.reader import read_cluster_state

    killed: list[int] = []

    def watch() -> list[int]:
        moving = [p for p in read_cluster_state(config(kraft_cluster)).partitions
                  if p.topic == topic and p.reassigning and p.adding_replicas]
        if moving:
            killed.append(moving[0].adding_replicas[0])
            kraft_cluster.kill_broker(killed[0])
        return killed

    with polled(watch):
        yield killed


def test_a_detector_started_heal_whose_destination_dies_tells_slack_and_the_policys_notifier(
        dags, kraft_cluster, spare, slack):
    """The spare broker dies; the detector starts a heal, whose move to a live broker cannot complete: that
    broker is killed while it copies (at the policy's 1 MB/s). The execution fails, and its outcome
    reaches the local Slack-compatible server and the notifier the cluster's policy names."""
    from kafka_medic.kafka.reader import read_cluster_state

    from ..dags.test_grace import RecordingNotifier
    from .conftest import _healthy
    from .executor_helpers import placed_topic

    topic = f"told-{uuid.uuid4().hex[:6]}"
    placed_topic(kraft_cluster.bootstrap, topic, [[spare, 1], [spare, 2]], mb=8)
    told_before = len(RecordingNotifier.told)
    kraft_cluster.kill_broker(spare)
    try:
        dead(kraft_cluster, spare)
        with destination_killed(kraft_cluster, topic) as killed:
            heal = detector_started_heal(dags, TOLD)
        assert killed, f"no move of {topic} was seen under way: {states(heal)}"
        assert str(heal.state) == "failed" and states(heal)["execute_batches"] == "failed", states(heal)
        assert states(heal)["clear_throttles"] == "success" and states(heal)["report"] == "success", states(heal)
        failed = f":x: heal on {TOLD} failed: execution failed: destination broker(s) {killed} died"
        assert posted(slack, ":x:") == [failed], slack.calls
        outcomes = [o for o in RecordingNotifier.told[told_before:] if o["event"] == "failed"]
        assert [o["text"] for o in outcomes] == [failed] and outcomes[0]["cluster"] == TOLD
        assert outcomes[0]["run"] == f"{heal.dag_id}/{heal.run_id}"
        record = latest_action(TOLD)
        assert (record.action, record.outcome, record.run) == ("heal", "failed", f"{heal.dag_id}/{heal.run_id}")
        for broker in (*killed, spare):
            kraft_cluster.start_broker(broker)
        # the throttle left on the killed broker while it was down: the next detect run puts it back
        left = read_cluster_state(config(kraft_cluster)).throttles()["brokers"]
        assert {int(b) for b in left} == set(killed), left
        assert states(dags.dags[f"kafka_medic__{TOLD}__detect"].test())["detect"] == "success"
        assert read_cluster_state(config(kraft_cluster)).throttles() == {"brokers": {}, "topics": {}}
    finally:
        _healthy(kraft_cluster)
        delete_topics(kraft_cluster, topic)


def test_a_broker_that_keeps_failing_is_healed_max_attempts_times_then_only_alerted(dags, kraft_cluster, spare, slack):
    """The spare broker fails, is healed (its one replica moved away) and returns, again and again: the policy
    allows MAX_ATTEMPTS heals of one anomaly per hour. The detector starts a heal each time; the first
    MAX_ATTEMPTS move the replica, the next is held back: it moves nothing, Slack and the policy's notifier
    are told it is alerting only, and the anomaly log's attempts show the loop."""
    from kafka_medic.detector import AnomalyLog
    from kafka_medic.kafka.reader import read_cluster_state

    from ..dags.test_grace import RecordingNotifier
    from .conftest import _healthy
    from .executor_helpers import placed_topic

    key = f"broker_failure:{spare}"
    detect = dags.dags[f"kafka_medic__{LOOPING}__detect"]
    topics = [f"looping-{uuid.uuid4().hex[:6]}" for _ in range(MAX_ATTEMPTS + 1)]
    heals = []
    try:
        for topic in topics:
            if heals:  # the broker is back: a detect run ends the episode, so its next death is a new one
                assert states(detect.test())["detect"] == "success"
                with AnomalyLog() as anomalies:
                    assert key not in {a.key for a in anomalies.active(LOOPING)}
            placed_topic(kraft_cluster.bootstrap, topic, [[spare, 1]], mb=0.01)
            kraft_cluster.kill_broker(spare)
            try:
                dead(kraft_cluster, spare)
                heals.append(detector_started_heal(dags, LOOPING))
            finally:
                kraft_cluster.start_broker(spare)
        on_spare = {p.topic for p in read_cluster_state(config(kraft_cluster)).partitions if spare in p.replicas}
        for heal in heals[:MAX_ATTEMPTS]:
            assert str(heal.state) == "success" and all_succeeded(states(heal)), states(heal)
        assert not on_spare & set(topics[:MAX_ATTEMPTS]), on_spare
        held = heals[MAX_ATTEMPTS]
        assert states(held)["wait_for_grace"] == "skipped" and states(held)["set_throttles"] == "skipped"
        assert topics[MAX_ATTEMPTS] in on_spare
        why = f"{key}: {MAX_ATTEMPTS} remediation attempts in 1 h already (policy max_attempts), alerting only"
        assert posted(slack, ":no_entry:") == [f":no_entry: heal on {LOOPING} held back: {why}"], slack.calls
        assert len(posted(slack, ":white_check_mark:")) == MAX_ATTEMPTS
        assert [(o["event"], o["headline"]) for o in RecordingNotifier.told if o["cluster"] == LOOPING][-1] == (
            "held back", why)
        with AnomalyLog() as anomalies:
            log = anomalies.attempt_log(LOOPING)
        runs = [f"{heal.dag_id}/{heal.run_id}" for heal in reversed(heals)]
        assert [(row["key"], row["run"], bool(row["held_back"])) for row in log] == [
            (key, run, i == 0) for i, run in enumerate(runs)]
        record = latest_action(LOOPING)
        assert (record.action, record.outcome, record.message) == ("heal", "skipped", why)
    finally:
        _healthy(kraft_cluster)
        delete_topics(kraft_cluster, *topics)
