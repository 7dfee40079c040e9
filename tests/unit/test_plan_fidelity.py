"""Plan fidelity's drift check: brokers, the planned partitions' replicas, load and age, each named when it drifts;
and the basis and digest of a real plan, taken as the remediation chain takes them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kafka_medic.model import Move, Proposal, model_to_dict, parse_model, parse_proposal, proposal_to_dict
from kafka_medic.optimizer import plan
from kafka_medic.remediation.fidelity import PlanBasis, drift, plan_basis, plan_digest
from kafka_medic.synthetic import Scenario, synthetic_model

PROPOSAL = Proposal("c", [], [Move("t", 0, [1, 2], [3, 2], 1, 3)])
DISK = {"1": 50.0, "2": 30.0, "3": 20.0}
CPU = {"1": 0.5, "2": 0.25, "3": 0.0}
BASIS = PlanBasis(alive=[1, 2, 3], dead=[], assignments={"t-0": [1, 2]}, load={"disk": DISK, "cpu": CPU},
                  capacity={"disk": {"1": 100.0, "2": 100.0, "3": 100.0}, "cpu": {"1": 0.0, "2": 1.0, "3": 1.0}},
                  planned_at=1000.0)


def check(live: PlanBasis) -> str | None:
    return drift(BASIS, live, max_drift=0.1, max_age_s=3600)


def with_disk(**changed: float) -> PlanBasis:
    return replace(BASIS, load={**BASIS.load, "disk": DISK | changed})


def test_an_unchanged_cluster_and_small_load_changes_keep_the_plan():
    assert check(replace(BASIS, planned_at=1060.0)) is None
    assert check(with_disk(**{"1": 60.0})) is None  # 10 of its capacity 100: not more than 10%
    # broker 1's cpu has no capacity to measure against: its change is not compared; broker 3 moved 5%
    assert check(replace(BASIS, load={**BASIS.load, "cpu": {"1": 9.0, "2": 0.25, "3": 0.05}})) is None


@pytest.mark.parametrize(("live", "reason"), [
    (replace(BASIS, alive=[1, 2], dead=[3]),
     "brokers changed since planning: alive [1, 2, 3] -> [1, 2], dead [] -> [3]"),
    (replace(BASIS, assignments={"t-0": [2, 1]}), "1 planned partition(s) were reassigned since planning, "
                                                  "e.g. t-0: [1, 2] -> [2, 1]"),
    (replace(BASIS, assignments={}), "e.g. t-0: [1, 2] -> gone"),
    (with_disk(**{"3": 35.0}), "broker 3's disk load changed by 15% of its capacity since planning, more than "
                               "the policy's max_plan_drift 10%"),
    (replace(BASIS, load={"cpu": CPU}), "broker 1's disk load changed by 50% of its capacity"),  # gone from the live
    (replace(BASIS, load={**BASIS.load, "cpu": {"1": 0.5, "2": 0.5, "3": 0.0}}), "broker 2's cpu load changed by 25%"),
    (replace(BASIS, planned_at=1000.0 + 7200), "the plan is 120 min old, more than the policy's 60 min"),
])
def test_drift_names_what_changed(live, reason):
    assert reason in (check(live) or "")


def test_the_digest_is_stable_and_covers_moves_and_basis():
    digest = plan_digest(PROPOSAL, BASIS)
    assert digest == plan_digest(PROPOSAL, PlanBasis.from_dict(BASIS.as_dict())) and len(digest) == 64
    assert digest != plan_digest(PROPOSAL, replace(BASIS, dead=[4]))
    assert digest != plan_digest(Proposal("c", [], [Move("t", 0, [1, 2], [3, 1], 1, 3)]), BASIS)


def test_a_real_plans_basis_survives_the_xcom_round_trip_and_a_dead_broker_makes_it_stale():
    """As the DAG passes them: the model and proposal as JSON, the basis taken from the parsed model."""
    model = model_to_dict(synthetic_model(Scenario(brokers=6, partitions=120, racks=3, new=1), seed=4))
    proposal = plan(parse_model(model))
    assert proposal.moves
    basis = plan_basis(parse_model(model), proposal, now=0.0)
    moved = {f"{m.topic}-{m.partition}" for m in proposal.moves}
    assert set(basis.assignments) == moved and basis.alive == [1, 2, 3, 4, 5, 6] and basis.dead == []
    assert set(basis.load) == set(basis.capacity) == {"disk", "nw_in", "nw_out", "cpu"}
    assert sum(basis.load["disk"].values()) > 0 and min(basis.capacity["disk"].values()) > 0
    again = parse_proposal(proposal_to_dict(proposal))
    assert plan_digest(again, PlanBasis.from_dict(basis.as_dict())) == plan_digest(proposal, basis)
    assert drift(basis, plan_basis(parse_model(model), again, now=60.0), 0.1, 3600) is None

    dead = parse_model(model)
    dead.brokers[0].alive = False
    assert "dead [] -> [1]" in drift(basis, plan_basis(dead, again, now=60.0), 0.1, 3600)
