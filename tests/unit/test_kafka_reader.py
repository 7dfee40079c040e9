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


def test_a_read_that_meets_a_broker_killed_moments_ago_is_retried_until_it_is_fenced(monkeypatch):
    """A killed broker stays in the metadata until the controller fences it (seconds), and a client may
    pick it for every one of the first attempts (CI: four attempts in 6 s, all to the dead broker)."""
    from contextlib import nullcontext

    from kafka.errors import KafkaConnectionError

    from kafka_medic.kafka import reader
    from kafka_medic.kafka.config import ClusterConfig

    clock = [0.0]
    monkeypatch.setattr(reader, "admin_client", lambda config: nullcontext(object()))
    monkeypatch.setattr(reader.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(reader.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    refusals = iter(range(8))  # fenced after 8 refusals at 2 s: 16 s, within the wait

    def read(admin):
        if next(refusals, None) is not None:
            raise KafkaConnectionError("111 ECONNREFUSED")
        return "state"

    assert reader._retrying(ClusterConfig("h:1"), read) == "state"
    assert clock[0] == 8 * reader.RETRY_DELAY_S

    clock[0] = 0.0
    with pytest.raises(MedicError, match="reading cluster state from h:1 failed"):
        reader._retrying(ClusterConfig("h:1"), lambda admin: (_ for _ in ()).throw(KafkaConnectionError("refused")))
    assert reader.FENCING_WAIT_S <= clock[0] <= reader.FENCING_WAIT_S + reader.RETRY_DELAY_S  # bounded
