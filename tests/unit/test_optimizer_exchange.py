"""Three-way leadership exchanges for leader counts, and the pair matching of two-way trades: the fast
searches give the answer of a plain search over every pair, on many brokers of several models."""

from __future__ import annotations

import numpy as np
import pytest

from kafka_medic.goals.base import Thresholds
from kafka_medic.goals.catalog import make_goals
from kafka_medic.model import Partition
from kafka_medic.model.placement import Placement
from kafka_medic.optimizer.balance import MIX
from kafka_medic.optimizer.exchange import PAIRED
from kafka_medic.optimizer.search import Search
from kafka_medic.optimizer.swap import _matching
from kafka_medic.synthetic import Scenario, synthetic_model

from .test_goals import cluster, load

GOALS = ["network_outbound_usage_distribution", "cpu_usage_distribution", "leader_replica_distribution"]


def _banded(model, goals: list[str] = GOALS) -> Search:
    """A search with `goals` accepted and the last one's band (leader counts) being balanced."""
    p = Placement.from_model(model)
    search = Search(p, np.ones(p.num_brokers, dtype=bool), np.ones(p.arrays.num_partitions, dtype=bool), None, 0)
    for goal in make_goals(goals, Thresholds()):
        search.acceptance.add(goal)
    lower, upper = search.acceptance.constraint_of(goal).target()
    search.band = (goal.metric, lower, upper)
    return search


def _plain_exchange(search: Search, broker: int, shed: bool):
    """What `_best_exchange` promises, by looking at every single and every pair: the lightest single
    with a pair whose net change every bounded goal accepts, and of its pairs the one changing `broker`
    least (as (partition, slot) moves), or None."""
    gives, takes = search._leadership_gives(broker), search._leadership_takes(broker)
    paired, single = (gives, takes) if shed else (takes, gives)
    if len(paired[0]) < 2 or not len(single[0]):
        return None
    scale = search.mean_replica[MIX]
    lightest = np.argsort(np.abs(paired[3][:, MIX] / scale).sum(axis=1), kind="stable")[:PAIRED]
    down, up = search.acceptance.room(broker)
    for k in np.argsort(np.abs(single[3][:, MIX] / scale).sum(axis=1), kind="stable"):
        best = None
        for x, a in enumerate(lightest):
            for b in lightest[x + 1 :]:
                if paired[0][a] == paired[0][b] or paired[2][a] == paired[2][b]:
                    continue
                net = paired[3][a] + paired[3][b] + single[3][k]
                if (net >= -down).all() and (net <= up).all():
                    size = np.abs(net[MIX] / scale).sum()
                    if best is None or size < best[0]:
                        best = (size, a, b)
        if best is not None:
            _, a, b = best
            return [(int(paired[0][a]), int(paired[1][a])), (int(paired[0][b]), int(paired[1][b])),
                    (int(single[0][k]), int(single[1][k]))]
    return None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_exchange_is_the_one_a_search_over_every_pair_finds(seed):
    model = synthetic_model(Scenario(brokers=9, partitions=240, racks=3, drifted_leaders=0.4), seed=seed)
    search = _banded(model)
    _, lower, upper = search.band
    count = search.p.metrics[:, search.band[0]]
    outside = [(b, True) for b in np.flatnonzero(count > upper)] + [(b, False) for b in np.flatnonzero(count < lower)]
    assert outside  # drifted leaders leave some broker outside the band
    found = 0
    for broker, shed in outside:
        fast, plain = search._best_exchange(int(broker), shed), _plain_exchange(search, int(broker), shed)
        # equally light pairs may tie: the same single, and a net change on the broker as small
        assert (fast is None) == (plain is None)
        if fast is not None:
            found += 1
            assert fast[2] == plain[2]
            assert _net_size(search, int(broker), fast) == pytest.approx(_net_size(search, int(broker), plain))
    assert found


def _net_size(search: Search, broker: int, moves) -> float:
    """How much the exchange `moves` changes `broker`'s leader loads, in mean replicas."""
    found = {}
    for parts, slots, _, change in (search._leadership_gives(broker), search._leadership_takes(broker)):
        found.update({(int(a), int(b)): c for a, b, c in zip(parts, slots, change, strict=True)})
    net = sum(found[move] for move in moves)
    return float(np.abs(net[MIX] / search.mean_replica[MIX]).sum())


def test_a_broker_whose_leaderships_all_go_to_one_broker_has_no_exchange():
    """Broker 1 leads p0 and p1, each followed only on broker 2: any two of them end on one broker,
    which a pair may not do, so there is no pair and no exchange (not an error)."""
    parts = [
        Partition("t", 0, [1, 2], 1, load()),
        Partition("t", 1, [1, 2], 1, load()),
        Partition("t", 2, [3, 1], 3, load()),
    ]
    search = _banded(cluster(parts, brokers=3), ["leader_replica_distribution"])
    search.band = (search.band[0], np.zeros(3), np.array([1.0, 5.0, 5.0]))  # broker 1 leads one too many
    assert len(search._leadership_gives(0)[0]) == 2 and len(search._leadership_takes(0)[0]) == 1
    assert search._best_exchange(0, shed=True) is None


def test_matching_pairs_equal_values_in_order():
    rng = np.random.default_rng(7)
    for _ in range(200):
        left, right = rng.integers(-1, 6, rng.integers(0, 25)), rng.integers(0, 6, rng.integers(0, 25))
        expected = np.nonzero((left[:, None] == right[None, :]) & (left >= 0)[:, None])
        got = _matching(left, right)
        assert [x.tolist() for x in got] == [x.tolist() for x in expected]
