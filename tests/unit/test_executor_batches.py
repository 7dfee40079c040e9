"""Batch planning on plain data: skipping, ordering strategies, concurrency caps, min-ISR safety."""

from __future__ import annotations

import itertools
import random

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.executor.batches import order_tasks, plan_batches, select_replica_tasks
from kafka_medic.executor.options import STRATEGIES, ExecutionOptions
from kafka_medic.executor.tasks import LEADER, REPLICA, half_way, leader_lagging, refuse_invalid, tasks_for
from kafka_medic.kafka.state import BrokerState, ClusterState, PartitionState
from kafka_medic.model import Move
from kafka_medic.units import MB


def cluster(partitions: list[PartitionState], dead: tuple[int, ...] = (), min_isr: int = 2) -> ClusterState:
    brokers = {b: BrokerState(b, "localhost", 9000 + b, None, b not in dead) for b in range(1, 7)}
    topics = {p.topic for p in partitions}
    return ClusterState("c", 1, brokers, partitions, {t: {"min.insync.replicas": str(min_isr)} for t in topics},
                        {}, "2026-01-01T00:00:00Z")


def partition(n: int, replicas: list[int], size_mb: float = 1, isr: list[int] | None = None, topic: str = "t"):
    leader = (isr or replicas)[0] if (isr is None or isr) else None
    return PartitionState(topic, n, replicas, leader, list(replicas if isr is None else isr),
                          sizes={b: int(size_mb * MB) for b in replicas})


def move(n: int, old: list[int], new: list[int], topic: str = "t") -> Move:
    return Move(topic, n, old, new, old[0], new[0])


def test_tasks_skip_moves_already_done_and_stale_ones():
    state = cluster([partition(0, [1, 2, 3]), partition(1, [4, 2, 3]), partition(2, [1, 2, 5]),
                     partition(3, [2, 1, 3])])
    tasks, skipped = tasks_for(
        [move(0, [1, 2, 3], [4, 2, 3]), move(1, [1, 2, 3], [4, 2, 3]), move(2, [1, 2, 3], [4, 2, 3]),
         move(3, [2, 1, 3], [1, 2, 3]), Move("t", 9, [1], [2], 1, 2)],
        state,
    )
    assert [(t.name, t.kind) for t in tasks] == [("t-0", REPLICA), ("t-3", REPLICA)]
    reasons = {s.task.name: s.reason for s in skipped}
    assert reasons["t-1"] == "already as proposed"
    assert "stale proposal" in reasons["t-2"]
    assert reasons["t-9"] == "no such partition in the cluster"
    assert tasks[0].added == (4,) and tasks[0].removed == (1,) and tasks[0].bytes_to_move == MB


def test_moves_that_do_not_fit_the_cluster_refuse_the_whole_proposal():
    state = cluster([partition(0, [1, 2, 3]), partition(1, [2, 1, 3]), partition(2, [1, 2, 5])])
    fitting = [move(0, [1, 2, 3], [4, 2, 3]), move(1, [1, 2, 3], [1, 2, 4]), move(2, [1, 2, 5], [1, 2, 5])]
    tasks, skipped = tasks_for(fitting, state)
    refuse_invalid(skipped)  # a reordered replica list (as a cancel leaves it) and a move already done fit
    assert [t.name for t in tasks] == ["t-0", "t-1"] and [s.reason for s in skipped] == ["already as proposed"]
    for bad, reason in [(move(0, [1, 2, 3], [9, 2, 3]), "t-0: broker 9 is not in the cluster"),
                        (Move("t", 7, [1], [2], 1, 2), "t-7: no such partition in the cluster"),
                        (move(2, [1, 2, 3], [4, 2, 3]), "t-2: replicas are [1, 2, 5], the proposal expected")]:
        with pytest.raises(MedicError, match="proposal refused, nothing changed: 1 of its moves") as info:
            refuse_invalid(tasks_for([*fitting, bad], state)[1])
        assert reason in str(info.value)


def test_leadership_only_move_is_a_leader_task():
    p = partition(0, [1, 2, 3])
    p.leader = 2
    tasks, _ = tasks_for([Move("t", 0, [1, 2, 3], [1, 2, 3], 2, 1)], cluster([p]))
    assert [t.kind for t in tasks] == [LEADER] and tasks[0].leader_changes
    reordered, _ = tasks_for([Move("t", 0, [1, 2, 3], [2, 1, 3], 2, 2)], cluster([p]))
    assert reordered[0].kind == REPLICA and not reordered[0].added  # a new order needs a reassignment, no copy


def test_destination_on_a_dead_broker_is_skipped():
    tasks, skipped = tasks_for([move(0, [1, 2, 3], [6, 2, 3])], cluster([partition(0, [1, 2, 3])], dead=(6,)))
    assert not tasks and skipped[0].reason == "destination broker 6 is not alive"


def test_in_flight_reassignment_to_the_same_target_is_adopted_not_resubmitted():
    p = partition(0, [4, 2, 3, 1])
    p.adding_replicas, p.removing_replicas = [4], [1]
    tasks, skipped = tasks_for([move(0, [1, 2, 3], [4, 2, 3])], cluster([p]))
    assert not skipped and tasks[0].old_replicas == (2, 3, 1)


def test_metadata_showing_a_move_half_way_without_a_reassignment_lags_the_controller():
    """Old and new replicas together while the controller lists no move: wait for the metadata, never
    call the move cancelled or undone (a loaded broker's copy lagged over 5 s after 1,000 moves)."""
    (task,), _ = tasks_for([move(0, [1, 2], [1, 3])], cluster([partition(0, [1, 2])]))
    assert half_way(task, partition(0, [1, 3, 2]))
    listed = partition(0, [1, 3, 2])
    listed.adding_replicas, listed.removing_replicas = [3], [2]
    assert not half_way(task, listed)  # in flight, as the controller says
    assert not half_way(task, partition(0, [1, 3])) and not half_way(task, partition(0, [1, 2]))
    (reorder,), _ = tasks_for([move(0, [1, 2], [2, 1])], cluster([partition(0, [1, 2])]))
    assert not half_way(reorder, partition(0, [1, 2]))  # a reorder is never half-way


def test_a_proposed_leader_goes_first_in_its_replica_list_so_an_election_can_make_it_and_keep_it():
    """A plan that keeps a non-preferred leader (or names one mid-list) gets a reorder: Kafka elects only
    the first replica, and its automatic leader rebalance would move leadership back there."""
    state = cluster([partition(0, [3, 4, 2], isr=[4, 3, 2]), partition(1, [3, 4, 1])])
    tasks, _ = tasks_for([Move("t", 0, [3, 4, 2], [3, 4, 1], 4, 4), Move("t", 1, [3, 4, 1], [3, 4, 1], 3, 4),
                          Move("t", 2, [1, 2], [1, 3], 1, None)], cluster([*state.partitions, partition(2, [1, 2])]))
    assert [(t.kind, t.new_replicas, t.new_leader) for t in tasks] == [
        (REPLICA, (4, 3, 1), 4), (REPLICA, (4, 3, 1), 4), (REPLICA, (1, 3), None)]


def test_a_done_move_showing_another_in_sync_leader_lags_the_election_only_then():
    """After the elections the report waits while a done move shows another leader than the proposed one
    in sync (a lagging copy of the metadata); not for a move not done, nor a proposed leader out of sync."""
    (task,), _ = tasks_for([Move("t", 0, [1, 2], [3, 1], 1, 3)], cluster([partition(0, [1, 2])]))
    assert leader_lagging(task, PartitionState("t", 0, [3, 1], 1, [1, 3]))
    assert not leader_lagging(task, PartitionState("t", 0, [3, 1], 3, [3, 1]))  # led as proposed
    assert not leader_lagging(task, PartitionState("t", 0, [3, 1], 1, [1]))  # 3 out of sync: no election made it
    assert not leader_lagging(task, PartitionState("t", 0, [1, 2], 1, [1, 2, 3]))  # not done
    (unled,), _ = tasks_for([Move("t", 0, [1, 2], [3, 1], 1, None)], cluster([partition(0, [1, 2])]))
    assert not leader_lagging(unled, PartitionState("t", 0, [3, 1], 1, [1, 3]))  # no leader proposed


def test_per_broker_concurrency_counts_destinations_and_live_sources():
    parts = [partition(i, [1, 2, 3]) for i in range(8)]
    state = cluster(parts)
    tasks, _ = tasks_for([move(i, [1, 2, 3], [4 + i % 2, 2, 3]) for i in range(8)], state)
    options = ExecutionOptions(concurrency=3, strategy=())
    first = select_replica_tasks(tasks, [], state, options)
    # Broker 1 loses a replica in every move: it allows 3 at a time.
    assert [t.partition for t in first.tasks] == [0, 1, 2]
    second = select_replica_tasks(tasks[3:], first.tasks[:1], state, options)
    assert [t.partition for t in second.tasks] == [3, 4]


def test_cluster_wide_cap():
    parts = [partition(i, [1 + i % 3, 1 + (i + 1) % 3]) for i in range(6)]
    state = cluster(parts)
    tasks, _ = tasks_for([move(i, p.replicas, [p.replicas[0], 4 + i % 3]) for i, p in enumerate(parts)], state)
    selection = select_replica_tasks(tasks, [], state, ExecutionOptions(concurrency=5, max_moves=4))
    assert len(selection.tasks) == 4


def test_default_concurrency_is_bytes_in_flight_per_destination_at_its_rate():
    """10 s at 2 MB/s is 20 MB per destination: two 8 MB moves on broker 4, one 30 MB move alone on broker 5,
    and thousands of small moves together (only the count caps stop them)."""
    parts = [partition(i, [1, 2], 8) for i in range(4)] + [partition(4, [1, 2], 30), partition(5, [1, 2], 30)]
    state = cluster(parts)
    tasks, _ = tasks_for([move(i, [1, 2], [1, 4]) for i in range(4)] + [move(4, [1, 2], [1, 5]),
                                                                       move(5, [1, 2], [1, 5])], state)
    options = ExecutionOptions(throttle=2 * MB, strategy=())
    assert [t.partition for t in select_replica_tasks(tasks, [], state, options).tasks] == [0, 1, 4]
    # Auto throttle: broker 4 copies at 4 MB/s, so it takes 40 MB (four moves); broker 5 keeps the options' rate.
    auto = select_replica_tasks(tasks, [], state, options, rates={4: 4 * MB})
    assert [t.partition for t in auto.tasks] == [0, 1, 2, 3, 4]
    small = [partition(i, [1, 2], 0.01) for i in range(3000)]
    state = cluster(small)
    tasks, _ = tasks_for([move(i, [1, 2], [1, 3 + i % 2]) for i in range(3000)], state)
    chosen = select_replica_tasks(tasks, [], state, ExecutionOptions(throttle=2 * MB, strategy=())).tasks
    assert len(chosen) == ExecutionOptions().max_moves_per_broker  # broker 2 leaves every move
    capped = select_replica_tasks(tasks, [], state, ExecutionOptions(throttle=2 * MB, max_moves=300))
    assert len(capped.tasks) == 300


def test_a_destinations_last_moves_go_with_the_batch_when_they_fit_in_half_a_budget_more():
    """20 MB budget (10 s at 2 MB/s): 22 moves of 1 MB to broker 4 go at once (22 <= 30 MB), rather than 20 now
    and a tail of 2 after the 20 finish together; 40 of them still go 20 at a time."""
    def chosen(count: int) -> int:
        parts = [partition(i, [1, 2], 1) for i in range(count)]
        state = cluster(parts)
        tasks, _ = tasks_for([move(i, [1, 2], [1, 4]) for i in range(count)], state)
        return len(select_replica_tasks(tasks, [], state, ExecutionOptions(throttle=2 * MB, strategy=())).tasks)

    assert (chosen(22), chosen(30), chosen(31), chosen(40)) == (22, 30, 20, 20)


def test_a_fixed_concurrency_replaces_the_byte_budget():
    parts = [partition(i, [1, 2], 30) for i in range(4)]
    state = cluster(parts)
    tasks, _ = tasks_for([move(i, [1, 2], [1, 4]) for i in range(4)], state)
    selection = select_replica_tasks(tasks, [], state, ExecutionOptions(throttle=2 * MB, concurrency=3))
    assert len(selection.tasks) == 3


def test_dead_sources_do_not_use_slots_so_heal_moves_are_limited_by_destinations():
    parts = [partition(i, [1, 2, 3], isr=[1, 2]) for i in range(6)]
    state = cluster(parts, dead=(3,))
    tasks, _ = tasks_for([move(i, [1, 2, 3], [1, 2, 4 + i % 2]) for i in range(6)], state)
    selection = select_replica_tasks(tasks, [], state, ExecutionOptions(concurrency=2))
    assert [t.new_replicas[2] for t in selection.tasks] == [4, 5, 4, 5]


def test_strategies_order_moves():
    parts = [partition(0, [1, 2, 3], 10), partition(1, [1, 2, 3], 30), partition(2, [1, 2, 3], 20, isr=[1, 2]),
             partition(3, [1, 2, 3], 5, isr=[1])]
    state = cluster(parts)
    tasks, _ = tasks_for([move(i, [1, 2, 3], [4, 2, 3]) for i in range(4)], state)
    names = lambda strategy: [t.partition for t in order_tasks(tasks, state, strategy)]  # noqa: E731
    assert names(("large_first",)) == [1, 2, 0, 3]
    assert names(("small_first",)) == [3, 0, 2, 1]
    assert names(("min_isr_first", "large_first")) == [2, 3, 1, 0]
    assert names(("urp_first",)) == [2, 3, 0, 1]
    assert names(("postpone_urp", "small_first")) == [0, 1, 3, 2]
    assert names(()) == [0, 1, 2, 3]


def test_strategy_order_is_lexicographic_over_the_chosen_strategies_with_ties_in_proposal_order():
    """Every ordered choice of one to three strategies on 60 moves of varied size, ISR and min ISR gives the
    order of one sort by the tuple of their keys (the definition; the code sorts once per strategy)."""
    rng = random.Random(7)
    parts = [partition(i, [1, 2, 3], rng.choice([1, 2, 3]), isr=rng.choice([[1, 2, 3], [1, 2], [3]]),
                       topic=rng.choice(["a", "b"])) for i in range(60)]
    state = cluster(parts)
    state.topic_configs["b"] = {"min.insync.replicas": "1"}
    tasks, _ = tasks_for([move(i, [1, 2, 3], [4, 2, 3], topic=p.topic) for i, p in enumerate(parts)], state)
    key = {  # each strategy's meaning, per move
        "min_isr_first": lambda t: len(state.by_key[t.key].isr) > state.min_insync_replicas(t.topic),
        "urp_first": lambda t: not state.by_key[t.key].under_replicated,
        "postpone_urp": lambda t: state.by_key[t.key].under_replicated,
        "large_first": lambda t: -t.size_bytes,
        "small_first": lambda t: t.size_bytes,
    }
    for n in (1, 2, 3):
        for strategy in itertools.permutations(STRATEGIES, n):
            expected = sorted(tasks, key=lambda t, s=strategy: tuple(key[name](t) for name in s))
            assert order_tasks(tasks, state, strategy) == expected, strategy


def test_move_removing_an_in_sync_replica_below_min_isr_is_held():
    # ISR [1] with min.insync.replicas=2: removing 1 is held; replacing the lagging 3 heals and may run.
    parts = [partition(0, [1, 2, 3], isr=[1]), partition(1, [1, 2, 3], isr=[1])]
    state = cluster(parts)
    tasks, _ = tasks_for([move(0, [1, 2, 3], [4, 2, 3]), move(1, [1, 2, 3], [1, 2, 4])], state)
    selection = select_replica_tasks(tasks, [], state, ExecutionOptions())
    assert [t.name for t in selection.tasks] == ["t-1"]
    assert "min.insync.replicas=2" in selection.held["t-0"]


def test_offline_partition_is_held():
    state = cluster([partition(0, [1, 2, 3], isr=[])])
    tasks, _ = tasks_for([move(0, [1, 2, 3], [4, 2, 3])], state)
    assert select_replica_tasks(tasks, [], state, ExecutionOptions()).held == {
        "t-0": "partition is offline: no leader to copy from"}


def test_plan_batches_puts_leadership_moves_in_their_own_batches():
    parts = [partition(i, [1, 2, 3]) for i in range(6)]
    parts[5].leader = 2
    state = cluster(parts)
    moves = [move(i, [1, 2, 3], [4, 2, 3]) for i in range(5)] + [Move("t", 5, [1, 2, 3], [1, 2, 3], 2, 1)]
    tasks, _ = tasks_for(moves, state)
    batches, held = plan_batches(tasks, state, ExecutionOptions(concurrency=2, leader_batch_size=4))
    assert not held
    assert [(b.kind, [t.partition for t in b.tasks]) for b in batches] == [
        (REPLICA, [0, 1]), (REPLICA, [2, 3]), (REPLICA, [4]), (LEADER, [0, 1, 2, 3]), (LEADER, [4, 5])]


@pytest.mark.parametrize("options", [
    {"concurrency": 0}, {"max_moves": 0}, {"batch_target_s": float("nan")}, {"batch_target_s": float("inf")},
])
def test_options_that_would_lift_every_limit_are_refused(options):
    with pytest.raises(MedicError, match="must be"):
        ExecutionOptions(**options)
