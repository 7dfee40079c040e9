"""Proposal files: round trip, validation, and replay on a model."""

from __future__ import annotations

import pytest

from kafka_medic.model import (
    ModelError,
    Move,
    Proposal,
    apply_proposal,
    load_proposal,
    parse_model,
    parse_proposal,
    proposal_to_dict,
    save_proposal,
)

from .test_model_files import SPEC_EXAMPLE

MOVE = Move("orders", 0, [1, 2, 3], [4, 2, 3], 1, 4)


def test_round_trip_is_byte_identical(tmp_path):
    proposal = Proposal("demo", ["rack_aware"], [MOVE], {"num_replica_moves": 1, "data_to_move_mb": 1200.5})
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    save_proposal(proposal, first)
    assert load_proposal(first) == proposal
    save_proposal(load_proposal(first), second)
    assert first.read_bytes() == second.read_bytes()


def test_apply_changes_only_the_moved_partition():
    model = parse_model(SPEC_EXAMPLE)
    after = apply_proposal(model, Proposal("demo", [], [MOVE], {}))
    assert after.partitions[0].replicas == [4, 2, 3] and after.partitions[0].leader == 4
    assert after.partitions[1] == model.partitions[1]
    assert model.partitions[0].replicas == [1, 2, 3]


def test_apply_refuses_stale_moves():
    model = parse_model(SPEC_EXAMPLE)
    stale = Move("orders", 1, [1, 2, 3], [4, 2, 3], 1, 4)
    with pytest.raises(ModelError, match=r"moves\[0\] \(orders-1\): old_replicas \[1, 2, 3\] do not match"):
        apply_proposal(model, Proposal("demo", [], [stale], {}))
    with pytest.raises(ModelError, match="no such partition"):
        apply_proposal(model, Proposal("demo", [], [Move("nope", 0, [1], [2], 1, 2)], {}))


@pytest.mark.parametrize(
    ("move", "message"),
    [
        ({"new_replicas": [4, 2]}, "change the replication factor"),
        ({"new_leader": 9}, "new_leader 9 is not one of new_replicas"),
        ({"new_replicas": [4, 4, 3]}, "'new_replicas' lists broker 4 twice"),
    ],
)
def test_invalid_moves(move, message):
    data = proposal_to_dict(Proposal("demo", [], [MOVE], {}))
    data["moves"][0].update(move)
    with pytest.raises(ModelError, match=r"moves\[0\] \(orders-0\): .*" + message):
        parse_proposal(data)
