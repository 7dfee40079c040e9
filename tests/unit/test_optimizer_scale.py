"""The planner's fast paths at scale give what the plain computations give."""

from __future__ import annotations

import types

import numpy as np
import pytest

from kafka_medic.model import placement as placement_module
from kafka_medic.model.placement import Placement
from kafka_medic.optimizer.balance import NEAR, Balancing, covered
from kafka_medic.optimizer.ranked import RankedChoice
from kafka_medic.optimizer.swap import SwapRanking, _leading
from kafka_medic.synthetic import Scenario, synthetic_model


@pytest.mark.parametrize("seed", range(20))
def test_ranked_choice_picks_what_choose_picks_for_counts(seed):
    rng = np.random.default_rng(seed)
    n = 300
    floor = 0.5
    # a third already moved (cost 0, so equally cheap), likeness with ties
    cost = np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(0.0, 1.0, n))
    like = np.round(rng.normal(size=n), 1)
    ranked = RankedChoice(1.0 / (cost + floor), like, NEAR)
    open_ = np.ones(n, dtype=bool)
    deficit = 400.0
    while open_.any():
        fit = covered(np.ones(n), deficit)
        expected = Balancing._choose(None, fit / (cost + floor), fit / deficit, like, open_)  # _choose reads no state
        assert ranked.choose(open_) == expected
        # the pick closes, and now and then others close too (placeable went stale)
        open_[expected] = False
        open_[rng.choice(n, size=rng.integers(0, 3))] = False
        deficit -= 1.0
    assert ranked.choose(open_) is None


@pytest.mark.parametrize("seed", range(10))
def test_a_restarted_ranked_choice_picks_what_choose_picks_among_candidates_it_closed_before(seed):
    """A fill's next tier opens candidates the one before left closed: after `restart` the rankings
    serve the new open set as a new RankedChoice would."""
    rng = np.random.default_rng(seed)
    n = 200
    cost, like = rng.lognormal(0.0, 1.0, n), np.round(rng.normal(size=n), 1)
    ranked = RankedChoice(1.0 / (cost + 0.5), like, NEAR)
    open_ = rng.random(n) < 0.3  # the first tier
    while open_.any():
        open_[ranked.choose(open_)] = False
    open_ = rng.random(n) < 0.5  # the next one, closed candidates among it
    ranked.restart()
    while open_.any():
        fit = covered(np.ones(n), 100.0)
        expected = Balancing._choose(None, fit / (cost + 0.5), fit / 100.0, like, open_)
        assert ranked.choose(open_) == expected
        open_[expected] = False


@pytest.mark.parametrize("seed", range(20))
def test_ranked_choice_picks_what_choose_picks_for_resources_while_the_need_covers_every_load(seed):
    rng = np.random.default_rng(seed)
    n = 300
    floor = 0.5
    cost = np.where(rng.random(n) < 0.3, 0.0, rng.lognormal(0.0, 1.0, n))
    load = np.round(rng.lognormal(0.0, 1.0, n), 2)  # ties among loads too
    like = np.round(rng.normal(size=n), 1)
    ranked = RankedChoice(load / (cost + floor), like, NEAR, load=load)
    open_ = np.ones(n, dtype=bool)
    deficit = float(load.sum()) * 0.6
    picked = 0
    while open_.any() and deficit > 0:
        fit = covered(load, deficit)
        expected = Balancing._choose(None, fit / (cost + floor), fit / deficit, like, open_)
        got = ranked.choose_covering(open_, deficit)
        if load[open_].max() > deficit:
            assert got is None  # the caller rescores
        else:
            assert got == expected
            picked += 1
        open_[expected] = False
        open_[rng.choice(n, size=rng.integers(0, 3))] = False
        deficit -= load[expected]
    assert picked > 20


@pytest.mark.parametrize("seed", range(5))
def test_the_band_check_of_one_move_answers_as_the_vector_one(seed):
    """`_band_improves_one` (Python floats) against `_band_improves` (numpy): bands open below or not,
    values inside, on and outside them, loads that end exactly on an edge."""
    rng = np.random.default_rng(seed)
    improving = 0
    for _ in range(2000):
        metrics = rng.normal(10, 5, (4, 1)).round(int(rng.integers(0, 3)))
        lower = np.where(rng.random(4) < 0.3, -np.inf, rng.normal(8, 3, 4).round(1))
        upper = np.where(np.isinf(lower), rng.normal(12, 3, 4), lower + np.abs(rng.normal(4, 3, 4))).round(1)
        search = types.SimpleNamespace(band=(0, lower, upper), p=types.SimpleNamespace(metrics=metrics))
        src, dst = (int(b) for b in rng.choice(4, 2, replace=False))
        load = float(rng.choice([rng.normal(2, 2), 0.0, 1.0, metrics[src, 0] - upper[src]]))
        vector = bool(Balancing._band_improves(search, np.array([src]), np.array([dst]), load)[0])
        assert Balancing._band_improves_one(search, src, dst, load) == vector
        improving += vector
    assert 200 < improving < 1800  # both answers occur


@pytest.mark.parametrize("seed", range(10))
def test_swap_ranking_orders_start_as_the_full_stable_sort(seed):
    rng = np.random.default_rng(seed)
    keys = np.round(rng.normal(size=2000), 1)  # many ties: the stable order decides among them
    full = np.argsort(keys, kind="stable")
    for k in (1, 10, 128, 1999, 2000, 5000):
        head = _leading(keys, k)
        assert len(head) >= min(k, len(keys))
        assert head.tolist() == full[: len(head)].tolist()
    ranking = SwapRanking(0, np.arange(len(keys)), keys, -keys)
    assert ranking.order(0, 300).tolist() == full[: len(ranking.order(0, 300))].tolist()
    assert ranking.order(1, 2000).tolist() == np.argsort(-keys, kind="stable").tolist()


def test_version_changes_with_every_replica_and_leadership_move():
    p = Placement.from_model(synthetic_model(Scenario(brokers=5, partitions=100, racks=0), seed=4))
    before = p.version.copy()
    part = 0
    slots = np.arange(p.start[part], p.start[part + 1])
    follower = int(slots[slots != p.leader_slot[part]][0])
    old, new = int(p.slot_broker[p.leader_slot[part]]), int(p.slot_broker[follower])
    p.move_leadership(part, follower)
    changed = np.flatnonzero(p.version != before)
    assert sorted(changed.tolist()) == sorted([old, new])
    before = p.version.copy()
    dst = next(b for b in range(5) if b not in p.brokers_of(part).tolist())
    p.move_replica(follower, dst)
    assert sorted(np.flatnonzero(p.version != before).tolist()) == sorted([new, dst])


def test_topic_counts_dense_and_sparse_agree_as_replicas_move(monkeypatch):
    model = synthetic_model(Scenario(brokers=8, partitions=400, racks=2), seed=3)
    dense = Placement.from_model(model)
    dense.topic_counts_at(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))  # built dense, lazily
    monkeypatch.setattr(placement_module, "DENSE_TOPIC_COUNTS", 0)
    sparse = Placement.from_model(model)
    topics = dense.arrays.partition_topic[dense.slot_partition]
    brokers = np.arange(len(topics)) % dense.num_brokers
    rng = np.random.default_rng(3)
    for _ in range(3):
        assert dense.topic_counts_at(topics, brokers).tolist() == sparse.topic_counts_at(topics, brokers).tolist()
        assert isinstance(dense._topic_broker, np.ndarray) and isinstance(sparse._topic_broker, dict)
        for slot in rng.choice(len(topics), size=50, replace=False):
            dst = int((dense.slot_broker[slot] + 1) % dense.num_brokers)
            dense.move_replica(int(slot), dst)
            sparse.move_replica(int(slot), dst)
    t = int(topics[0])
    on_each = dense.topic_counts_at(np.full(dense.num_brokers, t), np.arange(dense.num_brokers))
    assert on_each.tolist() == dense.topic_counts(t).tolist()


def test_slots_on_follows_moves_and_cannot_be_changed():
    p = Placement.from_model(synthetic_model(Scenario(brokers=5, partitions=100, racks=0), seed=4))
    before = p.slots_on(0)
    assert p.slots_on(0) is before  # kept while broker 0 does not change
    with pytest.raises(ValueError):
        before[0] = 1
    slot = int(before[0])
    p.move_replica(slot, 1 if slot not in p.slots_on(1) else 2)
    assert slot not in p.slots_on(0).tolist()
    assert sorted(p.slots_on(0).tolist() + [slot]) == sorted(before.tolist())
    assert slot in p.slots_on(int(p.slot_broker[slot])).tolist()


@pytest.mark.parametrize("seed", range(5))
def test_swap_rankings_carried_over_a_swap_equal_rankings_built_anew(seed):
    from kafka_medic.model.arrays import DISK
    from kafka_medic.optimizer.search import Search

    p = Placement.from_model(synthetic_model(Scenario(brokers=12, partitions=600, racks=0), seed=seed))
    movable = np.random.default_rng(seed).random(p.arrays.num_partitions) > 0.2  # some slots not ranked
    search = Search(p, np.ones(p.num_brokers, dtype=bool), movable, None, seed)
    rng = np.random.default_rng(seed)
    carried = 0
    for _ in range(100):
        heavy_on, light_on = (int(b) for b in rng.choice(p.num_brokers, size=2, replace=False))
        rankings = [
            search._swap_ranking(heavy_on, DISK, True, search._budget_spent()),
            search._swap_ranking(light_on, DISK, False, search._budget_spent()),
        ]
        if not len(search.movable_slots(heavy_on)) or not len(search.movable_slots(light_on)):
            continue  # a new broker, empty so far
        a = int(rng.choice(search.movable_slots(heavy_on)))
        b = int(rng.choice(search.movable_slots(light_on)))
        part_a, part_b = int(p.slot_partition[a]), int(p.slot_partition[b])
        if light_on in p.brokers_of(part_a).tolist() or heavy_on in p.brokers_of(part_b).tolist():
            continue
        search._swap_pair(a, b, heavy_on, light_on)
        for broker, largest, ranking in ((heavy_on, True, rankings[0]), (light_on, False, rankings[1])):
            assert ranking.version == p.version[broker]  # carried, not dropped
            fresh = search.movable_slots(broker)
            assert ranking.slots.tolist() == fresh.tolist()
            for kept, built in zip(ranking.keys, search._swap_keys(fresh, DISK, largest), strict=True):
                assert kept.tolist() == built.tolist()
            carried += 1
    assert carried > 40


def test_swap_rankings_follow_the_move_budget_as_it_is_spent_and_freed():
    """A ranking is kept while its broker's replicas stay put, but the budget changes elsewhere: while it
    is spent a broker's ranking holds only its moved replicas, and once a replica sent home frees it
    again, all of them; a swap then carries the rankings over (this raised IndexError when the ranking
    drawn while spent was carried)."""
    from kafka_medic.model.arrays import DISK
    from kafka_medic.optimizer.search import Search

    p = Placement.from_model(synthetic_model(Scenario(brokers=6, partitions=120, racks=0), seed=1))
    search = Search(p, np.ones(p.num_brokers, dtype=bool), np.ones(p.arrays.num_partitions, dtype=bool), 1, 0)
    heavy_on, light_on, away, to = 0, 1, 2, 3
    slot = next(int(s) for s in p.slots_on(away) if to not in p.brokers_of(int(p.slot_partition[s])).tolist())
    search._move(slot, to)  # the budget (one move) is spent
    nothing_moved_there = search._swap_ranking(heavy_on, DISK, True, search._budget_spent())
    assert nothing_moved_there.slots.tolist() == []
    search._move(slot, away)  # back home: the budget is free again, heavy_on's version unchanged
    ranking = search._swap_ranking(heavy_on, DISK, True, search._budget_spent())
    assert ranking.slots.tolist() == search.movable_slots(heavy_on).tolist() and len(ranking.slots) > 0
    a = next(int(s) for s in p.slots_on(heavy_on) if light_on not in p.brokers_of(int(p.slot_partition[s])).tolist())
    b = next(int(s) for s in p.slots_on(light_on) if heavy_on not in p.brokers_of(int(p.slot_partition[s])).tolist())
    search._swap_ranking(light_on, DISK, False, search._budget_spent())
    search._swap_pair(a, b, heavy_on, light_on)  # two moves: the budget is spent again
    assert search._swap_ranking(heavy_on, DISK, True, search._budget_spent()).slots.tolist() == [b]


@pytest.mark.parametrize("seed", range(5))
def test_a_swap_taken_from_a_menu_after_another_is_accepted_as_the_loads_now_are(seed):
    """The swaps after the first from one look at two brokers' candidates (`SwapMenu`) are re-checked
    against the goals: here the receiving broker's disk limit leaves room for one swap, so the menu's
    next best pair, which fitted when the menu was drawn up, must be refused."""
    from kafka_medic.goals.base import DEFAULT_CAPACITY_THRESHOLDS, Thresholds
    from kafka_medic.goals.capacity import DiskCapacityGoal
    from kafka_medic.model.arrays import DISK
    from kafka_medic.optimizer.search import Search

    model = synthetic_model(Scenario(brokers=6, partitions=300, racks=0), seed=seed)
    disk = Placement.from_model(model).metrics[:, DISK]
    heavy_on, light_on = int(np.argmax(disk)), int(np.argmin(np.where(disk > 0, disk, np.inf)))  # not a new one

    def search_under(disk_share: float | None) -> Search:
        p = Placement.from_model(model)
        search = Search(p, np.ones(p.num_brokers, dtype=bool), np.ones(p.arrays.num_partitions, dtype=bool), None, 0)
        if disk_share is not None:
            capacity = {**DEFAULT_CAPACITY_THRESHOLDS, "disk": disk_share}
            search.acceptance.add(DiskCapacityGoal(Thresholds(capacity=capacity)))
        # the disk band being balanced: heavy_on above it, light_on below
        search.band = (DISK, np.zeros(p.num_brokers), np.full(p.num_brokers, (disk[heavy_on] + disk[light_on]) / 2))
        return search

    free = search_under(None)
    need = float(disk[heavy_on] - disk[light_on])
    menu = free._swap_menu(DISK, heavy_on, light_on)
    first = menu.delta[menu.best(need)]
    room = 1.01 * first[DISK]  # the first swap fits, and leaves next to no room
    search = search_under((disk[light_on] + room) / model.brokers[light_on].capacity["disk"])
    menu = search._swap_menu(DISK, heavy_on, light_on)
    pair = menu.best(need)
    menu.taken(*pair)
    search._swap_pair(int(menu.heavy[pair[0]]), int(menu.light[pair[1]]), heavy_on, light_on)
    stale = menu.best(need - float(menu.delta[pair][DISK]))
    assert stale is not None and not search.acceptance.change_ok(light_on, menu.delta[stale][None])[0]
    following = search._next_swap(menu, heavy_on, light_on, need)
    assert following != stale
    assert following is None or search.acceptance.change_ok(light_on, menu.delta[following][None])[0]


def test_a_count_fill_takes_data_the_disk_goal_ahead_wants_moved_as_free():
    """Filling a new broker with replicas, a count goal takes what the disk goal still ahead would move
    anyway (off a broker above its disk band, up to the new broker's shortfall per replica it is still to
    receive) as costing nothing, instead of the smallest replicas, which that goal would swap out again."""
    from kafka_medic.goals.base import Thresholds
    from kafka_medic.goals.distribution import DiskUsageDistributionGoal
    from kafka_medic.model import Partition
    from kafka_medic.model.arrays import DISK
    from kafka_medic.model.placement import REPLICAS
    from kafka_medic.optimizer.search import Search

    from .test_goals import cluster, load

    sizes = {1: 90.0, 2: 10.0, 3: 30.0}  # broker 1 far above the disk band, 2 below it, 3 inside; 4 is new
    parts = [Partition("t", i, [b], b, load(disk=sizes[b])) for b in sizes for i in range(10 * b, 10 * b + 10)]
    p = Placement.from_model(cluster(parts))
    search = Search(p, np.ones(p.num_brokers, dtype=bool), np.ones(p.arrays.num_partitions, dtype=bool), None, 0)
    new = 3
    assert search._fill_replicas(REPLICAS, new, 1.0, 0.01) == 1  # no disk goal ahead: the smallest
    assert p.metrics[new, DISK] == 10.0
    p = Placement.from_model(cluster(parts))
    search = Search(p, np.ones(p.num_brokers, dtype=bool), np.ones(p.arrays.num_partitions, dtype=bool), None, 0)
    search.disk_band = DiskUsageDistributionGoal(Thresholds()).limits(p)
    assert search._fill_replicas(REPLICAS, new, 1.0, 0.01) == 1
    assert p.metrics[new, DISK] == 90.0  # from broker 1, which the disk goal must bring down anyway
    assert p.metrics[0, DISK] == 810.0
