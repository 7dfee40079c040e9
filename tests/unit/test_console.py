"""The console's read models over a real SQLite store: the front page's rows, the cluster page's data, the
partition page's numpy sort against a plain sort, and the model snapshot's round trip."""

from __future__ import annotations

import numpy as np
import pytest

from kafka_medic.console.cluster import PlannedMoves, cluster_view, eta, per_broker
from kafka_medic.console.overview import overview
from kafka_medic.console.pages import cluster_page, front_page, partitions_page, proposal_page
from kafka_medic.console.partitions import PER_PAGE, heaviest
from kafka_medic.console.proposal import proposal_view
from kafka_medic.detector import Anomaly, AnomalyLog
from kafka_medic.detector.anomaly import BROKER_FAILURE, UNDER_REPLICATED
from kafka_medic.detector.snapshot import ModelSnapshot, SnapshotLog
from kafka_medic.detector.status import StatusLog
from kafka_medic.executor.journal import DONE, SKIPPED, SUBMITTED, Journal
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.limits import OutOfLimits
from kafka_medic.model import Move, Proposal
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.notify.action_log import ActionLog, ActionRecord
from kafka_medic.remediation.policy import ClusterPolicy
from kafka_medic.synthetic import Scenario, synthetic_model

from .test_cluster_status import a_status

NOW = 1_700_000_000.0
MODEL = synthetic_model(Scenario(brokers=6, partitions=400, racks=3, dead=1), seed=3, cluster="a")
TASKS = [Task("t", i, REPLICA, (1, 2), (3, 2), 1, 3, 1000 * (i + 1)) for i in range(4)]
PROPOSAL = Proposal("a", [], [Move("t", i, [1, 2], [3, 2], 1, 3) for i in range(4)])


def fill(url: str, now: float = NOW) -> str:
    """Cluster a: a day of status rows, a snapshot, an open and a past anomaly, a running execution, actions."""
    with StatusLog(url) as statuses:
        for minute in range(0, 24 * 60, 10):
            statuses.record(a_status("a", now - 24 * 3600 + 60 * minute, balance=50 + minute / 60))
    with SnapshotLog(url) as snapshots:
        snapshots.record("a", ModelSnapshot.of(MODEL, now))
    with AnomalyLog(url) as anomalies:
        dead = Anomaly(BROKER_FAILURE, f"{BROKER_FAILURE}:3", "critical", "broker 3 dead")
        anomalies.record("a", [dead, Anomaly(UNDER_REPLICATED, UNDER_REPLICATED, "warning", "urp")], now=now - 60)
        anomalies.record("a", [dead], now=now)
    with Journal(url) as journal:
        execution = journal.create("a", PROPOSAL, ExecutionOptions(), TASKS)
        journal.mark_submitted(execution, TASKS[:3])
        journal.confirm_submitted(execution, TASKS[:3])
        journal.set_tasks_state(execution, TASKS[:2], DONE)
    with ActionLog(url) as actions:
        actions.write(ActionRecord("a", "heal", ["broker 3 dead"], "auto", 5, 5, 100, "succeeded", now - 90, now - 30))
        actions.write(ActionRecord("a", "rebalance", [], "alice", 2, 0, 0, "rejected", now - 20, now - 10))
    return execution


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    return url, fill(url)


def test_the_front_page_row_has_the_status_anomalies_execution_action_and_completeness(store):
    url, execution = store
    (row, empty) = overview([("a", ClusterPolicy(window_minutes=30)), ("new", ClusterPolicy())], url)
    assert row.status.brokers_dead == 1 and row.open_anomalies == {BROKER_FAILURE: 1}
    assert (row.execution_id, row.execution.moves_total, row.execution.moves_done) == (execution, 4, 2)
    assert row.execution.bytes_done == 3000 and row.execution.bytes_total == 10_000
    assert row.last_action.action == "rebalance" and row.maintenance is None
    assert row.complete_in_min == 30.0  # 4 of 5 windows valid, windows of 30 min
    assert (empty.status, empty.execution, empty.last_action) == (None, None, None)
    html = front_page([row, empty])
    assert 'href="/kafka-medic/a/"' in html and "no detect run yet" in html and "complete in 30 min" in html


def test_the_cluster_view_has_brokers_history_anomalies_the_running_execution_and_filtered_actions(store):
    url, execution = store
    v = cluster_view("a", ClusterPolicy(), url, now=NOW)
    assert list(v.snapshot.broker_ids) == [b.id for b in MODEL.brokers]
    assert len(v.history["at"]) == 144 and v.history["balancedness"][-1] == pytest.approx(50 + 1430 / 60)
    assert [a.kind for a in v.open_anomalies] == [BROKER_FAILURE]
    assert [(a.kind, ended) for a, ended in v.past_anomalies] == [(UNDER_REPLICATED, NOW)]
    assert v.running.record.id == execution and v.running.per_broker == {3: (3000, 10_000)}
    assert [a.action for a in v.actions] == ["rebalance", "heal"]
    assert [a.action for a in cluster_view("a", ClusterPolicy(), url, action="heal", now=NOW).actions] == ["heal"]
    util = v.utilisation_pct()
    assert util.shape == (6, 4) and util == pytest.approx(100 * v.snapshot.load / v.snapshot.capacity)
    assert (util[v.snapshot.alive].sum(axis=0) > 0).all()
    html = cluster_page(v, can_stop=True)
    assert 'id="stop"' in html and 'id="history"' in html and html.count('class="bar"') >= 6 * 4
    assert 'id="stop"' not in cluster_page(v, can_stop=False)
    assert 'action="/kafka-medic/a/execution"' in html and f'value="{execution}"' in html
    assert 'id="change"' not in cluster_page(v, can_stop=False)


def test_the_snapshot_keeps_the_models_broker_loads_replicas_and_leaders(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with SnapshotLog(url) as snapshots:
        assert snapshots.latest("a") is None
        snapshots.record("a", ModelSnapshot.of(MODEL, NOW))
        s = snapshots.latest("a")
        brokers_only = snapshots.latest("a", partitions=False)
    assert (brokers_only.load == s.load).all() and (brokers_only.alive == s.alive).all()
    assert len(s.partition_number) == 400 and brokers_only.partition_load.shape == (0, len(RESOURCES))
    assert s.at == NOW and s.replicas.sum() == sum(len(p.replicas) for p in MODEL.partitions)
    assert s.leaders.sum() == sum(p.leader is not None for p in MODEL.partitions)
    assert s.partition_load[:, 0].sum() == pytest.approx(sum(p.load["disk"] for p in MODEL.partitions))
    assert list(s.racks) == [b.rack for b in MODEL.brokers]


@pytest.mark.parametrize("resource", RESOURCES)
def test_heaviest_partitions_page_by_page_are_a_plain_sort(resource):
    s = ModelSnapshot.of(MODEL, NOW)
    k = RESOURCES.index(resource)
    expected = sorted(((MODEL.partitions[i].load[resource], i) for i in range(len(MODEL.partitions))),
                      key=lambda x: -x[0])
    pages = [heaviest(s, resource, page=n) for n in range(1, 400 // PER_PAGE + 2)]
    rows = [r for p in pages for r in p.rows]
    assert pages[0].matching == 400 and pages[0].pages == 8 and pages[-1].rows == []
    assert [r.load[resource] for r in rows] == pytest.approx([load for load, _ in expected])
    assert all(np.diff([r.load[resource] for r in rows]) <= 0) and k >= 0


def test_heaviest_partitions_of_topics_matching_a_regex_and_a_bad_regex(store):
    s = ModelSnapshot.of(MODEL, NOW)
    topic = MODEL.partitions[0].topic
    p = heaviest(s, "nw_in", topic=topic)
    assert p.matching == sum(q.topic == topic for q in MODEL.partitions) and {r.topic for r in p.rows} == {topic}
    assert heaviest(s, "disk", topic="nothing-.*").matching == 0
    with pytest.raises(OutOfLimits):
        heaviest(s, "disk", topic="(")
    assert "heaviest partitions by nw_in" in partitions_page("a", p)


def test_per_broker_progress_and_eta_from_the_journals_moves_and_states():
    moves = PlannedMoves.of([*TASKS[:3], Task("t", 9, REPLICA, (1, 2), (4, 5), 1, 4, 500)])
    assert moves.copies.tolist() == [1, 1, 1, 2] and moves.added_broker.tolist() == [3, 3, 3, 4, 5]
    states = np.array([DONE, SUBMITTED, SKIPPED, DONE])
    assert per_broker(moves, states) == {3: (1000, 3000), 4: (500, 500), 5: (500, 500)}
    assert eta(1000, 6000, NOW - 100, NOW) == pytest.approx(5000 / (1000 / 100))
    assert eta(0, 6000, NOW - 100, NOW) is None  # nothing finished yet: no rate


def test_the_proposal_view_pages_the_moves_with_their_reasons_and_filters_by_topic(store):
    url, execution = store
    stats = {"move_reasons": ["disk_capacity", None, "rack_aware", "disk_capacity"],
             "brokers": [{"id": 1, "state": "alive", "capacity": dict.fromkeys(RESOURCES, 100.0),
                          "before": {**dict.fromkeys(RESOURCES, 80.0), "replicas": 4, "leaders": 2},
                          "after": {**dict.fromkeys(RESOURCES, 40.0), "replicas": 2, "leaders": 1}}]}
    proposal = Proposal("a", ["rack_aware"], PROPOSAL.moves, stats)
    with Journal(url) as journal:
        record = journal.get(journal.create("a2", proposal, ExecutionOptions(), TASKS))
    v = proposal_view(record.id, record.status, record.proposal)
    assert v.matching == 4 and [m.reason for m in v.moves] == ["disk_capacity", "-", "rack_aware", "disk_capacity"]
    assert proposal_view(record.id, record.status, record.proposal, topic="other").matching == 0
    html = proposal_page("a2", v)
    assert f'<span id="plan-status">{record.status}</span>' in html
    assert html.count('class="bar"') == 2 * len(RESOURCES) and "80.0%" in html and "40.0%" in html
    assert "4 &rarr; 2" in html
