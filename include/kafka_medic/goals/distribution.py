"""Soft usage-distribution goals: every broker that keeps data within [0.9, 1.1] x the mean; a plan for
one that does not aims at [0.91, 1.09] (`Thresholds.balance_margin`).

Resources are compared as utilisation (load / capacity), so heterogeneous brokers each carry their
share; counts (replicas) are compared as numbers, with the band widened to whole replicas.
"""

from __future__ import annotations

import math

import numpy as np

from kafka_medic.goals.bounded import BoundedGoal, ResourceGoal, holding_brokers
from kafka_medic.model.arrays import CPU, DISK, NW_IN, NW_OUT
from kafka_medic.model.placement import REPLICAS, Placement


def unconstrained(placement: Placement) -> tuple[np.ndarray, np.ndarray]:
    return np.full(placement.num_brokers, -np.inf), np.full(placement.num_brokers, np.inf)


class UsageDistributionGoal(ResourceGoal):
    hard = False

    def limits(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        return self._band(placement, self.thresholds.balance_lower, self.thresholds.balance_upper)

    def aim(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        """The band shrunk about the mean by `balance_margin`: [0.91, 1.09] x the mean by default."""
        t = self.thresholds
        return self._band(placement, 1 - t.balance_margin * (1 - t.balance_lower),
                          1 + t.balance_margin * (t.balance_upper - 1))

    def inner_upper(self, placement: Placement, fraction: float) -> np.ndarray:
        """(B,) the upper edge of a band `fraction` of the way from the mean to the aim's."""
        t = self.thresholds
        return self._band(placement, 0.0, 1 + fraction * t.balance_margin * (t.balance_upper - 1))[1]

    def _band(self, placement: Placement, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
        """[low, high] x each data-keeping broker's fair share: the cluster's mean utilisation x its capacity."""
        lower, upper = unconstrained(placement)
        holds = holding_brokers(placement)
        capacity = placement.arrays.capacity[:, self.metric]
        total_capacity = capacity[holds].sum()
        if total_capacity <= 0:
            return lower, upper
        fair = placement.shared_total(self.metric) / total_capacity * capacity[holds]
        lower[holds], upper[holds] = low * fair, high * fair
        return lower, upper


class DiskUsageDistributionGoal(UsageDistributionGoal):
    name, resource, metric = "disk_usage_distribution", "disk", DISK


class NetworkInboundUsageDistributionGoal(UsageDistributionGoal):
    name, resource, metric = "network_inbound_usage_distribution", "nw_in", NW_IN


class NetworkOutboundUsageDistributionGoal(UsageDistributionGoal):
    name, resource, metric = "network_outbound_usage_distribution", "nw_out", NW_OUT
    uses_leadership = True


class CpuUsageDistributionGoal(UsageDistributionGoal):
    name, resource, metric = "cpu_usage_distribution", "cpu", CPU
    uses_leadership = True


class CountDistributionGoal(BoundedGoal):
    """Counts per broker within [floor(0.9 mean), ceil(1.1 mean)]: a count can only move by whole units."""

    hard = False

    def limits(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        return count_band(self, placement, placement.shared_total(self.metric))


def count_band(goal: BoundedGoal, placement: Placement, total: float) -> tuple[np.ndarray, np.ndarray]:
    lower, upper = unconstrained(placement)
    holds = holding_brokers(placement)
    if holds.any():
        mean = total / holds.sum()
        lower[holds] = math.floor(goal.thresholds.balance_lower * mean + 1e-9)
        upper[holds] = math.ceil(goal.thresholds.balance_upper * mean - 1e-9)
    return lower, upper


class ReplicaDistributionGoal(CountDistributionGoal):
    name, metric = "replica_distribution", REPLICAS
