"""The remediation kinds' registry: what each kind plans, and what the rest of kafka-medic reads from it."""

from __future__ import annotations

import pytest

from kafka_medic.detector import ACTIONS
from kafka_medic.errors import MedicError
from kafka_medic.kafka.state import BrokerState, ClusterState
from kafka_medic.notify.policy import LEADERSHIP_ACTIONS, POLICY_ACTIONS
from kafka_medic.remediation.kinds import KINDS, form_fields
from kafka_medic.remediation.policy import parse_policy
from kafka_medic.remediation.request import Request, mark_brokers, plan_for, validate_request
from kafka_medic.synthetic import Scenario, synthetic_model

SCENARIO = Scenario(brokers=6, partitions=120, racks=2, new=1)


def state(dead=()) -> ClusterState:
    brokers = {b: BrokerState(b, "h", 9092, None, alive=b not in dead) for b in range(1, 7)}
    return ClusterState(cluster_id="c", controller_id=1, brokers=brokers, partitions=[], topic_configs={},
                        broker_configs={}, taken_at="2027-01-15T08:00:00Z")


def test_the_detector_policy_and_forms_read_the_kinds_from_the_registry():
    assert ACTIONS == ("heal", "rebalance")
    assert POLICY_ACTIONS == ("heal", "rebalance", "decommission", "add_brokers", "demote",
                              "preferred_leader_election")
    assert LEADERSHIP_ACTIONS == ("demote", "preferred_leader_election")
    assert [k for k in KINDS if "brokers" in {f.name for f in form_fields(KINDS[k])}] == [
        "decommission", "add_brokers", "demote"]


def test_add_brokers_moves_replicas_only_onto_its_brokers():
    model = synthetic_model(SCENARIO, seed=1)
    proposal = plan_for(Request(kind="add_brokers", brokers=[6]), model)
    assert proposal.moves
    assert {b for m in proposal.moves for b in set(m.new_replicas) - set(m.old_replicas)} == {6}


def test_a_policy_of_heal_only_makes_heals_move_just_the_dead_brokers_replicas():
    policy = parse_policy({"heal_only": True}).request_defaults()
    healing = validate_request("heal", policy, state(dead=(2,)))
    assert healing.heal_only and not validate_request("heal", parse_policy({}).request_defaults(), state()).heal_only
    assert not validate_request("rebalance", policy, state()).heal_only  # a rebalance has nothing to heal
    model = synthetic_model(SCENARIO, seed=1)
    model.brokers[1].alive = False
    on_dead = sum(2 in p.replicas for p in model.partitions)
    proposal = plan_for(healing, model)
    assert proposal.stats["num_replica_moves"] == on_dead
    assert {b for m in proposal.moves for b in set(m.old_replicas) - set(m.new_replicas)} == {2}
    assert plan_for(Request(kind="heal"), model).stats["num_replica_moves"] > on_dead


def test_decommission_empties_its_brokers():
    model = synthetic_model(SCENARIO, seed=1)
    request = Request(kind="decommission", brokers=[2])
    mark_brokers(model, request)
    proposal = plan_for(request, model)
    assert not [m for m in proposal.moves if 2 in m.new_replicas]
    assert sum(2 in m.old_replicas for m in proposal.moves) == sum(2 in p.replicas for p in model.partitions) > 0


@pytest.mark.parametrize("kind", ["demote", "preferred_leader_election"])
def test_leadership_kinds_move_no_data(kind):
    proposal = plan_for(Request(kind=kind, brokers=[1]), synthetic_model(SCENARIO, seed=1))
    assert proposal.moves and proposal.stats["num_replica_moves"] == 0
    assert kind != "demote" or not [m for m in proposal.moves if m.new_leader == 1]


@pytest.mark.parametrize(("kind", "brokers", "dead", "message"), [
    ("add_brokers", [], (), r"brokers: give at least one broker id \(brokers just added"),
    ("demote", [3], (3,), "brokers: broker 3 is not alive"),
    ("decommission", list(range(1, 7)), (), "brokers: decommissioning them all would leave no broker"),
])
def test_a_kinds_brokers_are_checked_against_the_cluster(kind, brokers, dead, message):
    with pytest.raises(MedicError, match=message):
        validate_request(kind, {"brokers": brokers}, state(dead))


def test_decommission_may_name_a_dead_broker():
    assert validate_request("decommission", {"brokers": [3]}, state(dead=(3,))).brokers == [3]
