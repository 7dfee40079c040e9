"""Rolling back: a cancelled move counts as settled only once the metadata shows it settled."""

from __future__ import annotations

import pytest

from kafka_medic.executor.stop import _settled
from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.kafka.state import PartitionState

TASK = Task("t", 0, REPLICA, old_replicas=(1, 2), new_replicas=(2, 3), old_leader=1, new_leader=2, size_bytes=10)


@pytest.mark.parametrize(("replicas", "adding", "settled"), [
    ([2, 3, 1], [3], False),  # the controller still moves it
    ([2, 3, 1], [], False),  # the controller is done, this broker's metadata still shows the move's merged list
    ([2, 1], [], True),  # the controller's revert (the move's order): `_restore_order` puts it back to [1, 2]
    ([1, 2], [], True),
    ([2, 3], [], True),  # finished before the cancel arrived
])
def test_a_rolled_back_move_is_settled_when_the_metadata_shows_the_old_or_new_set(replicas, adding, settled):
    p = PartitionState("t", 0, replicas, leader=2, isr=replicas, adding_replicas=adding)
    assert _settled(p, TASK) is settled
