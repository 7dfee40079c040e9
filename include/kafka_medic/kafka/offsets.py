"""End offsets of many partitions: one ListOffsets request per leader broker, all leaders at once.

A sampler turns two end offsets into a message rate. Asking per partition, or through a client that
looks the partitions' leaders up again, costs requests that grow with the partition count; the
leaders are already in the state the round read, so each leader gets one request for all the
partitions it leads. A leader that fails or a partition that answers with an error (moved leader,
deleted topic) is left out: that partition has no rate this round.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from kafka import KafkaAdminClient
from kafka.protocol.consumer import ListOffsetsRequest, OffsetSpec

from kafka_medic.kafka.fanout import ask_each
from kafka_medic.kafka.state import PartitionState


def end_offsets(admin: KafkaAdminClient, partitions: Iterable[PartitionState]) -> dict[tuple[str, int], int]:
    """The latest offset of every partition that has a leader and answered."""
    led: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for p in partitions:
        if p.leader is not None:
            led[p.leader][p.topic].append(p.partition)
    answers = ask_each(admin, {leader: _latest_offsets_request(topics) for leader, topics in led.items()})
    offsets = {}
    for answer in answers.values():
        if answer.error is not None:
            continue
        for topic in answer.response.topics:
            for part in topic.partitions:
                if not part.error_code:
                    offsets[(topic.name, part.partition_index)] = part.offset
    return offsets


def _latest_offsets_request(topics: dict[str, list[int]]) -> ListOffsetsRequest:
    _Topic = ListOffsetsRequest.ListOffsetsTopic
    _Partition = _Topic.ListOffsetsPartition
    return ListOffsetsRequest(
        isolation_level=0,  # read uncommitted: the log end offset, what producers appended
        topics=[
            _Topic(name=topic, partitions=[_Partition(partition_index=p, timestamp=OffsetSpec.LATEST) for p in parts])
            for topic, parts in topics.items()
        ],
    )
