"""Sending replicas home once every goal is optimized: moves the finished plan no longer needs are undone,
largest first, as far as every goal accepts; never past a goal's limit, and not at all when a goal
that cannot be asked would end worse."""

from __future__ import annotations

import numpy as np
import pytest

from kafka_medic.goals import check
from kafka_medic.goals.base import Goal, GoalResult, Thresholds
from kafka_medic.goals.catalog import make_goals
from kafka_medic.model import Partition, apply_proposal
from kafka_medic.model.placement import REPLICAS, Placement
from kafka_medic.optimizer import PlanOptions, plan
from kafka_medic.optimizer.search import Search
from kafka_medic.synthetic import Scenario, synthetic_model

from .test_goals import cluster, load


class StayMoved(Goal):
    """A goal without a constraint that wants replicas away from where they were (a plugin could be)."""

    name, hard = "stay_moved", False

    def check(self, placement: Placement) -> GoalResult:
        home = placement.is_original(np.arange(len(placement.slot_broker))).sum()
        return GoalResult(self.name, self.hard, home == 0, float(home))

    def optimize(self, search) -> None:
        pass


def _counted(counts: dict[int, int]):
    """A search with the count goal accepted, over single-replica partitions numbered broker by broker
    (`counts` per broker id), each a little larger than the one before."""
    parts, i = [], 0
    for broker, n in counts.items():
        for _ in range(n):
            parts.append(Partition("t", i, [broker], broker, load(disk=1.0 + 0.01 * i)))
            i += 1
    p = Placement.from_model(cluster(parts))
    search = Search(p, np.ones(p.num_brokers, dtype=bool), np.ones(p.arrays.num_partitions, dtype=bool), None, 0)
    goals = make_goals(["replica_distribution"], Thresholds())
    for goal in goals:
        search.acceptance.add(goal)
        search.acceptance.optimized(goal)
    return search, goals


def _crowded_then_moved():
    """Broker 1 holds 115, brokers 2-4 hold 95 (mean 100, count limits 90-110). Broker 1's ten smallest
    go, five each to brokers 2 and 3: five more than the count goal needs."""
    search, goals = _counted({1: 115, 2: 95, 3: 95, 4: 95})
    for k in range(10):  # partitions 0-9 are broker 1's (index 0) smallest
        search._move(k, 1 + k % 2)
    return search, goals


def test_moves_the_goals_no_longer_need_are_undone_largest_first_up_to_the_limit():
    search, goals = _crowded_then_moved()
    p = search.p
    assert p.metrics[:, REPLICAS].tolist() == [105, 100, 100, 95] and p.replica_moves == 10
    assert search.send_home(goals) == 5
    # broker 1 takes back what keeps it within the count goal's upper limit (110), the largest first
    assert p.metrics[:, REPLICAS].tolist() == [110, 98, 97, 95]
    assert p.replica_moves == 5
    assert p.slot_broker[:10].tolist() == [1, 2, 1, 2, 1, 0, 0, 0, 0, 0]
    assert goals[0].check(p).satisfied


def test_nothing_goes_home_when_a_goal_without_a_constraint_would_end_worse():
    search, goals = _crowded_then_moved()
    p = search.p
    before = p.slot_broker.copy()
    assert search.send_home([*goals, StayMoved(Thresholds())]) == 0
    assert (p.slot_broker == before).all() and p.replica_moves == 10
    assert p.metrics[:, REPLICAS].tolist() == [105, 100, 100, 95]


def test_a_replica_refused_alone_goes_home_trading_places_with_one_the_plan_moved_there():
    """Broker 1 is at the count goal's upper limit (110) and broker 2 at its lower one (90): partition a
    cannot leave broker 2 for its home, broker 1, alone, nor b (moved onto broker 1) go back to broker 3,
    also at the upper limit. Exchanged, a is home and b takes its place on broker 2: one move fewer."""
    search, goals = _counted({1: 110, 2: 89, 3: 111, 4: 90})
    p = search.p
    a, b = 0, 110 + 89  # broker 1's first partition, broker 3's first
    search._move(a, 1)
    search._move(b, 0)
    assert p.metrics[:, REPLICAS].tolist() == [110, 90, 110, 90] and p.replica_moves == 2
    assert search.send_home(goals) == 1
    assert (p.slot_broker[a], p.slot_broker[b]) == (0, 1)
    assert p.metrics[:, REPLICAS].tolist() == [110, 90, 110, 90] and p.replica_moves == 1


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(brokers=20, partitions=1500, new=2, heterogeneous=True, racks=3),
        Scenario(brokers=24, partitions=2000, dead=1, racks=4),
    ],
    ids=["new-brokers-mixed-disks", "dead-broker"],
)
def test_a_plan_ships_no_move_that_could_go_home(scenario, monkeypatch):
    """Sending home leaves every goal as it was or better, and what it leaves has no replica that could
    go back alone: the plan is as small as sending home makes it."""
    model = synthetic_model(scenario, seed=3, cluster="home")
    counts = []
    send_home = Search.send_home

    def twice(search, goals):  # the search's own pass, then one more on what it left
        before = [goal.check(search.p) for goal in goals]
        counts.append(send_home(search, goals))
        for was, now in zip(before, [goal.check(search.p) for goal in goals], strict=True):
            assert now.violation <= was.violation + 1e-9, now.goal  # no goal worse for sending home
            assert now.satisfied or not was.satisfied, now.goal
        slots, homes = search._homes()
        again: list = []
        search._send_home_alone(slots, homes, np.ones(len(slots), dtype=bool), again)
        counts.append(len(again))
        return counts[0]

    monkeypatch.setattr(Search, "send_home", twice)
    proposal = plan(model, PlanOptions(seed=1))
    assert counts[0] > 0 and counts[1] == 0
    assert not any(r.hard and not r.satisfied for r in check(apply_proposal(model, proposal)))
