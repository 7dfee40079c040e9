"""Ask many brokers at once: one request per broker, all in flight together, each answer on its own.

kafka-python's `describe_log_dirs` and `list_partition_offsets` ask brokers one after another, look
the topics up again first (a Metadata request per call), and fail the whole call when one broker
fails. A sampling round of a 1,000-broker cluster needs every broker's request in flight together
(the round then takes as long as the slowest broker, not the sum of all), and a broker that fails
must cost only its own answer. kafka-python is pinned (pyproject.toml); this module is the one place
that uses its connection manager (`KafkaAdminClient._manager`) directly.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.errors import KafkaError


@dataclass(frozen=True)
class Answer:
    """One broker's response, or the error it failed with; times are time.monotonic()."""

    response: Any
    error: KafkaError | None
    asked_at: float
    answered_at: float

    @property
    def at(self) -> float:
        """When the broker most likely read its state: midway between asking and the answer."""
        return (self.asked_at + self.answered_at) / 2


def ask_each(admin: KafkaAdminClient, requests: Mapping[int, Any]) -> dict[int, Answer]:
    """Send `requests[broker]` to each broker at once and wait for every answer (or its error)."""
    manager = admin._manager

    async def gather() -> dict[int, Answer]:
        asked = time.monotonic()
        answered: dict[int, float] = {}
        futures, answers = {}, {}
        for broker, request in requests.items():
            try:
                futures[broker] = manager.send(request, node_id=broker)
            except KafkaError as exc:  # a broker id the client's metadata does not know
                answers[broker] = Answer(None, exc, asked, asked)
                continue
            futures[broker].add_both(lambda _, broker=broker: answered.setdefault(broker, time.monotonic()))
        for broker, future in futures.items():
            try:
                response, error = await future, None
            except KafkaError as exc:
                response, error = None, exc
            answers[broker] = Answer(response, error, asked, answered.get(broker, time.monotonic()))
        return answers

    return manager.run(gather)
