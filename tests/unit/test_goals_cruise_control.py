"""Cruise Control's goals beyond the spec's sixteen (opt-in): rack_aware_distribution,
min_topic_leaders_per_broker and broker_set_aware. Each on a small model with a known answer: violated
before, met after, hard goals kept, and the goals after it not undoing it."""

from __future__ import annotations

import json

import pytest

from kafka_medic.cli import main
from kafka_medic.errors import MedicError
from kafka_medic.goals import DEFAULT_GOALS, HARD_GOALS, Thresholds, check, goal_names
from kafka_medic.model import ModelError, Partition, load_model, parse_model, save_model
from kafka_medic.model.broker_sets import BrokerSets
from kafka_medic.model.files import model_to_dict
from kafka_medic.optimizer import PlanError, PlanOptions, plan
from kafka_medic.synthetic import Scenario, synthetic_model

from .test_goals import cluster, even, load, result

NEW = ("rack_aware_distribution", "min_topic_leaders_per_broker", "broker_set_aware")
BALANCE = ["replica_distribution", "disk_usage_distribution", "leader_replica_distribution"]


def after(model, proposal):
    """The model with the proposal applied."""
    moved = {(m.topic, m.partition): m for m in proposal.moves}
    for p in model.partitions:
        move = moved.get((p.topic, p.partition))
        if move:
            p.replicas, p.leader = list(move.new_replicas), move.new_leader
    return model


def test_the_new_goals_are_built_in_but_not_in_the_default_list():
    assert len(DEFAULT_GOALS) == 16 and not set(NEW) & set(DEFAULT_GOALS) and not set(NEW) & set(HARD_GOALS)
    assert set(NEW) <= set(goal_names())
    assert [r.goal for r in check(cluster(even()), goals=list(NEW))] == list(NEW)
    assert all(r.satisfied for r in check(cluster(even()), goals=list(NEW)))  # no-ops unless configured


# ---- rack_aware_distribution ---------------------------------------------------------------------

RACKS3 = ["r1", "r2", "r3"]  # brokers 1..6: r1 r2 r3 r1 r2 r3


def test_rack_distribution_wants_every_rack_when_replicas_outnumber_racks():
    # RF 4 on 3 racks as 2-2-0: rack_aware's cap (2 per rack) holds, but rack r3 has no copy
    model = cluster([Partition("t", 0, [1, 4, 2, 5], 1, load())], brokers=6, racks=RACKS3)
    assert result(model, "rack_aware", goals=["rack_aware", "rack_aware_distribution"]).satisfied
    uneven = result(model, "rack_aware_distribution", goals=["rack_aware_distribution"])
    assert not uneven.satisfied and uneven.violation == 1 and uneven.partitions == ["t-0"]
    spread = cluster([Partition("t", 0, [1, 4, 2, 3], 1, load())], brokers=6, racks=RACKS3)  # 2-1-1
    assert result(spread, "rack_aware_distribution", goals=["rack_aware_distribution"]).satisfied


def test_rack_distribution_moves_one_follower_into_the_empty_rack():
    model = cluster([Partition("t", 0, [1, 4, 2, 5], 1, load())], brokers=6, racks=RACKS3)
    proposal = plan(model, PlanOptions(goals=["rack_aware", "rack_aware_distribution", *BALANCE]))
    assert proposal.stats["num_replica_moves"] == 1
    new = proposal.moves[0].new_replicas
    assert {3, 6} & set(new) and proposal.moves[0].new_leader == 1  # a follower went to r3
    assert all(r.satisfied for r in check(after(model, proposal), goals=["rack_aware", "rack_aware_distribution"]))


def test_rack_distribution_holds_through_a_heal_and_every_default_goal():
    scenario = Scenario(brokers=12, partitions=300, replication_factor=4, racks=3, dead=1, new=2)
    model = synthetic_model(scenario, seed=3)
    goals = ["rack_aware_distribution", *DEFAULT_GOALS]
    proposal = plan(model, PlanOptions(goals=goals))
    results = {r.goal: r for r in check(after(model, proposal), goals=goals)}
    assert results["rack_aware_distribution"].satisfied
    assert all(results[g].satisfied for g in HARD_GOALS)
    assert proposal.stats["num_replica_moves"] > 0  # the later goals did move replicas


def test_rack_distribution_unmet_names_the_stuck_partition():
    model = cluster([Partition("t", 0, [1, 4, 2, 5], 1, load())], brokers=6, racks=RACKS3)
    with pytest.raises(PlanError, match="rack_aware_distribution.*excluded from moves: t-0"):
        plan(model, PlanOptions(goals=["rack_aware_distribution"], excluded_topics="t"))


# ---- min_topic_leaders_per_broker ----------------------------------------------------------------

MONITOR = Thresholds(min_leaders_topics="__monitor.*")


def monitor_cluster():
    """4 brokers; `__monitor` (8 partitions) led only by brokers 1 and 2, `t` balanced."""
    parts = even(8)
    parts += [Partition("__monitor", i, [i % 2 + 1, i % 4 + 1 if i % 4 > 1 else 3], i % 2 + 1, load(1, 1, 1, 0.1))
              for i in range(8)]
    return cluster(parts)


def test_min_topic_leaders_counts_missing_leaders_of_matching_topics_only():
    model = monitor_cluster()
    assert result(model, "min_topic_leaders_per_broker", goals=["min_topic_leaders_per_broker"]).satisfied
    missing = result(model, "min_topic_leaders_per_broker", goals=["min_topic_leaders_per_broker"],
                     thresholds=MONITOR)
    assert not missing.satisfied and missing.violation == 2 and missing.brokers == [3, 4]
    two = Thresholds(min_leaders_topics="__monitor", min_topic_leaders=2)
    assert result(model, "min_topic_leaders_per_broker", goals=["min_topic_leaders_per_broker"],
                  thresholds=two).violation == 4
    excluded = cluster(monitor_cluster().partitions, flags={4: {"excluded": True}})
    assert result(excluded, "min_topic_leaders_per_broker", goals=["min_topic_leaders_per_broker"],
                  thresholds=MONITOR).brokers == [3]


def test_min_topic_leaders_moves_leadership_not_data_and_later_goals_keep_it():
    alone = plan(monitor_cluster(), PlanOptions(goals=["min_topic_leaders_per_broker"], thresholds=MONITOR))
    assert alone.stats["data_to_move_mb"] == 0 and alone.stats["num_leader_moves"] == 2
    model = monitor_cluster()
    goals = ["rack_aware", "min_topic_leaders_per_broker", *BALANCE, "preferred_leader_election"]
    proposal = plan(model, PlanOptions(goals=goals, thresholds=MONITOR))
    assert proposal.stats["num_replica_moves"] > 0  # the balancing goals after it moved replicas
    results = {r.goal: r for r in check(after(model, proposal), goals=goals, thresholds=MONITOR)}
    assert results["min_topic_leaders_per_broker"].satisfied and results["rack_aware"].satisfied


def test_min_topic_leaders_brings_a_leader_replica_to_a_broker_without_one():
    parts = even(8) + [Partition("__monitor", i, [i % 3 + 1, (i + 1) % 3 + 1], 1 + i % 3, load(1, 1, 1, 0.1))
                       for i in range(6)]
    model = cluster(parts)  # broker 4 holds no __monitor replica
    proposal = plan(model, PlanOptions(goals=["min_topic_leaders_per_broker", *BALANCE], thresholds=MONITOR))
    led = [m for m in proposal.moves if m.topic == "__monitor" and m.new_leader == 4]
    assert len(led) == 1 and 4 not in led[0].old_replicas
    results = check(after(model, proposal), goals=["min_topic_leaders_per_broker"], thresholds=MONITOR)
    assert results[0].satisfied


def test_min_topic_leaders_fails_the_plan_when_the_topic_has_too_few_partitions():
    parts = even(8) + [Partition("__monitor", i, [1, 2], 1, load()) for i in range(3)]
    with pytest.raises(PlanError, match="__monitor has 3 movable online partitions, fewer than 1 leaders x 4"):
        plan(cluster(parts), PlanOptions(goals=["min_topic_leaders_per_broker"], thresholds=MONITOR))


def test_min_topic_leaders_rejects_a_bad_regex():
    with pytest.raises(MedicError, match="invalid regex"):
        check(cluster(even()), goals=["min_topic_leaders_per_broker"], thresholds=Thresholds(min_leaders_topics="("))


# ---- broker_set_aware ----------------------------------------------------------------------------

SETS = BrokerSets({"blue": [1, 2], "green": [3, 4]}, {"orders": "blue", "metrics-.*": "green"})


def pinned_cluster():
    parts = even(8)
    parts += [Partition("orders", i, [1, 3] if i == 0 else [1, 2], 1, load(50, 5, 5, 1)) for i in range(2)]
    parts += [Partition("metrics-a", 0, [3, 4], 3, load())]
    model = cluster(parts)
    model.broker_sets = SETS
    return model


def test_broker_sets_round_trip_in_the_model_file_and_reject_unknown_names(tmp_path):
    model = pinned_cluster()
    save_model(model, tmp_path / "m.json")
    assert load_model(tmp_path / "m.json").broker_sets == SETS
    data = model_to_dict(model)
    del data["broker_sets"]
    assert parse_model(data).broker_sets is None  # optional
    bad = model_to_dict(model)
    bad["broker_sets"]["sets"]["blue"] = [1, 9]
    with pytest.raises(ModelError, match="set 'blue' names unknown broker 9"):
        parse_model(bad)
    bad = model_to_dict(model)
    bad["broker_sets"]["topics"]["orders"] = "red"
    with pytest.raises(ModelError, match="pinned to unknown set 'red'"):
        parse_model(bad)


def test_broker_set_aware_counts_replicas_outside_their_set():
    model = pinned_cluster()
    found = result(model, "broker_set_aware", goals=["broker_set_aware"])
    assert not found.satisfied and found.violation == 1 and found.brokers == [3] and found.partitions == ["orders-0"]
    model.partitions[-1].replicas = [1, 4]  # metrics-a matched by the regex: broker 1 is not green
    assert result(model, "broker_set_aware", goals=["broker_set_aware"]).violation == 2
    model.broker_sets = None
    assert result(model, "broker_set_aware", goals=["broker_set_aware"]).satisfied


def test_broker_set_aware_moves_into_the_set_and_later_goals_stay_inside():
    model = pinned_cluster()
    goals = ["rack_aware", "broker_set_aware", *BALANCE]
    proposal = plan(model, PlanOptions(goals=goals))
    orders0 = next(m for m in proposal.moves if (m.topic, m.partition) == ("orders", 0))
    assert orders0.new_replicas == [1, 2]
    planned = after(model, proposal)
    assert all(r.satisfied for r in check(planned, goals=["rack_aware", "broker_set_aware"]))
    assert all(set(p.replicas) <= {1, 2} for p in planned.partitions if p.topic == "orders")


def test_broker_set_aware_moves_into_the_set_under_rack_aware_distribution():
    """RF 2 over 3 racks, already spread: orders-0 on brokers 2 (rack b) and 3 (rack c) must end on blue,
    brokers 1 (rack a) and 5 (rack b). A move into the set that keeps the spread even is no worse for
    rack_aware_distribution; only its own step needs a move that improves the spread."""
    racks = ["a", "b", "c"]
    parts = [Partition("orders", 0, [2, 3], 2, load(50, 5, 5, 1))]
    parts += [Partition("t", i, [b, b % 6 + 1], b, load()) for i, b in enumerate(range(1, 7))]
    model = cluster(parts, brokers=6, racks=racks)  # racks a, b, c, a, b, c
    model.broker_sets = BrokerSets({"blue": [1, 5]}, {"orders": "blue"})
    goals = ["rack_aware_distribution", "broker_set_aware"]
    planned = after(model, plan(model, PlanOptions(goals=goals)))
    assert sorted(next(p for p in planned.partitions if p.topic == "orders").replicas) == [1, 5]
    assert all(r.satisfied for r in check(planned, goals=goals))


@pytest.mark.parametrize(
    ("rack_goal", "why"),
    [
        ("rack_aware", r"rack awareness allows 1 replica\(s\) of orders-0 per rack, and its broker set's "
                       r"brokers able to receive are in 1 rack\(s\): 1 of its 2 replicas fit"),
        ("rack_aware_distribution", r"rack_aware_distribution wants 0-1 replicas of orders-0 in each of the 3 "
                                    r"racks, and its broker set's brokers able to receive are in 1: 1 of its 2"),
    ],
)
def test_a_broker_set_in_too_few_racks_is_named_with_the_rack_goal_in_the_way(rack_goal, why):
    """Blue is brokers 1 and 4, both in rack a: RF 2 may not put both replicas there. The error says
    which rule and what the set lacks, not only that no move was accepted."""
    parts = [Partition("orders", 0, [2, 3], 2, load(50, 5, 5, 1))]
    parts += [Partition("t", i, [b, b % 6 + 1], b, load()) for i, b in enumerate(range(1, 7))]
    model = cluster(parts, brokers=6, racks=["a", "b", "c"])
    model.broker_sets = BrokerSets({"blue": [1, 4]}, {"orders": "blue"})
    with pytest.raises(PlanError, match=why):
        plan(model, PlanOptions(goals=[rack_goal, "broker_set_aware"]))


def test_broker_set_aware_fails_when_a_set_is_smaller_than_the_replication_factor():
    model = pinned_cluster()
    model.broker_sets = BrokerSets({"one": [1]}, {"orders": "one"})
    with pytest.raises(PlanError, match="broker set of orders-0 has 1 brokers that can receive, fewer than its 2"):
        plan(model, PlanOptions(goals=["broker_set_aware"]))


def test_plan_cli_reads_broker_sets_and_min_leaders_flags(tmp_path, capsys):
    model = pinned_cluster()
    model.broker_sets = None
    save_model(model, tmp_path / "m.json")
    (tmp_path / "sets.json").write_text(json.dumps(SETS.to_dict()))
    code = main(["plan", "--model", str(tmp_path / "m.json"), "--broker-sets", str(tmp_path / "sets.json"),
                 "--goals", "broker_set_aware,min_topic_leaders_per_broker", "--min-leaders-topics", "t",
                 "--json"])
    assert code == 0
    stats = json.loads(capsys.readouterr().out)["stats"]
    assert "broker_set_aware" in stats["violated_goals_before"]
    assert not stats["violated_goals_after"]
    assert stats["options"]["thresholds"]["min_leaders_topics"] == "t"


def test_a_band_a_broker_set_cannot_reach_is_reported():
    """"orders" (4 partitions of 100 disk, RF 2: 800) is pinned to brokers 1 and 2, whose share of the
    1,000 disk in all is 500: the disk goal's band (at most 1.1x the mean) cannot hold on them. It is
    reported with the set, and the plan keeps all of "orders" there: 400 on each."""
    parts = [Partition("orders", i, [1, 2] if i < 3 else [1, 3], 1, load(100, 5, 5, 1)) for i in range(4)]
    parts += [Partition("other", i, [3, 4], 3, load(50, 5, 5, 1)) for i in range(2)]
    model = cluster(parts)
    model.broker_sets = BrokerSets({"blue": [1, 2]}, {"orders": "blue"})
    proposal = plan(model, PlanOptions(goals=["broker_set_aware", "disk_usage_distribution"]))
    (infeasible,) = proposal.stats["infeasible_goals"]
    assert infeasible["goal"] == "disk_usage_distribution"
    assert infeasible["why"].startswith("the broker set of brokers 1, 2 must hold at least 800 disk")
    disk = {b: 0.0 for b in range(1, 5)}
    for p in after(model, proposal).partitions:
        for b in p.replicas:
            disk[b] += p.load["disk"]
    assert disk == {1: 400.0, 2: 400.0, 3: 100.0, 4: 100.0}
