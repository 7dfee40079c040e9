"""Sending replicas home: after every goal, undo the moves the finished plan no longer needs (a mixin of
`Search`).

Goals run one after another, and a move an early goal made is often not needed once the later goals
have moved other replicas: a count goal fills a new broker with small replicas, say, and the disk goal
then moves large ones there too, so the broker a small replica left has room for it again. Each
moved replica goes back to a broker that held its partition before the plan, largest first, wherever
every goal accepts it there, as for any other move: a satisfied goal stays satisfied, a violated one
gets no worse. The plan then moves less data and fewer replicas, and meets the same goals.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.goals.base import Goal
from kafka_medic.model.arrays import DISK
from kafka_medic.optimizer.state import SearchState


class Compacting(SearchState):
    def send_home(self, goals: list[Goal]) -> int:
        """Move replicas back to brokers that held their partitions while every goal accepts it; the
        number sent home. Goals without a constraint cannot say whether they accept a move: when one of
        them ends worse, every replica sent home goes back where the plan had put it."""
        p = self.p
        unguarded = [g for g in goals if g.constraint is None]
        before = [g.check(p).violation for g in unguarded]
        sent: list[tuple[int, int]] = []  # (slot, broker the plan had put it on)
        slots, homes = self._homes()
        ask = np.ones(len(slots), dtype=bool)
        while ask.any():
            went = self._send_home_round(slots[ask], homes[ask], sent)
            # a refused replica may be accepted after a pass changed its home (which may have lost load),
            # its broker (which may have gained some) or its partition (whose rack spread changed)
            changed = np.union1d(p.slot_broker[went], [away for _, away in sent[len(sent) - len(went) :]])
            ask = np.isin(homes, changed) | np.isin(p.slot_broker[slots], changed)
            ask |= np.isin(p.slot_partition[slots], p.slot_partition[went])
            ask &= ~p.is_original(slots)
        if any(g.check(p).violation > was for g, was in zip(unguarded, before, strict=True)):
            for slot, away in reversed(sent):
                self._move(slot, away)
            return 0
        return len(sent)

    def _send_home_round(self, slots: np.ndarray, homes: np.ndarray, sent: list[tuple[int, int]]) -> np.ndarray:
        """One pass over moved replicas `slots` (largest first), each with a broker `homes` that held
        its partition: each goes back there if every goal accepts it now; the slots sent home.

        Asking each replica alone would cost a call per candidate (85,000 on 1,000 brokers with 50
        new). Every candidate is asked of its home all at once first, one call per home; then in
        order, again alone, as each one sent home changes what the next may do. A home that refuses
        one mostly refuses its smaller ones too (it only gains load in the pass, but for the replicas
        it gives back), so after a refusal all of that home's candidates still waiting are asked again
        at once: about two calls per replica sent home. The next pass asks again those a change may
        have made acceptable."""
        p = self.p
        waiting = np.zeros(len(slots), dtype=bool)
        by_home = np.argsort(homes, kind="stable")
        for at in np.split(by_home, np.flatnonzero(np.diff(homes[by_home])) + 1):
            if len(at):
                waiting[at] = self._accepts(slots[at], int(homes[at[0]]))
        went = []
        for i in np.flatnonzero(waiting).tolist():
            slot, home = int(slots[i]), int(homes[i])
            if not waiting[i] or p.is_original(slots[i : i + 1])[0]:
                continue  # refused meanwhile, or sent to another of its homes already
            if not self._accepts(slots[i : i + 1], home)[0]:
                later = np.flatnonzero(waiting[i:] & (homes[i:] == home)) + i
                waiting[later] = self._accepts(slots[later], home)
                continue
            sent.append((slot, int(p.slot_broker[slot])))
            self._move(slot, home)
            went.append(slot)
        return np.array(went, dtype=np.int64)

    def _accepts(self, slots: np.ndarray, home: int) -> np.ndarray:
        """(n,) whether every goal accepts each of `slots` moving to `home` now."""
        return self.acceptance.moves_to(slots, self.p.slot_vectors(slots), home)

    def _homes(self) -> tuple[np.ndarray, np.ndarray]:
        """(slot, broker) pairs: each moved replica of a partition the plan may change, and each broker
        that held its partition before the plan and no longer does; largest partitions first."""
        p = self.p
        slots = np.arange(len(p.slot_broker))
        slots = slots[self.movable[p.slot_partition] & ~p.is_original(slots)]
        parts = p.slot_partition[slots]
        homes = p.original_brokers[parts]
        gone = (homes >= 0) & ~(homes[:, :, None] == p.partition_brokers(parts)[:, None, :]).any(axis=2)
        gone &= self.can_receive[np.maximum(homes, 0)]
        row, column = np.nonzero(gone)
        order = np.argsort(-p.arrays.leader_load[parts[row], DISK], kind="stable")
        return slots[row[order]], homes[row[order], column[order]]
