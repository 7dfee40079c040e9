"""The swap-partner index: replicas whose load lies in a box, nearest the centre first."""

from __future__ import annotations

import numpy as np

from kafka_medic.model.arrays import DISK, NW_IN
from kafka_medic.model.placement import METRICS, Placement
from kafka_medic.optimizer import partners
from kafka_medic.optimizer.partners import Partners
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
