"""Goals that keep one per-broker metric between a lower and an upper limit.

Capacity, usage-distribution, count and leader-bytes goals are all this shape. Because each is just
(metric column, lower[B], upper[B]), the search can keep every optimized one satisfied by comparing a
move's metric vector with per-broker headroom, for all brokers and goals in one vector operation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from kafka_medic.goals.base import Goal, GoalResult, describe
from kafka_medic.model.cluster import RESOURCES
from kafka_medic.model.placement import METRICS, Placement

if TYPE_CHECKING:
    from kafka_medic.optimizer.search import Search

# Loads are floats summed in different orders; a limit is met when within this relative slack.
TOLERANCE = 1e-7


def slack(limit: np.ndarray) -> np.ndarray:
    return TOLERANCE * (1.0 + np.abs(np.where(np.isfinite(limit), limit, 0.0)))


class BoundedGoal(Goal):
    metric: ClassVar[int]
    uses_leadership: ClassVar[bool] = False  # leadership moves can fix it (cheap: no data moves)
    uses_replicas: ClassVar[bool] = True  # replica moves can fix it

    def limits(self, placement: Placement) -> tuple[np.ndarray, np.ndarray]:
        """(lower[B], upper[B]) for the metric; -inf / inf where a broker is unconstrained."""
        raise NotImplementedError

    def check(self, placement: Placement) -> GoalResult:
        """Violation: sum over brokers of the distance outside [lower, upper], relative to the limit."""
        lower, upper = self.limits(placement)
        value = placement.metrics[:, self.metric]
        over = value - upper
        under = lower - value
        bad = np.flatnonzero((over > slack(upper)) | (under > slack(lower)))
        scale = np.where(over[bad] > 0, upper[bad], lower[bad])
        scale = np.where(np.abs(scale) > 0, np.abs(scale), 1.0)
        violation = float((np.maximum(over[bad], under[bad]) / scale).sum())
        worst = bad[np.argsort(-np.maximum(over[bad], under[bad]) / scale, kind="stable")]
        ids = [int(placement.arrays.broker_ids[b]) for b in worst]
        detail = describe([self.describe_broker(placement, b, lower[b], upper[b]) for b in worst[:5]], 5)
        if len(worst) > 5:
            detail += f" and {len(worst) - 5} more brokers"
        return GoalResult(self.name, self.hard, len(bad) == 0, violation, brokers=ids, detail=detail)

    def describe_broker(self, placement: Placement, broker: int, lower: float, upper: float) -> str:
        held = self.quantity(placement, broker, placement.metrics[broker, self.metric])
        bid = placement.arrays.broker_ids[broker]
        if not placement.arrays.holds_data[broker]:
            return f"broker {bid} ({_status(placement, broker)}) still holds {held}"
        if np.isfinite(lower):
            allowed = (
                f"allowed {self.format(placement, broker, lower)}-{self.format(placement, broker, upper)}"
            )
        else:
            allowed = f"limit {self.format(placement, broker, upper)}"
        return f"broker {bid}: {held} ({allowed})"

    def quantity(self, placement: Placement, broker: int, value: float) -> str:
        """'376 replicas' (counts) or 'disk 63.4%' (resources)."""
        return f"{self.format(placement, broker, value)} {self.label}"

    @property
    def label(self) -> str:
        return METRICS[self.metric]

    def format(self, placement: Placement, broker: int, value: float) -> str:
        return f"{value:.0f}"

    def optimize(self, search: Search) -> None:
        search.balance(self)


class ResourceGoal(BoundedGoal):
    """A bounded goal on one resource (disk, nw_in, nw_out, cpu); values print as % of capacity."""

    resource: ClassVar[str]

    @property
    def label(self) -> str:
        return self.resource

    def quantity(self, placement: Placement, broker: int, value: float) -> str:
        return f"{self.label} {self.format(placement, broker, value)}"

    def format(self, placement: Placement, broker: int, value: float) -> str:
        """Percent of the broker's capacity, the unit operators reason in."""
        capacity = placement.arrays.capacity[broker, RESOURCES.index(self.resource)]
        return f"{100.0 * value / capacity:.3g}%" if capacity > 0 else f"{value:.3g} (no capacity)"


def holding_brokers(placement: Placement) -> np.ndarray:
    """Brokers that may keep data after a plan; the others must end empty."""
    return placement.arrays.holds_data


def _status(placement: Placement, broker: int) -> str:
    return "dead" if not placement.arrays.alive[broker] else "decommissioned"
