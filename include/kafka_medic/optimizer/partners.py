"""Swap partners: the replicas whose load lies in a box, found through one sorted index per metric.

Once every broker sits at an edge of some band, a replica can only be exchanged for one that differs
from it by less than both brokers' headroom in every bounded metric at once. Replicas similar in one
metric (say disk) are mostly far off in another (nw_in), so the search asks the index for the box
itself: it takes the metric whose range holds the fewest replicas and filters those by the others,
nearest the centre first.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from kafka_medic.model.placement import Placement

CHUNK = 1024  # replicas of the narrowest metric's range looked at per step out from the centre
# chunks a search looks at before it gives up: most searches find nothing (the topic goal on 25 brokers in
# 3 racks, RF 3: 3,164 of 3,342), and those that do, mostly in the first chunk (153; 2 past the fourth).
# 4 instead of 8 on 30 models of 9-150 brokers: the topic goal 20-25% faster where racks bind every move,
# the same plan on most, as many goals met (bench/vs_cruise_control.py --random and small, medium)
MAX_CHUNKS = 4


class Partners:
    """Every slot's metric vector (by its role now; valid while no leadership moves) and, per metric
    in `metrics`, the slots sorted by it."""

    def __init__(self, placement: Placement, metrics: list[int]):
        self.vectors = placement.slot_vectors(np.arange(len(placement.slot_broker)))
        self.metrics = metrics
        self.boxed = np.ascontiguousarray(self.vectors[:, metrics])  # the columns a box bounds, gathered once
        self.order = [np.argsort(self.vectors[:, m], kind="stable") for m in metrics]
        self.sorted = [self.vectors[order, m] for order, m in zip(self.order, metrics, strict=True)]

    def near(self, centre: np.ndarray, low: np.ndarray, high: np.ndarray) -> Iterator[np.ndarray]:
        """Slots whose vectors lie in [low, high] (per METRICS column; +-inf where free), a chunk at a
        time outwards from `centre` in the box's narrowest metric, at most MAX_CHUNKS chunks."""
        ranges = [
            (int(np.searchsorted(s, low[m], side="left")), int(np.searchsorted(s, high[m], side="right")))
            for s, m in zip(self.sorted, self.metrics, strict=True)
        ]
        i = int(np.argmin([last - first for first, last in ranges]))
        first, last = ranges[i]
        box_low, box_high = low[self.metrics], high[self.metrics]
        lo = hi = min(max(int(np.searchsorted(self.sorted[i], centre[self.metrics[i]])), first), last)
        for _ in range(MAX_CHUNKS):
            if lo <= first and hi >= last:
                return
            new_lo, new_hi = max(first, lo - CHUNK // 2), min(last, hi + CHUNK // 2)
            slots = np.concatenate([self.order[i][new_lo:lo], self.order[i][hi:new_hi]])
            lo, hi = new_lo, new_hi
            v = self.boxed[slots]
            yield slots[((v >= box_low) & (v <= box_high)).all(axis=1)]
