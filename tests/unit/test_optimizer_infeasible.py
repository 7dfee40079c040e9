"""Goals no placement can meet: a soft one is reported and relaxed so the goals after it still work; a
hard one fails the plan with the reason."""

from __future__ import annotations

import time

import pytest

from kafka_medic.goals import DEFAULT_GOALS, make_goals
from kafka_medic.model import Partition
from kafka_medic.model.placement import Placement
from kafka_medic.optimizer import PlanError, PlanOptions, plan, render_summary
from kafka_medic.synthetic import Scenario, synthetic_model

from .test_goals import cluster, even, load

POTENTIAL = "potential_network_outbound"


def hot_model(factor: float = 1.1, seed: int = 1):
    """A skewed cluster whose potential nw_out (each replica's partition's leader nw_out, RF 3) totals
    `factor` x its nw_out capacity: above capacity x 0.8 on every broker, whatever the placement."""
    utilisation = (0.45, 0.35, factor / 3, 0.30)
    return synthetic_model(Scenario(brokers=16, partitions=1500, racks=4, new=2, dead=1, utilisation=utilisation), seed)


def spread(proposal, resource: str) -> float:
    return proposal.stats["utilisation_after"][resource]["max_over_mean"]


def timed_plan(model, goals=None):
    started = time.perf_counter()
    proposal = plan(model, PlanOptions(goals=goals))
    return proposal, time.perf_counter() - started


def test_potential_nw_out_above_capacity_is_reported_and_lower_goals_still_converge():
    model = hot_model()
    without_goals = [g for g in DEFAULT_GOALS if g != POTENTIAL]
    without, without_s = timed_plan(model, without_goals)
    proposal, with_s = timed_plan(model)
    s = proposal.stats
    [infeasible] = s["infeasible_goals"]
    assert infeasible["goal"] == POTENTIAL
    assert "potential nw_out in total but its brokers allow" in infeasible["why"]
    assert infeasible["best_reached"] > 0
    after = {r["goal"]: r for r in s["goal_results_after"]}
    assert after[POTENTIAL]["violation"] <= infeasible["best_reached"] + 1e-6
    for resource in ("disk", "cpu"):
        assert spread(without, resource) <= 1.10  # the goals after it converge without it...
        assert spread(proposal, resource) <= 1.10  # ...and as well with it relaxed
    for goal in ("disk_usage_distribution", "cpu_usage_distribution"):
        assert after[goal]["satisfied"], after[goal]["detail"]
    # about as fast as without the goal (bench/README.md has the figures); generous for a shared machine
    assert with_s <= 3 * without_s + 2.0, (with_s, without_s)


def test_the_relaxed_goal_is_still_optimized_as_far_as_it_goes():
    model = hot_model(factor=1.3, seed=2)
    goals = make_goals()
    potential = next(g for g in goals if g.name == POTENTIAL)
    before = potential.check(Placement.from_model(model)).violation
    proposal = plan(model)
    [infeasible] = proposal.stats["infeasible_goals"]
    assert infeasible["best_reached"] < before


def test_summary_says_which_goal_cannot_hold_and_why():
    text = render_summary(plan(hot_model()))
    assert f"cannot hold: {POTENTIAL}: the cluster holds" in text
    assert "only kept from getting worse" in text


def test_feasible_goals_are_not_reported():
    proposal = plan(synthetic_model(Scenario(brokers=10, partitions=600, racks=5, new=2), seed=1))
    assert proposal.stats["infeasible_goals"] == []


def test_a_hard_goal_that_cannot_hold_fails_the_plan_in_one_line_with_the_reason():
    # nw_out totals 90% of capacity: above the 80% limit on every broker whatever the placement
    model = synthetic_model(Scenario(brokers=8, partitions=300, racks=4, utilisation=(0.4, 0.3, 0.9, 0.3)), seed=1)
    with pytest.raises(PlanError) as info:
        plan(model)
    message = str(info.value)
    assert message.startswith("hard goal network_outbound_capacity cannot be met: broker ")
    assert "nw_out in total but its brokers allow" in message and "allow 800000 (112% of that)" in message
    assert "\n" not in message


def test_infeasible_names_a_partition_too_big_for_every_band():
    # disk band: 0.9-1.1 x the mean utilisation; one partition holds more than any broker may
    parts = [*even(n=12, disk=10), Partition("huge", 0, [1, 2], 1, load(disk=400))]
    placement = Placement.from_model(cluster(parts))
    [disk] = make_goals(["disk_usage_distribution"])
    assert disk.infeasible(placement) == (
        "partition huge-0 alone puts 400 disk on a broker, above every broker's limit"
    )
    [balanced] = make_goals(["disk_usage_distribution"])
    assert balanced.infeasible(Placement.from_model(cluster(even(n=12, disk=10)))) is None
