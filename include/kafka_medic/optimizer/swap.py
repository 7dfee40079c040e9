"""Swaps: exchange a heavy replica for a light one when single moves cannot help (a mixin of `Search`).

A move changes replica counts and every resource on two brokers at once, so once earlier goals hold
tightly (counts within 10%, say) a broker can often shed only by taking something back.
"""

from __future__ import annotations

import numpy as np

from kafka_medic.optimizer.balance import covered

SWAP_PARTNERS = 4  # brokers at the other end of the band a broker tries to swap with
SWAP_CANDIDATES = 32  # replicas per side considered for a swap (so 32 x 32 pairs)
MAX_SWAPS = 16  # swaps with one partner per visit


class Swapping:
    def _swap(self, metric: int, broker: int, limit: float, tolerance: float, shed: bool) -> int:
        """Exchange replicas with the brokers at the other end of the band when moves alone cannot help
        (typically because a move would break an earlier goal, such as replica counts).

        Shedding, `broker` gives a replica heavy in `metric` for a light one from one of the least
        loaded brokers; filling, the reverse. Every bounded goal must accept the net change on both
        brokers, and the goal being balanced must gain.
        """
        p = self.p
        share = p.metrics[:, metric] / self.fair[:, metric]
        partners = np.flatnonzero(
            self.can_receive & (share < share[broker] if shed else share > share[broker])
        )
        partners = partners[np.argsort(share[partners] if shed else -share[partners], kind="stable")]
        swaps = 0
        for partner in partners[:SWAP_PARTNERS]:
            while swaps < MAX_SWAPS:
                need = p.metrics[broker, metric] - limit if shed else limit - p.metrics[broker, metric]
                if need <= tolerance:
                    return swaps
                heavy_on, light_on = (broker, int(partner)) if shed else (int(partner), broker)
                pair = self._best_swap(metric, heavy_on, light_on, need)
                if pair is None:
                    break
                self._move(pair[0], light_on)
                self._move(pair[1], heavy_on)
                swaps += 1
        return swaps

    def _best_swap(self, metric: int, heavy_on: int, light_on: int, need: float) -> tuple[int, int] | None:
        """The slots (a on `heavy_on`, b on `light_on`) whose exchange moves nearest `need` of `metric`
        from heavy_on to light_on per MB, accepted by every goal; None if there is none."""
        heavy, hv = self._swap_side(heavy_on, light_on, metric, largest=True)
        light, lv = self._swap_side(light_on, heavy_on, metric, largest=False)
        if not len(heavy) or not len(light):
            return None
        delta = hv[:, None, :] - lv[None, :, :]  # what heavy_on loses and light_on gains, per pair
        gain = delta[:, :, metric]
        ok = (gain > 0) & (self.p.slot_partition[heavy][:, None] != self.p.slot_partition[light][None, :])
        a = self.acceptance
        columns = a.columns[: a.k]
        d = delta[:, :, columns]
        ok &= (np.where(d > 0, d - a.room_down[heavy_on, : a.k], -d - a.room_up[heavy_on, : a.k]) <= 0).all(
            axis=2
        )
        ok &= (np.where(d > 0, d - a.room_up[light_on, : a.k], -d - a.room_down[light_on, : a.k]) <= 0).all(
            axis=2
        )
        ok &= self._band_improves(np.array([heavy_on]), np.array([light_on]), gain)
        if not ok.any():
            return None
        cost = self._cost(heavy)[:, None] + self._cost(light)[None, :] + self.cost_floor
        value = np.where(ok, covered(gain, need) / cost, -np.inf)
        i, j = np.unravel_index(int(np.argmax(value)), value.shape)
        return int(heavy[i]), int(light[j])

    def _swap_side(self, on: int, to: int, metric: int, largest: bool) -> tuple[np.ndarray, np.ndarray]:
        """Up to SWAP_CANDIDATES slots on `on` that may move to `to`, heaviest (or lightest) in `metric`."""
        slots = self._movable_slots(on)
        slots = slots[self._budget_allows_all(slots)]
        slots = slots[self.acceptance.placeable(slots, to)]
        vectors = self.p.slot_vectors(slots)
        order = np.argsort(-vectors[:, metric] if largest else vectors[:, metric], kind="stable")
        keep = order[:SWAP_CANDIDATES]
        return slots[keep], vectors[keep]
