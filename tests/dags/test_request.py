"""A remediation request from the trigger form: what validation refuses, and what the planner is told."""

from __future__ import annotations

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.kafka.state import BrokerState, ClusterState
from kafka_medic.remediation.request import mark_brokers, plan_for, validate_request
from kafka_medic.synthetic import Scenario, synthetic_model

MODEL = synthetic_model(Scenario(brokers=8, partitions=400, racks=2), seed=3)


def cluster_state(dead=()) -> ClusterState:
    brokers = {b.id: BrokerState(b.id, "h", 9092, b.rack, alive=b.id not in dead) for b in MODEL.brokers}
    return ClusterState(cluster_id="c", controller_id=1, brokers=brokers, partitions=[], topic_configs={},
                        broker_configs={}, taken_at="2027-01-15T08:00:00Z")


@pytest.mark.parametrize(("params", "message"), [
    ({"excluded_brokers": [99]}, "excluded_brokers: unknown broker 99; the cluster has [1, 2, 3, 4, 5, 6, 7, 8]"),
    ({"excluded_brokers": list(range(1, 9))}, "excluded_brokers: excluding every live broker would leave none"),
    ({"excluded_topics": "orders-(["}, "excluded_topics: 'orders-([' is not a valid regex"),
    ({"throttle_mb_s": 5, "auto_throttle": True}, "throttle_mb_s: 5 and auto_throttle both given; choose one"),
])
def test_a_value_that_cannot_work_on_the_cluster_is_refused_naming_the_field(params, message):
    with pytest.raises(MedicError, match=message.replace("[", r"\[").replace("(", r"\(")):
        validate_request("rebalance", params, cluster_state())


def test_empty_optional_fields_from_the_form_mean_no_restriction():
    request = validate_request("rebalance", {"excluded_topics": None, "goals": None, "excluded_brokers": None,
                                             "concurrency": None}, cluster_state())
    assert (request.excluded_topics, request.goals, request.excluded_brokers) == (None, [], [])
    assert request.concurrency is None  # the executor's byte budget, not a fixed count


def test_a_rebalance_moves_nothing_onto_its_excluded_brokers():
    request = validate_request("rebalance", {"excluded_brokers": [2, 5], "force": True}, cluster_state())
    model = synthetic_model(Scenario(brokers=8, partitions=400, racks=2), seed=3)
    free = plan_for(request, model)
    assert any(2 in set(m.new_replicas) - set(m.old_replicas) for m in free.moves)  # without the marks it would
    mark_brokers(model, request)
    proposal = plan_for(request, model)
    assert proposal.moves
    assert not [m for m in proposal.moves if {2, 5} & (set(m.new_replicas) - set(m.old_replicas))]
    assert not [m for m in proposal.moves if m.new_leader in {2, 5} and m.new_leader != m.old_leader]


@pytest.mark.parametrize("regex", ["(?=orders)", "(orders)\\1"])
def test_a_form_regex_outside_re2_is_refused_naming_the_field(regex):
    with pytest.raises(MedicError, match=r"excluded_topics: .* is not a valid regex: .*RE2 syntax"):
        validate_request("rebalance", {"excluded_topics": regex}, cluster_state())


def test_a_backtracking_form_regex_is_accepted_and_plans_at_once():
    request = validate_request("rebalance", {"excluded_topics": "(a+)+$", "force": True}, cluster_state())
    assert plan_for(request, MODEL).moves is not None
