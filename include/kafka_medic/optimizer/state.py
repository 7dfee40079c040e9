"""What the parts of the move search share, declared in one place so each part can be read (and
type-checked) on its own.

`Search` is assembled from mixins (`Balancing`, `Exchanging`, `Swapping`, `Spreading`), each the
optimize strategy of one goal family, and the two steps after every goal (`Compacting`, `LoweringPeaks`);
they read the state `Search` sets up and call steps that `Search` or a sibling mixin defines.
`SearchState` is their common base: it names that state with its types and declares those steps. It
holds no data and no code: `Search.__init__` sets the attributes, and every abstract step here is
defined by `Search` or one mixin, so a `Search` missing one fails when it is created, not midway
through a plan.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from kafka_medic.goals.base import Goal
from kafka_medic.model.placement import Placement
from kafka_medic.optimizer.acceptance import Acceptance


class SearchState(ABC):
    p: Placement  # changed in place by every move
    can_receive: np.ndarray  # (B,) brokers that may receive replicas
    movable: np.ndarray  # (P,) partitions the plan may change
    move_budget: int | None  # most replica moves the goal being optimized may bring the plan to; None: no limit
    acceptance: Acceptance  # the goals optimized so far (and the one being optimized)
    fair: np.ndarray  # (B, METRICS) each broker's fair share of each metric
    cost_floor: float  # MB a move costs at least, when ranking candidates by cost
    mean_replica: np.ndarray  # (METRICS,) the cluster's mean replica: the unit of each metric
    band: tuple[int, np.ndarray, np.ndarray] | None  # (metric, lower, upper) being balanced
    density_floor: float  # how much denser in the balanced metric than the mean replica a move must be
    reasons: list[str]  # evacuation, then each goal optimized so far
    reason: np.ndarray  # (P,) index into `reasons` of what first changed each partition, -1 if none
    topic_room: np.ndarray | None  # (T,) the topic goal's upper limits while that goal is still ahead
    disk_band: tuple[np.ndarray, np.ndarray] | None  # the disk goal's (lower, upper) while it is still ahead

    # ---- shared steps (`Search`) ----------------------------------------------------------------

    @abstractmethod
    def _pick(self, mask: np.ndarray, metric: int, vector: np.ndarray, slot: int | None = None) -> int: ...

    @abstractmethod
    def _in_tier(self, tier: int, slots: np.ndarray, dst: int) -> np.ndarray: ...

    @abstractmethod
    def _topic_crowded(self, slots: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _move(self, slot: int, dst: int, reason: int | None = None) -> None: ...

    @abstractmethod
    def _lead(self, part: int, slot: int) -> None: ...

    @abstractmethod
    def _mark(self, part: int, reason: int | None = None) -> None: ...

    @abstractmethod
    def movable_slots(self, broker: int, spent: bool | None = None) -> np.ndarray: ...

    @abstractmethod
    def move_anywhere(self, slot: int, strict: bool = False, prefer: np.ndarray | None = None) -> int | None: ...

    @abstractmethod
    def _cost(self, slots: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _unguarded_violations(self, goals: list[Goal]) -> list[float]: ...

    @abstractmethod
    def _worse(self, goals: list[Goal], before: list[float]) -> bool: ...

    @abstractmethod
    def _dense_enough(self, load: np.ndarray, cost: np.ndarray, metric: int) -> np.ndarray: ...

    @abstractmethod
    def _budget_spent(self) -> bool: ...

    @abstractmethod
    def _budget_allows(self, slot: int) -> bool: ...

    @abstractmethod
    def _within_budget(self, slots: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _budget_allows_all(self, slots: np.ndarray, moves: int = 1) -> np.ndarray: ...

    # ---- steps one mixin defines for another: `Balancing` ---------------------------------------

    @abstractmethod
    def _followed(self, broker: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...

    @abstractmethod
    def _handoffs(self, broker: int) -> tuple[np.ndarray, np.ndarray]: ...

    @abstractmethod
    def _band_improves(self, src: np.ndarray, dst: np.ndarray, load: np.ndarray | float) -> np.ndarray: ...

    @abstractmethod
    def _shed(self, metric: int, src: int, limit: float, leaders: bool, replicas: bool) -> int: ...

    # ---- `Swapping` ------------------------------------------------------------------------------

    @abstractmethod
    def _swap(self, metric: int, broker: int, limit: float, tolerance: float, shed: bool) -> int: ...

    @abstractmethod
    def _best_leadership_trade(
        self, metric: int, broker: int, need: float, shed: bool
    ) -> tuple[tuple[int, int], tuple[int, int]] | None: ...

    # ---- `Exchanging` ----------------------------------------------------------------------------

    @abstractmethod
    def _best_exchange(self, broker: int, shed: bool) -> list[tuple[int, int]] | None: ...
