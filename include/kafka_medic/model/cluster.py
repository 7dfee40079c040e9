"""The cluster model: brokers, partitions and their load, as plain dataclasses.

This is the one model type that flows from the sampler to the planner, the executor and the UI;
`kafka_medic.model.files` is its JSON form and `kafka_medic.model.arrays` its numpy view.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kafka_medic.errors import MedicError

if TYPE_CHECKING:
    from kafka_medic.model.broker_sets import BrokerSets

# Resource order used everywhere a load or capacity is a vector (spec units: MB, KB/s, KB/s, %).
RESOURCES = ("disk", "nw_in", "nw_out", "cpu")


class ModelError(MedicError):
    """An invalid cluster model or proposal; the message names the offending entry."""


@dataclass
class Broker:
    id: int
    rack: str | None
    alive: bool = True
    capacity: dict[str, float] = field(default_factory=dict)
    excluded: bool = False
    decommission: bool = False
    host: str | None = None


@dataclass
class Partition:
    """One partition; `load` is the leader's load (followers carry disk and nw_in only, plus some cpu)."""

    topic: str
    partition: int
    replicas: list[int]
    leader: int | None
    load: dict[str, float] = field(default_factory=dict)
    # replicas on a failed log dir of a live broker (JBOD): they must move like those of a dead broker.
    # An optional key of the model file, beyond the spec, which other tools ignore
    offline_replicas: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.topic}-{self.partition}"


@dataclass
class ClusterModel:
    cluster: str
    brokers: list[Broker]
    partitions: list[Partition]
    taken_at: str
    follower_cpu_ratio: float = 0.3
    # topics pinned to sets of brokers (an optional key of the model file, beyond the spec)
    broker_sets: BrokerSets | None = None

    def mark_brokers(self, decommission: Iterable[int] = (), excluded: Iterable[int] = ()) -> None:
        """Brokers to empty and brokers that receive nothing, on top of what the model already says."""
        decommission, excluded = set(decommission), set(excluded)
        for broker in self.brokers:
            broker.decommission = broker.decommission or broker.id in decommission
            broker.excluded = broker.excluded or broker.id in excluded

    def broker(self, broker_id: int) -> Broker:
        for broker in self.brokers:
            if broker.id == broker_id:
                return broker
        raise ModelError(f"cluster {self.cluster!r} has no broker {broker_id}")
