"""Turn an observed ClusterState into the cluster model that planners read and write.

Sizes are real (DescribeLogDirs); network and CPU loads come from the metrics store when one is
given, else they are zero. Capacities come from a capacity source when given, else disk is the
brokers' own log-dir total and network/CPU are 1 Gbit/s and 100 %.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from statistics import median

from kafka_medic.kafka.state import BrokerState, ClusterState
from kafka_medic.model import Broker, ClusterModel, Partition
from kafka_medic.units import MB

DEFAULT_NETWORK_KBPS = 125_000.0  # 1 Gbit/s
ZERO_LOAD = {"disk": 0.0, "nw_in": 0.0, "nw_out": 0.0, "cpu": 0.0}

CapacityLookup = Callable[[int], dict[str, float]]
LoadLookup = Mapping[tuple[str, int], Mapping[str, float]]


def state_to_model(
    state: ClusterState,
    cluster: str,
    capacity: CapacityLookup | None = None,
    loads: LoadLookup | None = None,
) -> ClusterModel:
    """The model of `state`; dead brokers keep the replicas the cluster still assigns them, and replicas
    on a failed disk of a live broker are its partitions' `offline_replicas`."""
    capacity = capacity or default_capacity(state)
    brokers = [
        Broker(id=b.id, rack=b.rack, alive=b.alive, capacity=capacity(b.id), host=b.host)
        for b in state.brokers.values()
    ]
    partitions = []
    for p in state.partitions:
        load = dict(loads.get((p.topic, p.partition), ZERO_LOAD)) if loads else dict(ZERO_LOAD)
        load["disk"] = round(p.size_bytes / MB, 3)  # always the measured size, never an estimate
        partitions.append(
            Partition(topic=p.topic, partition=p.partition, replicas=list(p.replicas), leader=p.leader, load=load,
                      offline_replicas=[b for b in p.offline_replicas if state.brokers[b].alive])
        )
    return ClusterModel(cluster=cluster, brokers=brokers, partitions=partitions, taken_at=state.taken_at)


def default_capacity(state: ClusterState) -> CapacityLookup:
    """Disk: each broker's log-dir total (dead brokers: the median of the live ones)."""
    disks = {b.id: _disk_mb(b) for b in state.brokers.values() if b.log_dirs}
    fallback = median(disks.values()) if disks else 0.0

    def lookup(broker_id: int) -> dict[str, float]:
        return {
            "disk": disks.get(broker_id, fallback),
            "nw_in": DEFAULT_NETWORK_KBPS,
            "nw_out": DEFAULT_NETWORK_KBPS,
            "cpu": 100.0,
        }

    return lookup


def _disk_mb(broker: BrokerState) -> float:
    return round(sum(max(total, 0) for total, _ in broker.log_dirs.values()) / MB, 3)
