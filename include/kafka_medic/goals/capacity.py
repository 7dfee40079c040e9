"""Hard capacity goals: no broker above a fraction of its capacity (or above a replica count).

Brokers that must end empty (dead or decommissioned) have a limit of zero, so a heal plan that leaves
anything on them fails these goals by name.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.goals.bounded import BoundedGoal, ResourceGoal, holding_brokers
from kafka_medic.model.arrays import CPU, DISK, NW_IN, NW_OUT
from kafka_medic.model.placement import POTENTIAL_NW_OUT, REPLICAS, Placement


class CapacityGoal(ResourceGoal):
    hard = True

    def limits(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        share = self.thresholds.capacity[self.resource]
        upper = np.where(holding_brokers(placement), share * placement.arrays.capacity[:, self.metric], 0.0)
        return np.full(placement.num_brokers, -np.inf), upper


class DiskCapacityGoal(CapacityGoal):
    name, resource, metric = "disk_capacity", "disk", DISK


class NetworkInboundCapacityGoal(CapacityGoal):
    name, resource, metric = "network_inbound_capacity", "nw_in", NW_IN


class NetworkOutboundCapacityGoal(CapacityGoal):
    name, resource, metric = "network_outbound_capacity", "nw_out", NW_OUT
    uses_leadership = True


class CpuCapacityGoal(CapacityGoal):
    name, resource, metric = "cpu_capacity", "cpu", CPU
    uses_leadership = True


class ReplicaCapacityGoal(BoundedGoal):
    name, hard, metric = "replica_capacity", True, REPLICAS

    def limits(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        upper = np.where(holding_brokers(placement), float(self.thresholds.max_replicas_per_broker), 0.0)
        return np.full(placement.num_brokers, -np.inf), upper


class PotentialNetworkOutboundGoal(ResourceGoal):
    """Soft: nw_out if every replica on the broker became leader stays under the nw_out threshold.

    This is the load a broker would carry if its peers failed and it took over their leadership.
    """

    name, hard, resource, metric = "potential_network_outbound", False, "nw_out", POTENTIAL_NW_OUT

    def limits(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        share = self.thresholds.capacity["nw_out"]
        upper = np.where(holding_brokers(placement), share * placement.arrays.capacity[:, NW_OUT], 0.0)
        return np.full(placement.num_brokers, -np.inf), upper

    label = "potential nw_out"
