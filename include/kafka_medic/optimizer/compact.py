"""Sending replicas home: after every goal, undo the moves the finished plan no longer needs (a mixin of
`Search`).

Goals run one after another, and a move an early goal made is often not needed once the later goals
have moved other replicas: a count goal fills a new broker with small replicas, say, and the disk goal
then moves large ones there too, so the broker a small replica left has room for it again. Each
moved replica goes back to a broker that held its partition before the plan, largest first, wherever
every goal accepts it there, as for any other move: a satisfied goal stays satisfied, a violated one
gets no worse. One a goal refuses alone (its home at a limit) may still go home in exchange for a
replica the plan moved onto that home, which takes its place. The plan then moves less data and fewer
replicas, and meets the same goals.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.goals.base import Goal
from kafka_medic.model.arrays import DISK
from kafka_medic.optimizer.state import SearchState

TRADE_TRIES = 4  # exchanges a candidate tries, best first, that a placement constraint refuses
# per home and round, the largest candidates offered a trade, and the replicas moved there they are
# paired with: 2.8M replicas on 215 brokers left ~1,300 of each a home, and 1,300 x 1,300 pairs took the
# plan from 117 s to 288 s
TRADE_CANDIDATES = 64
TRADE_PARTNERS = 256


class Compacting(SearchState):
    def send_home(self, goals: list[Goal]) -> int:
        """Move replicas back to brokers that held their partitions while every goal accepts it, alone
        or trading places with a replica the plan moved onto that broker; the replica moves dropped.
        Goals without a constraint cannot say whether they accept a move: when one of them ends worse,
        every replica goes back where the plan had put it."""
        p = self.p
        before = self._unguarded_violations(goals)
        planned = p.replica_moves
        sent: list[tuple[int, int]] = []  # (slot, broker the plan had put it on), each move made here
        slots, homes = self._homes()
        self._send_home_alone(slots, homes, np.ones(len(slots), dtype=bool), sent)
        # one round of trades for those still refused, and alone again what the trades made room for:
        # on 1,000 brokers with 50 new, rounds until none trades dropped 8% more moves for 50% more time
        done = len(sent)
        still = ~p.is_original(slots)
        self._trade_round(slots[still], homes[still], sent)
        self._send_home_alone(slots, homes, self._touched(slots, homes, sent[done:]), sent)
        if self._worse(goals, before):
            for slot, away in reversed(sent):
                self._move(slot, away)
        return planned - p.replica_moves

    def _send_home_alone(
        self, slots: np.ndarray, homes: np.ndarray, ask: np.ndarray, sent: list[tuple[int, int]]
    ) -> None:
        """Passes over the candidates (`ask` of `slots` with their `homes`) until none goes home alone."""
        while ask.any():
            done = len(sent)
            self._send_home_round(slots[ask], homes[ask], sent)
            ask = self._touched(slots, homes, sent[done:])

    def _touched(self, slots: np.ndarray, homes: np.ndarray, made: list[tuple[int, int]]) -> np.ndarray:
        """(n,) which of the moved `slots` the moves `made` may have made acceptable at their `homes`: a
        refused replica may be accepted once its home lost a replica (load and topic counts fall there),
        its broker gained one (it may give more) or its partition changed (its rack spread)."""
        p = self.p
        moved = np.array([slot for slot, _ in made], dtype=np.int64)
        lost, gained = [away for _, away in made], p.slot_broker[moved]
        touched = np.isin(homes, lost) | np.isin(p.slot_broker[slots], gained)
        touched |= np.isin(p.slot_partition[slots], p.slot_partition[moved])
        return touched & ~p.is_original(slots)

    def _send_home_round(self, slots: np.ndarray, homes: np.ndarray, sent: list[tuple[int, int]]) -> None:
        """One pass over moved replicas `slots` (largest first), each with a broker `homes` that held
        its partition: each goes back there if every goal accepts it now (recorded in `sent`).

        Asking each replica alone would cost a call per candidate (85,000 on 1,000 brokers with 50
        new). Every candidate is asked of its home all at once first, one call per home; then in
        order, again alone, as each one sent home changes what the next may do. A home that refuses
        one mostly refuses its smaller ones too (it only gains load in the pass, but for the replicas
        it gives back), so after a refusal all of that home's candidates still waiting are asked again
        at once: about two calls per replica sent home. The next pass asks again those a change may
        have made acceptable."""
        p = self.p
        waiting = np.zeros(len(slots), dtype=bool)
        for at in _by_home(homes):
            waiting[at] = self._accepts(slots[at], int(homes[at[0]]))
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

    def _trade_round(self, slots: np.ndarray, homes: np.ndarray, sent: list[tuple[int, int]]) -> None:
        """One pass over moved replicas `slots` (largest first) that their home `homes` refuses alone: each
        goes home if a replica the plan moved onto that home can take its place, every goal accepting
        the exchange on both brokers (recorded in `sent`). The plan drops a move (two when the other
        replica's own home is the one it takes).

        Per home, the largest candidates (TRADE_CANDIDATES) are paired at once with the replicas moved
        onto it (TRADE_PARTNERS, those nearest them in size), as a swap looks at two brokers' candidates;
        then the pairs are taken largest candidate first, each asked again as the exchanges before it
        left the loads."""
        for at in _by_home(homes):
            self._trade_at(int(homes[at[0]]), at, slots, sent)

    def _trade_at(self, home: int, at: np.ndarray, slots: np.ndarray, sent: list[tuple[int, int]]) -> None:
        """`_trade_round` at one `home`, for the candidates at positions `at` of `slots`."""
        p = self.p
        going = slots[at]  # largest first, as `slots` is
        going = going[~p.is_original(going)]
        going = going[self.acceptance.placeable(going, home)][:TRADE_CANDIDATES] if len(going) else going
        on = p.slots_on(home)
        taking = on[self.movable[p.slot_partition[on]] & ~p.is_original(on)]
        if not len(going) or not len(taking):
            return
        if len(taking) > TRADE_PARTNERS:  # those nearest the candidates in size: an exchange must be alike
            size = np.log1p(p.arrays.leader_load[p.slot_partition[taking], DISK])
            typical = np.median(np.log1p(p.arrays.leader_load[p.slot_partition[going], DISK]))
            taking = taking[np.argpartition(np.abs(size - typical), TRADE_PARTNERS)[:TRADE_PARTNERS]]
        away = p.slot_broker[going]
        vg, vt = p.slot_vectors(going), p.slot_vectors(taking)
        delta = vg[:, None, :] - vt[None, :, :]  # what home gains, and each candidate's broker loses
        # replicas whose own home is the candidate's broker first (two moves dropped), then the most alike
        returns = (p.original_brokers[p.slot_partition[taking]][None, :, :] == away[:, None, None]).any(axis=2)
        preference = (np.abs(delta) / self.mean_replica).sum(axis=2) - 1e9 * returns
        # every goal accepts the exchange on home, and on the candidate's broker (one per row)
        at_home = self.acceptance.change_ok(home, delta)
        at_away = self.acceptance.change_ok(away[:, None], -delta)
        left = np.zeros(len(taking), dtype=bool)  # replicas moved here that have left again
        may_go: dict[int, np.ndarray] = {}  # where each replica moved here may go instead, once asked
        for i in np.flatnonzero((at_home & at_away).any(axis=1)).tolist():
            tries = 0
            rank = np.where(at_home[i] & at_away[i], preference[i], np.inf)
            for j in np.argsort(rank).tolist():
                if not np.isfinite(rank[j]) or tries == TRADE_TRIES:
                    break
                if j not in may_go:
                    may_go[j] = self.acceptance.homes(int(taking[j]))
                if not may_go[j][away[i]]:
                    continue
                tries += 1
                a, b, y = int(going[i]), int(taking[j]), int(away[i])
                if not (
                    self.acceptance.placeable(going[i : i + 1], home)[0]
                    and self.acceptance.placeable(taking[j : j + 1], y)[0]
                ):
                    continue
                sent.extend([(a, y), (b, home)])
                self._move(a, home)
                self._move(b, y)
                # both brokers' loads changed for the candidates still to come, and b has left
                left[j] = True
                at_home[i + 1 :] = self.acceptance.change_ok(home, delta[i + 1 :]) & ~left
                same = np.flatnonzero(away[i + 1 :] == y) + i + 1
                at_away[same] = self.acceptance.change_ok(y, -delta[same])
                break

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


def _by_home(homes: np.ndarray) -> list[np.ndarray]:
    """The positions of `homes` grouped by home, each group in its original order (largest first)."""
    order = np.argsort(homes, kind="stable")
    return [at for at in np.split(order, np.flatnonzero(np.diff(homes[order])) + 1) if len(at)]
