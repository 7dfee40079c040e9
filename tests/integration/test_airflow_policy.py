"""The cluster policy, intent memory and maintenance, on the remediation DAGs run in-process with
`dag.test()` against the real KRaft cluster.

Two managed clusters name the session's KRaft cluster: `policed`, whose policy throttles every run to
THROTTLE_MB_S and allows rebalancing on partial loads, and `strict`, on the default policy (24 windows of
an hour, no rebalance on partial loads). Throttle rates are read back from the brokers while the run is
under way, by a thread that polls their configs.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from ..dags import airflow_env  # noqa: F401  (Airflow's environment, before Airflow is imported)
from .kafka_helpers import all_succeeded, every_topic_but, wait_for

POLICED, STRICT = "policed", "strict"
THROTTLE_MB_S, CONCURRENCY = 3, 2
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
def throttles_seen(kraft_cluster) -> Iterator[set[tuple[int, str, str]]]:
    """Every (broker, config, rate) the brokers report while the block runs, polled every 0.2 s."""
    from kafka_medic.kafka.reader import read_cluster_state

    seen: set[tuple[int, str, str]] = set()
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            try:
                for broker, rates in read_cluster_state(config(kraft_cluster)).throttles()["brokers"].items():
                    seen.update((int(broker), name, str(value)) for name, value in rates.items())
            except Exception:  # a broker killed by the test makes a read fail now and then: poll again
                pass
            done.wait(0.2)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        done.set()
        thread.join(30)


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
