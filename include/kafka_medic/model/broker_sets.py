"""Broker sets: topics pinned to named groups of brokers (Cruise Control's BrokerSetAwareGoal input).

Operators split a cluster into sets (one per tenant, hardware generation or network zone) and pin
topics to them; the `broker_set_aware` goal keeps every replica of a pinned topic on its set's
brokers. The mapping is an optional key of the model file, `broker_sets`, so a model stays
self-contained (a plan made offline from the file sees the same pins); `kafka-medic plan --broker-sets
FILE` reads the same object from a file of its own. Its form (see docs/cluster-model.md):

    {"sets": {"blue": [1, 2, 3], "green": [4, 5, 6]},
     "topics": {"orders": "blue", "metrics-.*": "green"}}

A `topics` key is a topic name or a regex (full match): a topic's own name wins, then the first
pattern in file order that matches it. Topics matched by none are unconstrained.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from kafka_medic.limits import OutOfLimits, topic_regex
from kafka_medic.model.fields import Fields, read_json

LABEL = "broker_sets"


@dataclass
class BrokerSets:
    sets: dict[str, list[int]]  # set name -> broker ids
    topics: dict[str, str]  # topic name or regex (full match) -> set name

    def set_of(self, topic: str) -> str | None:
        """The set `topic` is pinned to, or None when it is unconstrained."""
        if topic in self.topics:
            return self.topics[topic]
        return next((name for key, name in self.topics.items() if topic_regex(key).fullmatch(topic)), None)

    def masks(self, topics: list[str], broker_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(topic_set[T], set_brokers[S, B]): each topic's set index (-1: unconstrained) and each set's
        brokers as a mask over `broker_ids`; one small matrix per set, not per topic, so a model of
        100k topics costs (T,) integers."""
        names = list(self.sets)
        index = {name: i for i, name in enumerate(names)}
        set_brokers = np.array([np.isin(broker_ids, self.sets[n]) for n in names], dtype=bool)
        set_brokers = set_brokers.reshape(len(names), len(broker_ids))
        topic_set = np.array([index.get(self.set_of(t) or "", -1) for t in topics], dtype=np.int64)
        return topic_set, set_brokers

    def to_dict(self) -> dict[str, Any]:
        return {"sets": {n: list(ids) for n, ids in self.sets.items()}, "topics": dict(self.topics)}


def parse_broker_sets(data: Any, broker_ids: set[int], label: str = LABEL) -> BrokerSets:
    """Strict, with errors naming the entry: unknown brokers, unknown sets and bad regexes are errors."""
    root = Fields(data, label)
    sets_field = root.obj("sets", "sets")
    sets: dict[str, list[int]] = {}
    for name in sets_field.data:
        ids = sets_field.int_list(name)
        unknown = sorted(set(ids) - broker_ids)
        if unknown:
            raise sets_field.fail(f"set {name!r} names unknown broker {unknown[0]}")
        sets[name] = ids
    topics_field = root.obj("topics", "topics")
    topics: dict[str, str] = {}
    for key in topics_field.data:
        name = topics_field.string(key)
        if name not in sets:
            raise topics_field.fail(f"topic {key!r} is pinned to unknown set {name!r}; sets: {', '.join(sets)}")
        try:
            topic_regex(key)
        except OutOfLimits as exc:
            raise topics_field.fail(f"topic {key!r} {exc}") from None
        topics[key] = name
    return BrokerSets(sets, topics)


def load_broker_sets(path: str | os.PathLike, broker_ids: set[int]) -> BrokerSets:
    """A broker sets file (the model key's object on its own), for `--broker-sets FILE`."""
    return parse_broker_sets(read_json(path), broker_ids, label=str(path))
