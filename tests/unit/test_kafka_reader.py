"""The state reader's parsing of Admin API answers (the reads themselves are tested on real brokers)."""

from __future__ import annotations

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.kafka.reader import _read_partitions


class Answers:
    """An admin client that answers describe_topics with canned topic entries."""

    def __init__(self, topics):
        self.topics = topics

    def describe_topics(self, names=None):
        return self.topics


def topic(name, error_code=0, partitions=()):
    return {"name": name, "error_code": error_code, "partitions": list(partitions)}


PARTITION = {"partition_index": 0, "leader_id": 1, "replica_nodes": [1, 2], "isr_nodes": [1, 2],
             "offline_replicas": []}


def test_a_topic_deleted_while_it_is_followed_has_no_partitions():
    """An executor follows the topics of its moves; one deleted meanwhile must not fail every read."""
    parts = _read_partitions(Answers([topic("gone", error_code=3), topic("kept", partitions=[PARTITION])]),
                             ["gone", "kept"])
    assert [(p.topic, p.partition, p.replicas) for p in parts] == [("kept", 0, [1, 2])]


def test_any_other_topic_error_is_a_one_line_error_naming_the_topic():
    with pytest.raises(MedicError, match="describing topic 'busy' failed with error code 29"):
        _read_partitions(Answers([topic("busy", error_code=29)]), ["busy"])
