"""Goal checks: each goal flags what it should, names where, and the defaults are the spec's."""

from __future__ import annotations

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.goals import DEFAULT_GOALS, HARD_GOALS, Thresholds, check
from kafka_medic.model import Broker, ClusterModel, Partition
from kafka_medic.optimizer import balancedness

CAPACITY = {"disk": 1000.0, "nw_in": 1000.0, "nw_out": 1000.0, "cpu": 100.0}


def load(disk=10.0, nw_in=10.0, nw_out=10.0, cpu=1.0):
    return {"disk": disk, "nw_in": nw_in, "nw_out": nw_out, "cpu": cpu}


def cluster(partitions, brokers=4, racks=None, flags=None):
    """`brokers` brokers with ids 1..n; racks cycle through `racks` names when given."""
    return ClusterModel(
        "test",
        [
            Broker(
                b,
                racks[(b - 1) % len(racks)] if racks else None,
                capacity=dict(CAPACITY),
                **(flags or {}).get(b, {}),
            )
            for b in range(1, brokers + 1)
        ],
        partitions,
        "2026-01-01T00:00:00Z",
    )


def result(model, goal, **kwargs):
    return {r.goal: r for r in check(model, **kwargs)}[goal]


def even(n=8, brokers=4, rf=2, **kw):
    """A perfectly balanced cluster: partition i on brokers i, i+1 (mod n), led by the first."""
    parts = [
        Partition("t", i, [(i + k) % brokers + 1 for k in range(rf)], i % brokers + 1, load(**kw))
        for i in range(n)
    ]
    return parts


def test_default_goal_list_is_the_spec_order():
    assert (
        DEFAULT_GOALS[:6]
        == HARD_GOALS
        == (
            "rack_aware",
            "replica_capacity",
            "disk_capacity",
            "network_inbound_capacity",
            "network_outbound_capacity",
            "cpu_capacity",
        )
    )
    assert len(DEFAULT_GOALS) == 16 and DEFAULT_GOALS[-1] == "preferred_leader_election"


def test_balanced_cluster_satisfies_every_goal():
    results = check(cluster(even()))
    assert [r.goal for r in results if not r.satisfied] == []
    assert balancedness(results) == 100.0


def test_rack_aware_flags_two_replicas_in_one_rack():
    model = cluster([Partition("t", 0, [1, 3], 1, load())], racks=["a", "b"])  # brokers 1 and 3: rack a
    r = result(model, "rack_aware")
    assert not r.satisfied and r.partitions == ["t-0"] and r.violation == 1


def test_rack_aware_degrades_when_racks_are_fewer_than_replicas():
    # RF 3 over 2 racks: at most ceil(3/2) = 2 replicas per rack is the best possible
    ok = cluster([Partition("t", 0, [1, 2, 3], 1, load())], racks=["a", "b"])
    bad = cluster([Partition("t", 0, [1, 3, 5], 1, load())], brokers=6, racks=["a", "b"])
    assert result(ok, "rack_aware").satisfied
    assert not result(bad, "rack_aware").satisfied


def test_brokers_without_rack_are_racks_of_their_own():
    assert result(cluster([Partition("t", 0, [1, 2], 1, load())]), "rack_aware").satisfied


def test_capacity_goal_names_broker_and_limit():
    parts = even() + [Partition("big", 0, [2], 2, load(disk=900))]
    r = result(cluster(parts), "disk_capacity")
    assert not r.satisfied and r.brokers == [2]
    assert "broker 2: disk 94% (limit 80%)" in r.detail


def test_cpu_capacity_uses_its_own_threshold():
    parts = [Partition("t", 0, [1], 1, load(cpu=75))]
    assert not result(cluster(parts), "cpu_capacity").satisfied  # 75% > 70%
    assert result(cluster(parts), "cpu_capacity", thresholds=Thresholds(capacity={**CAPACITY, "cpu": 0.8}))


def test_dead_broker_holding_replicas_violates_capacity_goals():
    model = cluster(even(), flags={3: {"alive": False}})
    r = result(model, "replica_capacity")
    assert not r.satisfied and r.brokers == [3] and "broker 3 (dead) still holds" in r.detail


def test_new_empty_broker_violates_distribution_goals():
    model = cluster(even(brokers=4), brokers=5)
    for goal in ("replica_distribution", "disk_usage_distribution", "leader_replica_distribution"):
        r = result(model, goal)
        assert not r.satisfied and 5 in r.brokers, goal


def test_usage_distribution_is_relative_to_capacity():
    parts = [Partition("t", i, [b], b, load(disk=100 * b)) for i, b in enumerate((1, 2))]
    model = cluster(parts, brokers=2)
    model.brokers[1].capacity["disk"] = 2000.0  # twice the disk, twice the data: same utilisation
    assert result(model, "disk_usage_distribution").satisfied


def test_topic_replica_distribution_flags_a_crowded_topic():
    parts = even() + [Partition("hot", i, [1], 1, load()) for i in range(4)]
    r = result(cluster(parts), "topic_replica_distribution")
    assert not r.satisfied and r.partitions == ["hot"]


def test_preferred_leader_election():
    parts = even()
    parts[0].leader = parts[0].replicas[1]
    r = result(cluster(parts), "preferred_leader_election")
    assert not r.satisfied and r.partitions == ["t-0"]


def test_potential_network_outbound():
    # broker 2 follows a partition whose leader sends 900 KB/s: if it took over, 90% > 80%
    r = result(cluster([Partition("t", 0, [1, 2], 1, load(nw_out=900))]), "potential_network_outbound")
    assert not r.satisfied and r.brokers == [1, 2]


def test_goal_subset_and_unknown_goal():
    assert [r.goal for r in check(cluster(even()), goals=["cpu_capacity", "rack_aware"])] == [
        "cpu_capacity",
        "rack_aware",
    ]
    with pytest.raises(MedicError, match="unknown goal 'nope'"):
        check(cluster(even()), goals=["nope"])


def test_balancedness_weighs_hard_and_early_goals_more():
    results = check(cluster(even()))
    results[0].satisfied = False  # rack_aware: hard and first
    first = balancedness(results)
    results[0].satisfied = True
    results[-1].satisfied = False  # preferred_leader_election: soft and last
    last = balancedness(results)
    assert 0 < first < last < 100
