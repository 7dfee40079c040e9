"""The swap-partner index: replicas whose load lies in a box, nearest the centre first."""

from __future__ import annotations

import numpy as np

from kafka_medic.model.arrays import DISK, NW_IN
from kafka_medic.model.placement import METRICS, Placement
from kafka_medic.optimizer import PlanOptions, partners, plan
from kafka_medic.optimizer.partners import Partners
from kafka_medic.optimizer.spread import Spreading
from kafka_medic.synthetic import Scenario, synthetic_model


def test_partners_are_the_replicas_in_the_box_nearest_first(monkeypatch):
    monkeypatch.setattr(partners, "CHUNK", 8)
    monkeypatch.setattr(partners, "MAX_CHUNKS", 1000)
    placement = Placement.from_model(synthetic_model(Scenario(brokers=6, partitions=200), seed=2))
    index = Partners(placement, [DISK, NW_IN])
    centre = index.vectors[17]
    low, high = np.full(len(METRICS), -np.inf), np.full(len(METRICS), np.inf)
    low[DISK], high[DISK] = centre[DISK] * 0.8, centre[DISK] * 1.25
    low[NW_IN], high[NW_IN] = centre[NW_IN] * 0.5, centre[NW_IN] * 2.0
    chunks = list(index.near(centre, low, high))

    v = index.vectors
    in_range = (v >= low) & (v <= high)
    assert in_range[:, DISK].sum() < in_range[:, NW_IN].sum()  # so disk is the metric walked
    found = np.concatenate(chunks)
    assert sorted(found.tolist()) == np.flatnonzero(in_range.all(axis=1)).tolist()
    assert 17 in found
    nearest = [np.abs(v[c, DISK] - centre[DISK]).min() for c in chunks if len(c)]
    assert nearest == sorted(nearest)  # outwards from the centre: no chunk nearer than the one before

def test_partners_stop_after_max_chunks(monkeypatch):
    monkeypatch.setattr(partners, "CHUNK", 8)
    monkeypatch.setattr(partners, "MAX_CHUNKS", 2)
    placement = Placement.from_model(synthetic_model(Scenario(brokers=6, partitions=200), seed=2))
    index = Partners(placement, [DISK])
    free = np.full(len(METRICS), np.inf)
    assert sum(len(c) for c in index.near(index.vectors[0], -free, free)) == 16


def test_a_search_that_found_no_partner_is_not_repeated_while_its_brokers_are_unchanged(monkeypatch):
    """The topic goal's later rounds ask again for partners of the same replicas; while no broker a swap
    could involve has changed, the answer is the same "none". Skipping those searches leaves the plan as
    it is and saves some of them (a fifth here, most on some models)."""
    model = synthetic_model(Scenario(brokers=16, partitions=1600, racks=3, new=3, partitions_per_topic=32), seed=219)
    searched = {"count": 0}
    partner = Spreading._partner

    def counting(self, *args):
        searched["count"] += 1
        return partner(self, *args)

    monkeypatch.setattr(Spreading, "_partner", counting)
    remembered = plan(model, PlanOptions(seed=1))
    with_memory = searched["count"]
    swap_out = Spreading._swap_out

    def forgetting(self, *args):
        self._no_partner.clear()
        return swap_out(self, *args)

    monkeypatch.setattr(Spreading, "_swap_out", forgetting)
    searched["count"] = 0
    forgotten = plan(model, PlanOptions(seed=1))
    assert remembered.moves == forgotten.moves
    assert with_memory < 0.9 * searched["count"]  # 6,461 of 7,846
