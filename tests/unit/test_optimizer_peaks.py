"""Lowering peaks once the plan is made: every usage resource with replicas, densest first, level by level,
a level some broker cannot reach undone, within a move budget; cpu and nw_out with leadership, no data
moved, new leaders their partitions' first replicas. No goal ends worse and no usage resource's peak
rises."""

from __future__ import annotations

import numpy as np
import pytest

from kafka_medic.goals import check
from kafka_medic.goals.base import Goal, GoalResult, Thresholds
from kafka_medic.goals.catalog import make_goals
from kafka_medic.model import Partition, apply_proposal
from kafka_medic.model.arrays import CPU, DISK, NW_IN, NW_OUT
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
    return _planned(parts, 2, goal_names, thresholds)


def _planned(
    parts: list[Partition], brokers: int, goal_names: list[str], thresholds: Thresholds | None = None, moves: int = 100
):
    """A search over `parts` on `brokers` brokers as a plan leaves it: every goal optimized, and a
    partition changed, so that the plan is not empty. As if the plan had made `moves` replica moves: the
    step may add a share of them."""
    p = Placement.from_model(cluster(parts, brokers=brokers))
    search = Search(p, np.ones(p.num_brokers, dtype=bool), np.ones(p.arrays.num_partitions, dtype=bool), None, 0)
    goals = make_goals(goal_names, thresholds or Thresholds())
    for goal in goals:
        search.reasons.append(goal.name)
        search.acceptance.add(goal)
        search.acceptance.optimized(goal)
    search._mark(2)  # the plan changed a partition: it is not empty
    p.replica_moves = moves
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


def _one_replica(broker: int, disk: float, nw_in: float, n: int) -> Partition:
    return Partition("t", n, [broker], broker, load(disk=disk, nw_in=nw_in, nw_out=0.0, cpu=0.0))


def test_the_nw_in_peak_sheds_a_replica_dense_in_nw_in_and_keeps_a_sparse_one():
    """nw_in 108, 100, 100, 92 (the aim is 109): broker 1 is inside the band, above the level this step
    brings it to (102.25). Of its two replicas of nw_in 8, the one of 0.5 GB goes to broker 4 and
    levels the cluster; the one of 100 GB stays (it carries 0.03 of the mean replica's nw_in per GB,
    under the 3 asked). Filler replicas cannot move: each would take its destination above the peak."""
    parts = [
        _one_replica(1, 0.5, 8.0, 0), _one_replica(1, 100.0, 8.0, 1), _one_replica(1, 10.0, 92.0, 2),
        _one_replica(2, 10.0, 100.0, 3), _one_replica(3, 10.0, 100.0, 4), _one_replica(4, 10.0, 92.0, 5),
    ]
    search, goals = _planned(parts, 4, ["network_inbound_usage_distribution", "preferred_leader_election"])
    p = search.p
    assert search.lower_peaks(goals) == 1
    assert p.metrics[:, NW_IN].round(6).tolist() == [100.0, 100.0, 100.0, 100.0]
    assert p.partition_brokers(np.arange(6))[:, 0].tolist() == [3, 0, 0, 1, 2, 3]
    assert search.reason_names()[0] == "network_inbound_usage_distribution"


def test_a_replica_of_middling_density_moves_when_no_denser_one_can():
    """As above, but broker 1's small replica is of 0.5 GB in a cluster of 10 GB ones: it carries 1.6x
    the mean replica's nw_in per GB, under the 3 asked first but over the 1 asked then, so it moves and
    levels the cluster (a 3 alone would leave 108)."""
    parts = [
        _one_replica(1, 0.5, 8.0, 0), _one_replica(1, 10.0, 100.0, 1),
        _one_replica(2, 10.0, 100.0, 2), _one_replica(3, 10.0, 100.0, 3), _one_replica(4, 10.0, 92.0, 4),
    ]
    search, goals = _planned(parts, 4, ["network_inbound_usage_distribution"])
    assert search.lower_peaks(goals) == 1
    assert search.p.metrics[:, NW_IN].round(6).tolist() == [100.0, 100.0, 100.0, 100.0]


def test_the_disk_peak_is_lowered_too():
    """Disk 108, 100, 100, 92: the 8 GB replica goes to broker 4 (a GB off the peak costs a GB moved, so
    only the level's own need moves); the 100 GB one cannot, it would take broker 4 to 192."""
    parts = [
        Partition("t", n, [b], b, load(disk=d, nw_in=0.0, nw_out=0.0, cpu=0.0))
        for n, (b, d) in enumerate([(1, 8.0), (1, 100.0), (2, 100.0), (3, 100.0), (4, 92.0)])
    ]
    search, goals = _planned(parts, 4, ["disk_usage_distribution"])
    assert search.lower_peaks(goals) == 1
    assert search.p.metrics[:, DISK].round(6).tolist() == [100.0, 100.0, 100.0, 100.0]


def test_the_move_budget_ends_the_levels():
    """Broker 1 at nw_in 108 sheds replicas of nw_in 1, one a level (107.07, 106.11, 105.14, 104.18 ...).
    The plan made 27 replica moves, so the step may add 4 (15%): four levels, and the fifth, whose move
    would be the fifth, is undone. Broker 1 ends at 104, not at the last level's 102. A plan that moved
    no replica (leadership alone) gets none."""
    parts = [_one_replica(1, 0.01, 1.0, n) for n in range(8)] + [
        _one_replica(1, 10.0, 100.0, 8), _one_replica(2, 10.0, 100.0, 9), _one_replica(3, 10.0, 100.0, 10),
        _one_replica(4, 10.0, 92.0, 11),
    ]
    search, goals = _planned(parts, 4, ["network_inbound_usage_distribution"], moves=27)
    assert search.lower_peaks(goals) == 4
    nw_in = search.p.metrics[:, NW_IN].round(6)
    assert nw_in[0] == 104.0 and nw_in.max() == 104.0 and nw_in.sum() == 400.0
    search, goals = _planned(parts, 4, ["network_inbound_usage_distribution"], moves=0)
    assert search.lower_peaks(goals) == 0
    assert search.p.metrics[0, NW_IN] == 108.0


def test_a_level_some_broker_cannot_reach_is_undone():
    """Brokers 1 and 2 both at nw_in 108: broker 1 could shed its dense replica to broker 4, but broker
    2's one replica cannot move (broker 4 would end at 200, above the peak). The peak would stay at 108:
    nothing moves."""
    parts = [
        _one_replica(1, 0.5, 8.0, 0), _one_replica(1, 10.0, 100.0, 1), _one_replica(2, 10.0, 108.0, 2),
        _one_replica(3, 10.0, 92.0, 3), _one_replica(4, 10.0, 92.0, 4),
    ]
    search, goals = _planned(parts, 4, ["network_inbound_usage_distribution"])
    p = search.p
    assert search.lower_peaks(goals) == 0
    assert p.metrics[:, NW_IN].round(6).tolist() == [108.0, 108.0, 92.0, 92.0]
    assert p.replica_moves == 100  # the plan's own, nothing added


def test_lowering_nw_in_raises_no_other_usage_peak():
    """The dense replica (nw_in 8, 0.5 GB) would level nw_in, but it carries disk that would take broker
    4 to 1.2 of the disk peak: with the disk goal in the plan it stays."""
    parts = [
        _one_replica(1, 0.5, 8.0, 0), _one_replica(1, 10.0, 100.0, 1),
        _one_replica(2, 10.0, 100.0, 2), _one_replica(3, 10.0, 100.0, 3), _one_replica(4, 10.5, 92.0, 4),
    ]
    thresholds = Thresholds(balance_upper=1.5, balance_lower=0.5)  # disk (10.5 of 10.2 mean) within its band
    search, goals = _planned(parts, 4, ["disk_usage_distribution", "network_inbound_usage_distribution"], thresholds)
    p = search.p
    assert search.lower_peaks(goals) == 0
    assert p.metrics[:, DISK].max() == 10.5


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(brokers=24, partitions=2000, dead=1, racks=4, heterogeneous=False),
        Scenario(brokers=20, partitions=1500, new=2, heterogeneous=True, racks=5),
    ],
    ids=["dead-broker", "new-brokers-mixed-disks"],
)
def test_a_plan_lowers_peaks_without_raising_one_or_making_a_goal_worse(scenario, monkeypatch):
    model = synthetic_model(scenario, seed=2, cluster="peaks")
    seen = {}
    lower_peaks = LoweringPeaks.lower_peaks

    def watched(search, goals):
        seen["before"] = [g.check(search.p) for g in goals]
        seen["replicas"] = search.p.partition_brokers(np.arange(search.p.arrays.num_partitions))
        seen["metrics"] = search.p.metrics.copy()
        seen["moves"] = lower_peaks(search, goals)
        seen["after"] = [g.check(search.p) for g in goals]
        seen["moved"] = search.p.partition_brokers(np.arange(search.p.arrays.num_partitions))
        return seen["moves"]

    monkeypatch.setattr(LoweringPeaks, "lower_peaks", watched)
    proposal = plan(model, PlanOptions(seed=1))
    assert seen["moves"] > 0
    for was, now in zip(seen["before"], seen["after"], strict=True):
        assert now.violation <= was.violation + 1e-9, now.goal
        assert now.satisfied or not was.satisfied, now.goal
    after = Placement.from_model(apply_proposal(model, proposal))
    capacity = after.arrays.capacity
    peak = {r: (seen["metrics"][:, r] / capacity[:, r]).max() for r in (DISK, NW_IN, NW_OUT, CPU)}
    for r in (DISK, NW_IN, NW_OUT, CPU):  # no peak higher, and the plan's leaders are its first replicas
        assert (after.metrics[:, r] / capacity[:, r]).max() <= peak[r] + 1e-12
    if scenario.dead:  # nw_in lowered by moving a few replicas, rich in nw_in for their size
        moved = (np.sort(seen["moved"], axis=1) != np.sort(seen["replicas"], axis=1)).any(axis=1)
        assert 0 < moved.sum() < 0.05 * len(moved)
        nw_in = after.metrics[:, NW_IN] / capacity[:, NW_IN]
        assert nw_in.max() < peak[NW_IN] - 0.01 * nw_in[after.metrics[:, NW_IN] > 0].mean()
    assert all(r.satisfied for r in check(after) if r.goal == "preferred_leader_election")
