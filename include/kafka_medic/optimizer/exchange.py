"""Leadership exchanges for leader counts: a broker gives two leaderships and takes one back (or takes
two and gives one), so its count moves by one while its other leader loads hardly change (a mixin of
`Search`).

A broker above the leader-count band whose nw_out (or cpu) sits at the lower edge of its band cannot
hand any leadership away alone: each carries nw_out. Giving two light ones and taking back one about as
heavy as both can keep every band, with each of the three other brokers taking part only if it has the
room: the three-way trade that single moves and two-way trades (which keep counts) cannot make. Below
the band, the mirror image. No data moves.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.optimizer.balance import MIX
from kafka_medic.optimizer.state import SearchState

PAIRED = 48  # lightest leaderships considered on the side that moves two


class Exchanging(SearchState):
    def _best_exchange(self, broker: int, shed: bool) -> list[tuple[int, int]] | None:
        """Three (partition, slot of its new leader) moves: two on the paired side (gives when shedding,
        takes when filling) and one on the other, whose net change on `broker` every bounded goal
        accepts: the lightest single that has such a pair, with the pair that changes `broker` least;
        None if there is none."""
        gives, takes = self._leadership_gives(broker), self._leadership_takes(broker)
        paired, single = (gives, takes) if shed else (takes, gives)
        if len(paired[0]) < 2 or not len(single[0]):
            return None
        scale = self.mean_replica[MIX]
        size = np.abs(paired[3][:, MIX] / scale).sum(axis=1)
        paired = tuple(a[np.argsort(size, kind="stable")[:PAIRED]] for a in paired)
        parts, _, ends, change = paired
        i, j = np.triu_indices(len(parts), k=1)
        distinct = (parts[i] != parts[j]) & (ends[i] != ends[j])  # a broker giving or taking twice adds up
        i, j = i[distinct], j[distinct]
        if not len(i):
            return None
        # leadership moves only some metrics; every bound on those, as the range the net change may take
        down, up = self.acceptance.room(broker)
        columns = np.flatnonzero((change != 0).any(axis=0))
        pair_change = change[i][:, columns] + change[j][:, columns]
        # pairs sorted by the metric with the narrowest range: each single then needs a slice of them
        narrowest = int(np.argmin((down[columns] + up[columns]) / self.mean_replica[columns]))
        order = np.argsort(pair_change[:, narrowest], kind="stable")
        pair_change, i, j = pair_change[order], i[order], j[order]
        key = pair_change[:, narrowest]
        # the lightest single first: the first with any pair is taken, with the pair that changes
        # `broker` least
        singles = np.argsort(np.abs(single[3][:, MIX] / scale).sum(axis=1), kind="stable")
        # a single no pair can match on some column, whatever the pair, needs no look at its slice
        lowest, highest = pair_change.min(axis=0), pair_change.max(axis=0)
        reach = single[3][singles][:, columns]
        matched = ((up[columns] - reach >= lowest) & (-down[columns] - reach <= highest)).all(axis=1)
        for k in singles[matched]:
            single_change = single[3][k]
            low, high = -down[columns] - single_change[columns], up[columns] - single_change[columns]
            first = np.searchsorted(key, low[narrowest], side="left")
            last = np.searchsorted(key, high[narrowest], side="right")
            window = pair_change[first:last]
            c = first + np.flatnonzero(((window >= low) & (window <= high)).all(axis=1))
            if len(c):
                break
        else:
            return None
        net = change[i[c]] + change[j[c]] + single_change
        c = int(c[np.argmin(np.abs(net[:, MIX] / scale).sum(axis=1))])
        return [
            (int(parts[i[c]]), int(paired[1][i[c]])),
            (int(parts[j[c]]), int(paired[1][j[c]])),
            (int(single[0][k]), int(single[1][k])),
        ]

    def _leadership_gives(self, broker: int) -> tuple[np.ndarray, ...]:
        """(partitions, new leader slots, receiving brokers, change on `broker`) of each leadership
        `broker` could hand to a follower that accepts it alone and stays in the count band."""
        p = self.p
        assert self.band is not None  # exchanges are made only while a band is balanced
        metric, _, upper = self.band
        parts, new_slot = self._handoffs(broker)
        receiver = p.slot_broker[new_slot]
        delta = p.leadership_delta(parts)
        ok = self.can_receive[receiver] & self.acceptance.change_ok(receiver, delta)
        ok &= p.metrics[receiver, metric] + delta[:, metric] <= upper[receiver]
        return parts[ok], new_slot[ok], receiver[ok], -delta[ok]

    def _leadership_takes(self, broker: int) -> tuple[np.ndarray, ...]:
        """(partitions, `broker`'s slots, giving brokers, change on `broker`) of each leadership
        `broker` could take from a leader that accepts losing it alone and stays in the count band."""
        p = self.p
        assert self.band is not None
        metric, lower, _ = self.band
        slots, parts, giver = self._followed(broker)
        delta = p.leadership_delta(parts)
        ok = self.can_receive[broker] & self.acceptance.change_ok(giver, -delta)
        ok &= p.metrics[giver, metric] - delta[:, metric] >= lower[giver]
        return parts[ok], slots[ok], giver[ok], delta[ok]
