"""The dev workload's skew: placement crowds leaders, rates favour low partitions."""

import pytest

from kafka_medic.devcluster.workload import partition_weights, skewed_assignment
from kafka_medic.errors import MedicError


@pytest.mark.parametrize(("brokers", "rf"), [([1, 2, 3, 4], 3), ([1, 2, 3], 3), ([5, 6, 7, 8, 9, 10], 2), ([1], 1)])
def test_assignment_is_valid_and_skewed(brokers, rf):
    assignment = skewed_assignment(12, brokers, rf)
    assert sorted(assignment) == list(range(12))
    for replicas in assignment.values():
        assert len(replicas) == rf and len(set(replicas)) == rf and set(replicas) <= set(brokers)
    leaders = {r[0] for r in assignment.values()}
    assert leaders <= set(brokers[: max(1, len(brokers) // 2)])
    if len(brokers) > rf:
        counts = {b: sum(b in r for r in assignment.values()) for b in brokers}
        assert counts[brokers[-1]] < counts[brokers[0]]


def test_assignment_needs_enough_brokers():
    with pytest.raises(MedicError, match="replication factor 3 needs at least 3 brokers, have 2"):
        skewed_assignment(4, [1, 2], 3)


def test_partition_weights_are_zipf_like():
    weights = partition_weights(6)
    assert sum(weights) == pytest.approx(1.0)
    assert weights == sorted(weights, reverse=True) and weights[0] == pytest.approx(weights[1] * 2)
