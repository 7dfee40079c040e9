"""Throttle entries: what kafka-medic adds, and that clearing leaves everyone else's entries alone."""

from __future__ import annotations

from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.executor.throttles import (
    FOLLOWER_REPLICAS,
    LEADER_REPLICAS,
    WILDCARD_PARTITIONS,
    merge_entries,
    replica_entries,
    throttled_value,
)


def task(partition: int, old: tuple, new: tuple, topic: str = "t") -> Task:
    return Task(topic, partition, REPLICA, old, new, old[0], new[0], 100)


def test_leaders_are_current_replicas_and_followers_the_new_ones():
    entries = replica_entries([task(0, (1, 2, 3), (4, 2, 3)), task(5, (2, 3), (5, 6))])
    assert entries["t"][LEADER_REPLICAS] == {"0:1", "0:2", "0:3", "5:2", "5:3"}
    assert entries["t"][FOLLOWER_REPLICAS] == {"0:4", "5:5", "5:6"}


def test_merge_adds_ours_to_an_unset_value_and_clears_back_to_unset():
    value = merge_entries(None, None, None, {"1:4", "0:4"})
    assert value == "0:4,1:4"
    assert merge_entries(value, None, value, {"1:4"}) == "1:4"
    assert merge_entries("1:4", None, "1:4", set()) is None


def test_merge_keeps_someone_elses_entries_and_restores_the_exact_original():
    original = "7:1, 7:2"
    value = merge_entries(original, original, None, {"0:4"})
    assert value == "7:1,7:2,0:4"
    # Someone else adds 9:9 while we run: it survives our clearing.
    assert merge_entries(value + ",9:9", original, value, set()) == "7:1,7:2,9:9"
    # Nothing else changed: the original string comes back byte for byte.
    assert merge_entries(value, original, value, set()) == original


def test_an_entry_that_was_there_before_is_never_removed():
    original = "0:4"
    value = merge_entries(original, original, None, {"0:4", "1:4"})
    assert value == "0:4,1:4"
    assert merge_entries(value, original, value, set()) == "0:4"


def test_a_topic_with_many_moves_in_flight_is_throttled_whole_and_put_back_exactly():
    many = {f"{p}:3" for p in range(WILDCARD_PARTITIONS + 1)}
    assert throttled_value("0:1", "0:1", None, many) == "*"
    assert throttled_value("*", "0:1", "*", {"5:3"}) == "0:1,5:3"
    assert throttled_value("*", "0:1", "*", set()) == "0:1"
    assert throttled_value("*", None, "*", set()) is None
    assert throttled_value(None, None, None, {"5:3"}) == "5:3"
