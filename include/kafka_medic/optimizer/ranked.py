"""The fast path of `Balancing._choose` while every candidate's value keeps its rank.

Filling a broker's replica (or leader) count, every candidate replica carries one of the metric, so
how much of the need a move covers is the same for all of them: a move's value per MB depends only on
its cost, and the tie-break only on its likeness. Both are fixed while the broker fills, so instead of
rescoring every candidate per move (O(candidates) each, 13,000 replicas on each of 12 source
brokers at 2.8M replicas: minutes for the new brokers alone), candidates are ranked once and picked
in O(log n) amortised: the nearly cheapest set only grows as candidates close (the cheapest open one
gets dearer), so it is a pointer into the cost order, and the best likeness among it a heap.

Filling a resource, candidates carry different loads, but while the need is at least every open
candidate's load each covers all of its load: its value per MB is its load over its cost, fixed as
well. The nearly cheapest set is the same pointer range; only the tie-break (likeness plus the share
of the need covered) moves with the need, so it is recomputed over that range alone.
"""

from __future__ import annotations

import heapq

import numpy as np


class RankedChoice:
    """Picks what `Balancing._choose(fit / cost, fit / need, like, open)` picks for a uniform positive
    `fit`: among the open candidates whose `value` (1 / cost) is within `near` of the best open one,
    the first with the highest `like`. Candidates only ever close (`open_` goes False), never reopen.

    With `load` (a resource fill, `value` then load / cost), `choose_covering` picks what `_choose`
    picks while the need covers every open candidate's load (else None: the caller rescores)."""

    def __init__(self, value: np.ndarray, like: np.ndarray, near: float, load: np.ndarray | None = None):
        self.value = value
        self.like = like
        self.load = load
        self.by_load = np.argsort(-load, kind="stable") if load is not None else None  # heaviest first
        self.near = near
        self.by_value = np.argsort(-value, kind="stable")  # best first
        self.by_like = np.argsort(-like, kind="stable")  # best first; ties to the lowest index, as argmax
        self.like_rank = np.empty(len(like), dtype=np.int64)
        self.like_rank[self.by_like] = np.arange(len(like))
        self.restart()

    def restart(self) -> None:
        """Forget what was closed, keeping the rankings: for a new set of open candidates (one that may
        open some closed before), which from then on again only close."""
        self.heaviest = 0  # position in `by_load` of the heaviest candidate that may still be open
        self.best = 0  # position in `by_value` of the best candidate that may still be open
        self.admitted = 0  # candidates of `by_value` pushed to the heap so far
        self.heap: list[int] = []  # like ranks of the admitted candidates (closed ones dropped lazily)

    def choose(self, open_: np.ndarray) -> int | None:
        """The candidate `_choose` would pick among `open_`, or None when none is open."""
        if not self._admit(open_, heap=True):
            return None
        while not open_[self.by_like[self.heap[0]]]:
            heapq.heappop(self.heap)
        return int(self.by_like[self.heap[0]])

    def choose_covering(self, open_: np.ndarray, need: float) -> int | None:
        """The candidate `_choose(covered(load, need) / cost, covered(load, need) / need, like, open_)`
        picks, when `need` is at least the load of every open candidate; None when it is not (or none
        is open)."""
        assert self.load is not None and self.by_load is not None
        while self.heaviest < len(self.by_load) and not open_[self.by_load[self.heaviest]]:
            self.heaviest += 1
        if self.heaviest == len(self.by_load) or self.load[self.by_load[self.heaviest]] > need:
            return None
        if not self._admit(open_, heap=False):
            return None
        near = self.by_value[self.best : self.admitted]
        near = near[open_[near]]
        fit = need - np.abs(need - self.load[near])  # `balance.covered`, the same float operations
        score = self.like[near] + fit / need
        return int(near[score == score.max()].min())

    def _admit(self, open_: np.ndarray, heap: bool) -> bool:
        """Move past closed candidates to the best open one and admit every candidate within `near` of
        it (to the heap for `choose`); False when none is open."""
        order, value = self.by_value, self.value
        while self.best < len(order) and not open_[order[self.best]]:
            self.best += 1
        if self.best == len(order):
            return False
        best = value[order[self.best]]
        threshold = best - self.near * abs(best)
        while self.admitted < len(order) and value[order[self.admitted]] >= threshold:
            if heap:
                heapq.heappush(self.heap, int(self.like_rank[order[self.admitted]]))
            self.admitted += 1
        return True
