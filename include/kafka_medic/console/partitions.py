"""The console's partition page: the heaviest partitions by a resource (Cruise Control's partition_load).

On 100,000 partitions the page must answer in under a second, so nothing loops over partitions in Python:
the topic regex is matched once per topic (RE2, `limits.topic_regex`) and turned into a partition mask by
indexing, and only the rows of the asked page are sorted (`np.argpartition` down to the page's end, then a
sort of that slice), then turned into rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kafka_medic.detector.snapshot import ModelSnapshot
from kafka_medic.limits import topic_regex
from kafka_medic.model.cluster import RESOURCES

PER_PAGE = 50


@dataclass(frozen=True)
class PartitionRow:
    topic: str
    partition: int
    leader: int  # -1: offline
    load: dict[str, float]


@dataclass(frozen=True)
class PartitionPage:
    resource: str
    topic: str  # the regex, "" for every topic
    page: int
    matching: int
    rows: list[PartitionRow]

    @property
    def pages(self) -> int:
        return max(1, -(-self.matching // PER_PAGE))


def heaviest(snapshot: ModelSnapshot, resource: str = "disk", topic: str = "", page: int = 1) -> PartitionPage:
    """Page `page` (from 1) of the partitions whose topic matches `topic` (a full match), heaviest first by
    `resource` (one of RESOURCES). A bad regex raises `limits.InvalidRegex`, saying what is wrong with it."""
    column = RESOURCES.index(resource)
    selected = np.arange(len(snapshot.partition_number))
    if topic:
        pattern = topic_regex(topic)
        matched = np.fromiter((pattern.fullmatch(t) is not None for t in snapshot.topics.tolist()), bool,
                              count=len(snapshot.topics))
        selected = selected[matched[snapshot.partition_topic]]
    load = snapshot.partition_load[selected, column]
    first, end = (page - 1) * PER_PAGE, min(page * PER_PAGE, len(selected))
    if first >= end:
        return PartitionPage(resource, topic, page, len(selected), [])
    top = np.argpartition(-load, end - 1)[:end] if end < len(selected) else np.arange(len(selected))
    order = top[np.argsort(-load[top], kind="stable")][first:end]
    chosen = selected[order]
    loads = snapshot.partition_load[chosen].tolist()
    rows = [
        PartitionRow(str(snapshot.topics[t]), int(n), int(leader), dict(zip(RESOURCES, values, strict=True)))
        for t, n, leader, values in zip(snapshot.partition_topic[chosen].tolist(),
                                        snapshot.partition_number[chosen].tolist(),
                                        snapshot.partition_leader[chosen].tolist(), loads, strict=True)
    ]
    return PartitionPage(resource, topic, page, len(selected), rows)
