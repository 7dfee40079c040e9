"""The executor's pause between polls: woken by the controller's list of reassignments, not by the clock.

With moves waiting for a slot it wakes at the first move that leaves the list; with none waiting it
wakes only when the last one did, so the last move is seen done at once instead of a poll later.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from kafka.structs import TopicPartition

from kafka_medic.executor import moving
from kafka_medic.kafka.config import ClusterConfig

MOVING = {("t", 0), ("t", 1)}


class Controller:
    """Lists the reassignments in `lists`, one list per call, the last one for ever after."""

    def __init__(self, *lists: set[tuple[str, int]]) -> None:
        self.lists, self.calls = list(lists), 0

    def list_partition_reassignments(self) -> dict:
        listed = self.lists[min(self.calls, len(self.lists) - 1)]
        self.calls += 1
        return {TopicPartition(t, p): None for t, p in listed}


@pytest.fixture
def controller(monkeypatch):
    def install(*lists: set[tuple[str, int]]) -> Controller:
        fake = Controller(*lists)

        @contextmanager
        def client(config):
            yield fake

        monkeypatch.setattr(moving, "admin_client", client)
        monkeypatch.setattr(moving, "QUICK_CHECK_S", 0.01)
        return fake

    return install


def test_with_moves_waiting_it_wakes_when_the_first_move_finishes(controller):
    fake = controller(MOVING, MOVING, {("t", 1)}, set())
    moving._pause(ClusterConfig("h:9092", name="unit-pause"), MOVING, seconds=5.0)
    assert fake.calls == 3


def test_with_none_waiting_it_wakes_when_the_last_move_finishes(controller):
    fake = controller(MOVING, MOVING, {("t", 1)}, {("t", 1)}, set())
    moving._pause(ClusterConfig("h:9092", name="unit-pause"), MOVING, seconds=5.0, every=True)
    assert fake.calls == 5


def test_it_never_sleeps_past_the_poll_interval(controller):
    fake = controller(MOVING)
    moving._pause(ClusterConfig("h:9092", name="unit-pause"), MOVING, seconds=0.2, every=True)
    assert 5 <= fake.calls <= 20
