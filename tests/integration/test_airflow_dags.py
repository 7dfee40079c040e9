"""The remediation DAGs run in-process with `dag.test()` against the real KRaft cluster.

Cheap end-to-end checks of the whole chain without a scheduler: a rebalance the policy approves runs
every task and leaves no throttle behind; a broker added to the cluster is filled by add_brokers and
emptied again by decommission before it is removed; a demote within the policy's leader-move limit runs without
asking (under dag.test() a gate that asks would wait forever); a bad trigger form fails at validation
and touches nothing.
"""

from __future__ import annotations

import json
import uuid

import pytest

from ..dags import airflow_env  # noqa: F401  (Airflow's environment, before Airflow is imported)
from .kafka_helpers import all_succeeded, every_topic_but, wait_for

CLUSTER = "itest"
POLICY = {"rebalance": {"approval": "auto", "max_data_gb": 1}, "add_brokers": {"approval": "auto", "max_data_gb": 1},
          "decommission": {"approval": "auto", "max_data_gb": 1},
          "demote": {"approval": "auto", "max_leader_moves": 10_000}}


@pytest.fixture(scope="module")
def dags(kraft_cluster, tmp_path_factory):
    """The DAGs of one managed cluster (the session's KRaft cluster) with their own metrics store."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    home = tmp_path_factory.mktemp("airflow-dags")
    patch = pytest.MonkeyPatch()
    # these runs plan on the few samples the tests take: the policy allows rebalancing on partial loads
    (home / "clusters.json").write_text(json.dumps({"clusters": [{"name": CLUSTER, "conn_id": "kafka_medic_it",
                                                                  "policy": {"rebalance_on_incomplete_load": True}}]}))
    patch.setenv("KAFKA_MEDIC_CLUSTERS", str(home / "clusters.json"))
    patch.setenv("KAFKA_MEDIC_HOME", str(home / "medic"))
    patch.setenv("AIRFLOW_CONN_KAFKA_MEDIC_IT", json.dumps({"conn_type": "kafka", "extra": {
        "bootstrap.servers": kraft_cluster.bootstrap, "kafka_medic": {"policy": POLICY}}}))
    db.initdb()
    yield DagBag(dag_folder=str(airflow_env.DAGS))
    patch.undo()


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def actions():
    from kafka_medic.notify.action_log import ActionLog

    with ActionLog() as log:
        return log.recent(CLUSTER)


def test_rebalance_approved_by_policy_runs_every_step_and_clears_throttles(dags, kraft_cluster):
    from kafka_medic.devcluster.workload import TopicLoad, create_skewed_topics
    from kafka_medic.kafka.config import ClusterConfig
    from kafka_medic.kafka.reader import read_cluster_state

    topic = f"airflow-skew-{uuid.uuid4().hex[:6]}"
    create_skewed_topics(kraft_cluster.bootstrap, kraft_cluster.broker_ids, (TopicLoad(topic, 8, 1.0),))
    conf = {"force": True, "throttle_mb_s": 50, "excluded_topics": every_topic_but(topic)}
    run = dags.dags[f"kafka_medic__{CLUSTER}__rebalance"].test(run_conf=conf)

    assert str(run.state) == "success", states(run)
    assert all_succeeded(states(run)), states(run)
    state = read_cluster_state(ClusterConfig(bootstrap=kraft_cluster.bootstrap))
    assert state.throttles() == {"brokers": {}, "topics": {}}
    assert not state.reassigning_partitions() and not state.under_replicated_partitions()
    record = actions()[0]
    assert (record.action, record.outcome, record.moves_done) == ("rebalance", "succeeded", record.moves_planned)
    assert record.approved_by.startswith("auto: rebalance auto-approved by policy")


def test_rebalance_with_auto_throttle_puts_each_brokers_sampled_headroom_on_it(dags, kraft_cluster):
    """The form's auto throttle reaches the executor: the rates are the headroom of the samples in the
    store (here the connection has no capacity file: the built-in capacity), and they are cleared."""
    from kafka_medic.capacity import load_capacities
    from kafka_medic.devcluster.workload import TopicLoad, create_skewed_topics
    from kafka_medic.executor import Journal
    from kafka_medic.executor.headroom import headroom_rates, measured_traffic
    from kafka_medic.kafka.config import ClusterConfig
    from kafka_medic.kafka.reader import read_cluster_state
    from kafka_medic.metrics.admin_sampler import AdminSampler
    from kafka_medic.metrics.jmx_sampler import JmxSampler
    from kafka_medic.metrics.sampling import sample_loop
    from kafka_medic.metrics.store import MetricsStore

    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap, name=CLUSTER)
    admin = AdminSampler(config)
    with MetricsStore() as store:  # the store the DAGs use, as the sample DAG would fill it
        sample_loop(store, CLUSTER, [admin, JmxSampler({b: kraft_cluster.jmx_url(b) for b in kraft_cluster.broker_ids},
                                                        admin)], interval_s=3.0, rounds=2)
    topic = f"airflow-auto-{uuid.uuid4().hex[:6]}"
    create_skewed_topics(kraft_cluster.bootstrap, kraft_cluster.broker_ids, (TopicLoad(topic, 8, 1.0),))
    with Journal() as journal:
        known = {e.id for e in journal.list(CLUSTER)}
    # dag.test() keeps an earlier run's conf in the DAG's params within one process: reset the fixed throttle
    conf = {"force": True, "auto_throttle": True, "throttle_mb_s": None, "excluded_topics": every_topic_but(topic)}
    run = dags.dags[f"kafka_medic__{CLUSTER}__rebalance"].test(run_conf=conf)

    assert str(run.state) == "success" and all_succeeded(states(run)), states(run)
    with Journal() as journal:
        [execution] = [e for e in journal.list(CLUSTER) if e.id not in known]
        applied = {}
        for r in journal.throttles(execution.id):
            if r.resource == "broker":
                applied.setdefault(int(r.name), {})[r.config] = int(r.applied)
    with MetricsStore() as store:  # no sample since: the same traffic the execution saw
        expected = headroom_rates(load_capacities(None), measured_traffic(store, CLUSTER, sorted(applied)), 0.8)
    assert applied and {b: (v["leader.replication.throttled.rate"], v["follower.replication.throttled.rate"])
                        for b, v in applied.items()} == expected
    assert read_cluster_state(config).throttles() == {"brokers": {}, "topics": {}}


def test_demote_is_auto_approved_within_the_policy_and_moves_only_leadership(dags, kraft_cluster):
    from kafka.admin import NewTopic

    from kafka_medic.executor import ExecutionOptions, Journal
    from kafka_medic.executor.run import execute
    from kafka_medic.kafka.admin import admin_client
    from kafka_medic.kafka.config import ClusterConfig
    from kafka_medic.kafka.reader import read_cluster_state
    from kafka_medic.model import Move, Proposal

    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap, name=CLUSTER)
    victim, topic = 3, f"airflow-led-by-3-{uuid.uuid4().hex[:6]}"
    with admin_client(config) as admin:
        admin.create_topics([NewTopic(topic, -1, -1, replica_assignments={0: [victim, 1], 1: [victim, 2]})])

    def led() -> dict[str, int]:
        return {p.name: p.leader for p in read_cluster_state(config).partitions if p.topic == topic}
    wait_for(lambda: set(led().values()) == {victim}, 60, f"broker {victim} to lead {topic}")
    replicas = {p.name: sorted(p.replicas) for p in read_cluster_state(config).partitions}
    with Journal() as journal:
        known = {e.id for e in journal.list(CLUSTER)}
    run = dags.dags[f"kafka_medic__{CLUSTER}__demote"].test(run_conf={"brokers": [victim]})
    with Journal() as journal:
        demoted = [e.proposal for e in journal.list(CLUSTER) if e.id not in known]
    try:
        assert str(run.state) == "success" and all_succeeded(states(run)), states(run)
        after = read_cluster_state(config)
        assert not [p.name for p in after.partitions if p.leader == victim]
        assert set(led().values()) <= {1, 2} and len(led()) == 2
        assert {p.name: sorted(p.replicas) for p in after.partitions if p.name in replicas} == replicas
        assert after.throttles() == {"brokers": {}, "topics": {}}
        record = actions()[0]
        assert (record.action, record.outcome, record.bytes_moved) == ("demote", "succeeded", 0)
        assert record.approved_by.startswith("auto: demote auto-approved by policy (")
        assert "leader moves <= 10,000" in record.approved_by
    finally:  # hand leadership back, so later tests on the shared cluster find it as it was
        for proposal in demoted:
            back = Proposal(CLUSTER, [], [Move(m.topic, m.partition, m.new_replicas, m.old_replicas, m.new_leader,
                                                m.old_leader) for m in proposal.moves])
            with Journal() as journal:
                assert execute(config, back, ExecutionOptions(), journal, log=lambda _: None)["status"] == "succeeded"


@pytest.mark.parametrize(("kind", "conf", "message"), [
    ("decommission", {"brokers": [99]}, "brokers: unknown broker 99"),
    ("rebalance", {"excluded_topics": "orders-(["}, "excluded_topics: 'orders-([' is not a valid regex"),
])
def test_bad_form_fails_at_validation_and_writes_nothing(dags, kraft_cluster, kind, conf, message):
    from kafka_medic.kafka.config import ClusterConfig
    from kafka_medic.kafka.reader import read_cluster_state

    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap)
    before = {p.name: p.replicas for p in read_cluster_state(config).partitions}
    run = dags.dags[f"kafka_medic__{CLUSTER}__{kind}"].test(run_conf=conf)

    assert str(run.state) == "failed"
    assert states(run)["validate"] == "failed"
    assert states(run)["snapshot"] == "upstream_failed" and states(run)["report"] == "success"
    after = read_cluster_state(config)
    assert {p.name: p.replicas for p in after.partitions} == before
    assert after.throttles() == {"brokers": {}, "topics": {}}
    record = actions()[0]
    assert (record.action, record.outcome) == (kind, "failed") and message in record.message


def test_an_added_broker_is_filled_by_add_brokers_then_emptied_by_decommission_and_removed(dags, kraft_cluster):
    """A new machine's life: `dev-cluster add-broker`, add_brokers moves replicas onto it, removing it is
    refused while it holds them, decommission moves them all off, and it is removed (unregistered)."""
    from kafka_medic.devcluster.workload import TopicLoad, create_skewed_topics
    from kafka_medic.errors import MedicError
    from kafka_medic.kafka.config import ClusterConfig
    from kafka_medic.kafka.reader import read_cluster_state

    config = ClusterConfig(bootstrap=kraft_cluster.bootstrap, name=CLUSTER)
    brokers = sorted(read_cluster_state(config).brokers)
    topic = f"airflow-grow-{uuid.uuid4().hex[:6]}"
    create_skewed_topics(kraft_cluster.bootstrap, kraft_cluster.broker_ids, (TopicLoad(topic, 12, 1.0),))
    new = kraft_cluster.add_broker()
    try:
        config = ClusterConfig(bootstrap=kraft_cluster.bootstrap, name=CLUSTER)
        assert (new, read_cluster_state(config).brokers[new].alive) == (max(brokers) + 1, True)

        def on_new() -> list[str]:
            return [p.name for p in read_cluster_state(config).partitions if new in p.replicas]
        # only this topic moves, for replica counts alone: the shared cluster holds other tests' topics, some
        # placed against the rack goal on purpose, which a plan that may not move them could not fix
        conf = {"brokers": [new], "excluded_topics": every_topic_but(topic), "goals": ["replica_distribution"],
                "throttle_mb_s": 50, "dry_run": False}
        run = dags.dags[f"kafka_medic__{CLUSTER}__add_brokers"].test(run_conf=conf)
        assert str(run.state) == "success" and all_succeeded(states(run)), states(run)
        filled = on_new()
        assert filled and {n.rsplit("-", 1)[0] for n in filled} == {topic}, filled
        record = actions()[0]
        assert (record.action, record.outcome, record.moves_done) == ("add_brokers", "succeeded", record.moves_planned)
        with pytest.raises(MedicError, match=rf"broker {new} still holds {len(filled)} replicas"):
            kraft_cluster.remove_broker(new)

        run = dags.dags[f"kafka_medic__{CLUSTER}__decommission"].test(run_conf=conf)  # its replicas all leave
        assert str(run.state) == "success" and all_succeeded(states(run)), states(run)
        assert on_new() == []
        state = read_cluster_state(config)
        assert state.throttles() == {"brokers": {}, "topics": {}} and not state.under_replicated_partitions()
        assert actions()[0].action == "decommission"
    finally:
        kraft_cluster.remove_broker(new)
    after = read_cluster_state(ClusterConfig(bootstrap=kraft_cluster.bootstrap))
    assert sorted(after.brokers) == brokers and sorted(after.alive_brokers) == brokers  # unregistered, not dead
