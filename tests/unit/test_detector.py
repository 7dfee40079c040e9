"""Anomaly finders on plain cluster states: what each flags, what it leaves to another finder, stable keys."""

from __future__ import annotations

import pytest

from kafka_medic.detector import DEFAULT_RULES, HEAL, REBALANCE, find_anomalies, parse_rules, remediation
from kafka_medic.errors import MedicError
from kafka_medic.kafka.state import BrokerState, ClusterState, PartitionState
from kafka_medic.model import Broker, ClusterModel, Partition

NOW = 1_800_000_000.0


def state(partitions, dead=(), brokers=4, min_isr=None):
    return ClusterState(
        cluster_id="c1",
        controller_id=1,
        brokers={
            b: BrokerState(b, "h", 9092, f"r{b % 2}", alive=b not in dead, log_dirs={"/d": (10**12, 10**11)})
            for b in range(1, brokers + 1)
        },
        partitions=partitions,
        topic_configs={t: {"min.insync.replicas": str(v)} for t, v in (min_isr or {}).items()},
        broker_configs={},
        taken_at="2027-01-15T08:00:00Z",
    )


def part(topic, n, replicas, leader=None, isr=None, **kw):
    leader = replicas[0] if leader is None else leader
    return PartitionState(topic, n, list(replicas), leader if leader != -1 else None,
                          list(replicas if isr is None else isr), **kw)


def kinds(anomalies):
    return {a.key: a for a in anomalies}


def test_a_healthy_cluster_has_no_anomalies():
    assert find_anomalies(state([part("t", 0, [1, 2, 3]), part("t", 1, [2, 3, 4])]), now=NOW) == []


def test_dead_broker_is_one_critical_anomaly_naming_its_offline_partitions():
    s = state([part("t", 0, [3, 1], isr=[1]), part("t", 1, [3], leader=-1, isr=[])], dead=[3])
    found = kinds(find_anomalies(s, now=NOW))
    failure = found["broker_failure:3"]
    assert failure.severity == "critical" and failure.brokers == [3] and failure.first_seen == NOW
    assert failure.details["replicas"] == 2 and failure.details["offline_partitions"] == ["t-1"]
    assert failure.summary == "broker 3 (rack r1) is dead; it holds 2 replicas; offline partitions: 1"
    assert found["offline_partitions"].details == {"partitions": ["t-1"], "count": 1, "topics": ["t"]}
    # t-0 lost its follower on the dead broker: that is the broker failure, not a slow follower
    assert "under_replicated_partitions" not in found


def test_offline_replicas_on_a_live_broker_are_a_disk_failure():
    s = state([
        part("t", 0, [1, 2], isr=[1], offline_replicas=[2]),
        part("t", 1, [2, 4], isr=[4], leader=4, offline_replicas=[2]),
        part("u", 0, [3, 1], isr=[1], leader=1, offline_replicas=[3]),
    ], dead=[3])
    found = kinds(find_anomalies(s, now=NOW))
    disk = found["disk_failure:2"]
    assert disk.details["offline_replicas"] == ["t-0", "t-1"] and disk.details["count"] == 2
    assert disk.details["online_log_dirs"] == ["/d"] and disk.severity == "critical"
    assert "disk_failure:3" not in found and "broker_failure:3" in found


def test_only_live_online_followers_out_of_sync_are_under_replicated():
    s = state([
        part("t", 0, [1, 2, 3], isr=[1, 2]),  # 3 lags
        part("t", 1, [1, 2, 4], isr=[1, 2], adding_replicas=[4]),  # 4 is still copying: a reassignment
        part("u", 0, [1, 2], isr=[1]),  # below min.insync.replicas 2
    ], min_isr={"u": 2})
    urp = kinds(find_anomalies(s, now=NOW))["under_replicated_partitions"]
    assert urp.details == {"partitions": ["t-0", "u-0"], "count": 2, "below_min_isr": ["u-0"]}
    assert urp.brokers == [2, 3] and urp.severity == "critical"
    assert urp.summary.endswith("; 1 below min.insync.replicas")


def test_partitions_short_of_their_topics_replication_factor():
    s = state([
        part("t", 0, [1, 2, 3]), part("t", 1, [2, 3, 4]), part("t", 2, [3, 4]),
        part("rf1", 0, [1]), part("rf1", 1, [2]),  # created with RF 1 on purpose: not flagged
        part("tie", 0, [1, 2]), part("tie", 1, [3]),  # a tie counts as the larger factor
        part("moving", 0, [1, 2, 3]), part("moving", 1, [1], adding_replicas=[1]),
    ])
    found = [a for a in find_anomalies(s, now=NOW) if a.kind == "topic_replication_factor"]
    assert [a.key for a in found] == ["topic_replication_factor:t", "topic_replication_factor:tie"]
    assert found[0].details == {"topic": "t", "intended_rf": 3, "partitions": ["t-2 (RF 2)"], "count": 1}
    assert found[0].brokers == [3, 4]


def model(disk_on_1: float) -> ClusterModel:
    cap = {"disk": 1000.0, "nw_in": 1000.0, "nw_out": 1000.0, "cpu": 100.0}
    load = {"disk": disk_on_1, "nw_in": 1.0, "nw_out": 1.0, "cpu": 1.0}
    return ClusterModel("c1", [Broker(b, f"r{b % 2}", capacity=dict(cap)) for b in (1, 2, 3, 4)],
                        [Partition("t", 0, [1, 2], 1, load)], "2027-01-15T08:00:00Z")


def test_goal_violations_only_when_asked_for_and_the_cluster_is_healthy():
    s = state([part("t", 0, [1, 2])])
    assert find_anomalies(s, model=model(900.0), now=NOW) == []  # no goals named: no goal checks
    found = kinds(find_anomalies(s, goals=["disk_capacity", "disk_usage_distribution"], model=model(900.0), now=NOW))
    hard = found["hard_goal_violation:disk_capacity"]
    assert hard.severity == "warning" and hard.brokers == [1, 2] and hard.details["hard"] is True
    soft = found["soft_goal_violation:disk_usage_distribution"]
    assert soft.severity == "info" and soft.summary.startswith("soft goal disk_usage_distribution is violated: ")
    # a dead broker, or moves in flight, come first: no goal checks then
    dead = state([part("t", 0, [1, 2], isr=[1])], dead=[2])
    assert all("goal" not in a.kind for a in find_anomalies(dead, goals=["disk_capacity"], model=model(900.0)))
    moving = state([part("t", 0, [1, 2, 3], adding_replicas=[3])])
    assert find_anomalies(moving, goals=["disk_capacity"], model=model(900.0)) == []


def test_goals_without_a_model_use_the_states_sizes():
    s = state([part("t", 0, [1, 2], sizes={1: 10**12, 2: 10**12})])  # 1 TB on 1 TB disks
    assert "hard_goal_violation:disk_capacity" in kinds(find_anomalies(s, goals=["disk_capacity"]))


def test_keys_are_stable_across_runs_and_anomalies_round_trip_as_dicts():
    s = state([part("t", 0, [3, 1], isr=[1])], dead=[3])
    first, second = find_anomalies(s, now=NOW), find_anomalies(s, now=NOW + 60)
    assert [a.key for a in first] == [a.key for a in second] == ["broker_failure:3"]
    assert type(first[0]).from_dict(first[0].to_dict()) == first[0]


def test_remediation_rules():
    assert remediation("broker_failure") == HEAL and remediation("hard_goal_violation") == REBALANCE
    assert remediation("offline_partitions") is None and remediation("topic_replication_factor") is None
    rules = parse_rules({"broker_failure": {"act_after_s": 600}, "soft_goal_violation": {"action": None}})
    assert rules["broker_failure"].act_after_s == 600 and rules["broker_failure"].alert_after_s == 60
    assert rules["soft_goal_violation"].action is None and rules["disk_failure"] == DEFAULT_RULES["disk_failure"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"broker_fail": {}}, "remediation rule 'broker_fail': unknown anomaly kind"),
        ({"broker_failure": 5}, "remediation rule 'broker_failure': expected a mapping"),
        ({"broker_failure": {"heal_after": 1}}, "remediation rule broker_failure.heal_after: unknown setting"),
        ({"broker_failure": {"action": "reboot"}}, "broker_failure.action: 'reboot' is not one of heal, rebalance"),
        ({"broker_failure": {"act_after_s": -1}}, "broker_failure.act_after_s: -1 is not a number of seconds"),
        ({"broker_failure": {"alert_after_s": "1m"}}, "broker_failure.alert_after_s: '1m' is not a number"),
    ],
)
def test_bad_rules_are_one_line_errors_naming_the_key(data, message):
    with pytest.raises(MedicError, match=message.replace("(", r"\(")):
        parse_rules(data)
