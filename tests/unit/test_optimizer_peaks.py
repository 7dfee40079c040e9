"""Lowering the cpu and nw_out peaks with leadership once the plan is made: no data moves, no goal ends
worse, no such resource's peak rises, and new leaders are their partitions' first replicas."""

from __future__ import annotations

import numpy as np
import pytest

from kafka_medic.goals import check
from kafka_medic.goals.base import Goal, GoalResult, Thresholds
from kafka_medic.goals.catalog import make_goals
from kafka_medic.model import Partition, apply_proposal
from kafka_medic.model.arrays import CPU, NW_OUT
from kafka_medic.model.placement import Placement
from kafka_medic.optimizer import PlanOptions, plan
from kafka_medic.optimizer.peaks import LoweringPeaks
from kafka_medic.optimizer.search import Search
from kafka_medic.synthetic import Scenario, synthetic_model

from .test_goals import cluster, load


def _two_brokers(goal_names: list[str], thresholds: Thresholds | None = None):
    """Brokers 1 and 2 hold every partition; broker 1 leads p0 (cpu 6) and p1 (cpu 2), broker 2 leads
    p2 (cpu 4). A follower's cpu is 0.3 of its leader's: broker 1 at 9.2, broker 2 at 6.4."""
    parts = [
        Partition("t", 0, [1, 2], 1, load(cpu=6.0, nw_out=0.0)),
        Partition("t", 1, [1, 2], 1, load(cpu=2.0, nw_out=0.0)),
        Partition("t", 2, [2, 1], 2, load(cpu=4.0, nw_out=0.0)),
    ]
    p = Placement.from_model(cluster(parts, brokers=2))
    search = Search(p, np.ones(p.num_brokers, dtype=bool), np.ones(p.arrays.num_partitions, dtype=bool), None, 0)
    goals = make_goals(goal_names, thresholds or Thresholds())
    for goal in goals:
        search.reasons.append(goal.name)
        search.acceptance.add(goal)
        search.acceptance.optimized(goal)
    search._mark(2)  # the plan changed a partition: it is not empty
    return search, goals


def test_the_peak_broker_hands_on_the_leadership_that_leaves_both_brokers_lowest():
    """p0 to broker 2 would take it to 10.6, above broker 1's 9.2; p1 leaves both at 7.8. Then broker 1
    leads p0 alone, which still cannot go: one move. The preferred-leader goal, done, still holds: p1's
    new leader is made its first replica."""
    search, goals = _two_brokers(["cpu_usage_distribution", "preferred_leader_election"])
    p = search.p
    assert p.metrics[:, CPU].round(6).tolist() == [9.2, 6.4]
    assert search.lower_peaks(goals) == 1
    assert p.metrics[:, CPU].round(6).tolist() == [7.8, 7.8]
    assert p.leaders().tolist() == [0, 1, 1]
    assert p.brokers_of(1).tolist() == [1, 0]  # broker 2 first
    assert all(r.satisfied for r in (g.check(p) for g in goals))
    assert search.reason_names()[1] == "cpu_usage_distribution"


class KeepLeaders(Goal):
    """A goal without a constraint that wants broker 1 to lead what it leads (a plugin could)."""

    name, hard = "keep_leaders", False

    def check(self, placement: Placement) -> GoalResult:
        lost = int((placement.leaders()[:2] != 0).sum())
        return GoalResult(self.name, self.hard, lost == 0, float(lost))

    def optimize(self, search) -> None:
        pass


def test_leadership_moves_are_undone_when_a_goal_without_a_constraint_ends_worse():
    search, goals = _two_brokers(["cpu_usage_distribution", "preferred_leader_election"])
    goals.append(KeepLeaders(Thresholds()))
    assert search.lower_peaks(goals) == 0
    assert search.p.leaders().tolist() == [0, 0, 1]
    assert search.p.metrics[:, CPU].round(6).tolist() == [9.2, 6.4]


def test_a_plan_that_changes_nothing_stays_empty():
    search, goals = _two_brokers(["cpu_usage_distribution", "preferred_leader_election"])
    search.reason[:] = -1
    assert search.lower_peaks(goals) == 0
    assert search.p.leaders().tolist() == [0, 0, 1]


def test_without_a_usage_distribution_goal_leadership_stays():
    search, goals = _two_brokers(["leader_replica_distribution", "preferred_leader_election"])
    assert search.lower_peaks(goals) == 0
    assert search.p.leaders().tolist() == [0, 0, 1]


def test_a_goal_fixing_leadership_outright_keeps_it():
    """Once a minimum of leaders per broker holds for a matched topic, no later step moves leadership."""
    goals = ["cpu_usage_distribution", "min_topic_leaders_per_broker"]
    search, goals = _two_brokers(goals, Thresholds(min_leaders_topics="t"))
    assert search.lower_peaks(goals) == 0
    assert search.p.leaders().tolist() == [0, 0, 1]


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(brokers=24, partitions=2000, dead=1, racks=4),
        Scenario(brokers=20, partitions=1500, new=2, heterogeneous=True, racks=3),
    ],
    ids=["dead-broker", "new-brokers-mixed-disks"],
)
def test_a_plan_lowers_leadership_peaks_without_moving_data_or_making_a_goal_worse(scenario, monkeypatch):
    model = synthetic_model(scenario, seed=2, cluster="peaks")
    seen = {}
    lower_peaks = LoweringPeaks.lower_peaks

    def watched(search, goals):
        seen["before"] = [g.check(search.p) for g in goals]
        seen["replicas"] = search.p.partition_brokers(np.arange(search.p.arrays.num_partitions))
        seen["metrics"] = search.p.metrics.copy()
        seen["moves"] = lower_peaks(search, goals)
        seen["after"] = [g.check(search.p) for g in goals]
        after = search.p.partition_brokers(np.arange(search.p.arrays.num_partitions))
        assert (np.sort(after, axis=1) == np.sort(seen["replicas"], axis=1)).all()  # no replica moved
        return seen["moves"]

    monkeypatch.setattr(LoweringPeaks, "lower_peaks", watched)
    proposal = plan(model, PlanOptions(seed=1))
    assert seen["moves"] > 0
    for was, now in zip(seen["before"], seen["after"], strict=True):
        assert now.violation <= was.violation + 1e-9, now.goal
        assert now.satisfied or not was.satisfied, now.goal
    after = Placement.from_model(apply_proposal(model, proposal))
    capacity = after.arrays.capacity
    for r in (CPU, NW_OUT):  # no peak higher, and the plan's leaders are its first replicas
        assert (after.metrics[:, r] / capacity[:, r]).max() <= (seen["metrics"][:, r] / capacity[:, r]).max() + 1e-12
    assert all(r.satisfied for r in check(after) if r.goal == "preferred_leader_election")
