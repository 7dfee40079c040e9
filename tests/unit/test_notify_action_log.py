"""The action log's store copy and its summary paragraph (the Kafka copy: tests/integration/test_action_log.py)."""

from __future__ import annotations

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.kafka.state import BrokerState, ClusterState, PartitionState
from kafka_medic.notify.action_log import ActionLog, ActionRecord, action_summary, live_replicas, record_action

T0 = 1_800_000_000.0


def record(**kw) -> ActionRecord:
    values = dict(cluster="dev", action="heal", why=["broker_failure:3"], approved_by="alice (Slack U123)",
                  moves_planned=12, moves_done=12, bytes_moved=3 * 2**30, outcome="succeeded",
                  started_at=T0, finished_at=T0 + 754, run="kafka_medic_heal/manual__1")
    return ActionRecord(**{**values, **kw})


def test_summary_paragraph():
    assert action_summary(record()) == (
        "Heal on cluster dev succeeded: 12 of 12 partition moves done, 3.0 GB moved in 12m 34s "
        "(started 2027-01-15 08:00:00 UTC). Why: broker_failure:3. Approved by alice (Slack U123). "
        "Run: kafka_medic_heal/manual__1.")
    failed = record(outcome="failed", moves_done=5, bytes_moved=0, why=[], message="broker 4 died mid-way.",
                    finished_at=T0 + 3 * 3600 + 5, run="")
    assert action_summary(failed) == (
        "Heal on cluster dev failed: 5 of 12 partition moves done, 0.0 MB moved in 3h 0m 5s "
        "(started 2027-01-15 08:00:00 UTC). Why: operator request. Approved by alice (Slack U123). "
        "broker 4 died mid-way.")


def test_store_round_trip_newest_first(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    text = record_action(record(), store_url=url)
    assert text == action_summary(record())
    record_action(record(cluster="other", finished_at=T0 + 10), store_url=url)
    record_action(record(action="rebalance", why=["hard_goal_violation:disk_capacity"], finished_at=T0 + 900),
                  store_url=url)
    with ActionLog(url) as log:
        latest = log.recent("dev")
        assert [(r.action, r.why) for r in latest] == [
            ("rebalance", ["hard_goal_violation:disk_capacity"]), ("heal", ["broker_failure:3"])]
        assert latest[1] == record() and latest[1].id is not None
        assert [r.cluster for r in log.recent(limit=2)] == ["dev", "dev"]


def test_from_the_executors_report():
    report = {"cluster": "dev", "status": "stopped", "message": "stop requested", "started_at": T0,
              "duration_s": 61.5, "done": ["t-0", "t-1"], "undone": [{"partition": "t-2"}], "bytes_moved": 2048}
    r = ActionRecord.from_execution_report(report, "rebalance", ["soft_goal_violation:x"], "auto: policy", "d/r")
    assert (r.moves_planned, r.moves_done, r.bytes_moved, r.outcome, r.duration_s) == (3, 2, 2048, "stopped", 61.5)
    assert r.to_dict()["duration_s"] == 61.5 and r.message == "stop requested" and r.run == "d/r"


def state(alive: dict[int, str], dead: dict[int, str], replicas: list[list[int]]) -> ClusterState:
    brokers = {b: BrokerState(b, None, None, rack, True) for b, rack in alive.items()}
    brokers |= {b: BrokerState(b, None, None, rack, False) for b, rack in dead.items()}
    partitions = [PartitionState("t", i, r, r[0], r) for i, r in enumerate(replicas)]
    return ClusterState("c1", 1, brokers, partitions, {}, {}, "now")


def test_action_topic_replicas_only_on_live_brokers_spread_over_racks():
    racks = {1: "r1", 2: "r2", 3: "r1", 4: "r2"}
    everyone = state(racks, {}, [[1, 2], [1, 2], [3, 4], [1, 4]])
    assert live_replicas(everyone) == [3, 2, 4]  # one per rack first, least loaded first
    one_dead = state({b: r for b, r in racks.items() if b != 3}, {3: "r1"}, [[1, 2], [3, 4]])
    assert live_replicas(one_dead) == [1, 2, 4]  # never 3
    assert live_replicas(state({1: None}, {2: None, 3: None}, [])) == [1]  # RF = live brokers when fewer than 3
    with pytest.raises(MedicError, match="no live broker"):
        live_replicas(state({}, {1: "r1"}, []))
