"""The executor journal on SQLite: one execution per cluster, claims, submissions, throttle originals."""

from __future__ import annotations

import os
import random
import socket
import threading

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.executor import journal as j
from kafka_medic.executor.journal import Journal, proposal_hash
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.model import Move, Proposal

TASKS = [Task("t", i, REPLICA, (1, 2), (3, 2), 1, 3, 1000) for i in range(3)]
PROPOSAL = Proposal("c", [], [Move("t", i, [1, 2], [3, 2], 1, 3) for i in range(3)])


@pytest.fixture
def journal(tmp_path):
    journal = Journal(f"sqlite:///{tmp_path / 'store.db'}")
    yield journal
    journal.close()


def test_one_execution_per_cluster(journal):
    first = journal.create("c", PROPOSAL, ExecutionOptions(), TASKS)
    assert first and journal.create("c", PROPOSAL, ExecutionOptions(), TASKS) is None
    assert journal.lock_holder("c").id == first
    assert journal.create("other", PROPOSAL, ExecutionOptions(), TASKS)
    journal.finish(first, "succeeded", None, {"done": []})
    assert journal.lock_holder("c") is None
    assert journal.get(first).status == "succeeded" and journal.get(first).report == {"done": []}


def test_claim_refuses_a_live_owner_and_takes_over_from_a_dead_one(journal):
    execution_id = journal.create("c", PROPOSAL, ExecutionOptions(), TASKS)
    assert journal.claim(execution_id).owned_by_me()
    journal._update(execution_id, owner_pid=1)  # pid 1 is alive and is not us
    with pytest.raises(MedicError, match="running in another process"):
        journal.claim(execution_id)
    dead_pid = max(os.getpid() + 100000, 4_000_000)
    journal._update(execution_id, owner_pid=dead_pid)
    assert journal.claim(execution_id).owner_pid == os.getpid()
    journal.release(execution_id)
    assert not journal.get(execution_id).owner_alive(30)


def test_an_execution_let_go_between_steps_is_not_abandoned_until_its_heartbeat_is_old(journal):
    execution_id = journal.create("c", PROPOSAL, ExecutionOptions(), TASKS)
    journal.claim(execution_id)
    journal.heartbeat(execution_id)
    assert not journal.get(execution_id).abandoned(30)  # owned by a live process
    journal.release(execution_id)
    released = journal.get(execution_id)
    assert not released.abandoned(30)  # between two steps: its executor claims it again in a moment
    assert released.abandoned(30, now=released.heartbeat + 31)
    journal._update(execution_id, owner_pid=max(os.getpid() + 100000, 4_000_000), owner_host=socket.gethostname())
    assert journal.get(execution_id).abandoned(30)  # its owner is gone: no need to wait


def test_submissions_are_numbered_batches_and_counted(journal):
    execution_id = journal.create("c", PROPOSAL, ExecutionOptions(throttle=1e6), TASKS)
    assert journal.mark_submitted(execution_id, TASKS[:2]) == 1
    journal.confirm_submitted(execution_id, TASKS[:2])
    assert journal.mark_submitted(execution_id, TASKS[2:]) == 2
    # not confirmed: the batch's owner died before the cluster write returned, so it is not counted
    journal.set_task_state(execution_id, TASKS[0], j.DONE)
    records = journal.tasks(execution_id)
    assert [(r.state, r.batch, r.submissions) for r in records] == [
        (j.DONE, 1, 1), (j.SUBMITTED, 1, 1), (j.SUBMITTING, 2, 0)]
    assert records[0].task == TASKS[0] and records[0].finished_at
    assert journal.get(execution_id).options.throttle == 1e6


def test_the_first_original_of_a_throttle_is_kept(journal):
    execution_id = journal.create("c", PROPOSAL, ExecutionOptions(), TASKS)
    journal.remember_original(execution_id, "topic", "t", "x", "0:1")
    journal.record_applied(execution_id, "topic", "t", "x", "0:1,0:3")
    journal.remember_original(execution_id, "topic", "t", "x", "0:1,0:3")  # after a crash: must not overwrite
    [record] = journal.throttles(execution_id)
    assert (record.original, record.applied, record.cleared) == ("0:1", "0:1,0:3", False)


def test_task_reads_follow_each_state_change_and_each_execution_keeps_its_own_tasks(journal):
    """Task definitions are parsed once per execution and only states are read again: a read after a
    change shows it, and alternating between two executions never hands one the other's tasks."""
    first = journal.create("c", PROPOSAL, ExecutionOptions(), TASKS)
    other_tasks = [Task("u", i, REPLICA, (2, 3), (2, 4), 2, 2, 50) for i in range(3)]  # as many as `first`
    other = journal.create("d", Proposal("d", [], []), ExecutionOptions(), other_tasks)
    assert [r.state for r in journal.tasks(first)] == [j.PENDING] * 3
    journal.set_tasks_state(first, TASKS[1:], j.DONE)
    assert [(r.task, r.state) for r in journal.tasks(first)] == [
        (TASKS[0], j.PENDING), (TASKS[1], j.DONE), (TASKS[2], j.DONE)]
    assert [r.task for r in journal.tasks(other)] == other_tasks
    assert [r.task for r in journal.tasks(first)] == TASKS
    with Journal(journal.url) as fresh:  # another process's journal reads the same
        assert [(r.task, r.state) for r in fresh.tasks(first)] == [(r.task, r.state) for r in journal.tasks(first)]


def _as_read(records):
    return [(r.task, r.state, r.reason, r.batch, r.submissions, r.submitted_at, r.finished_at) for r in records]


def test_a_kept_read_sees_every_write_of_other_journals_and_reads_again_only_the_changed_tasks(store_url):
    """The loop's journal keeps its tasks and reads only those stamped after its newest stamp: writers in
    other journals (a stop, a takeover) racing in threads must never leave it behind a full read, and a task
    no write touched is the record it already had."""
    tasks = [Task("t", i, REPLICA, (1, 2), (3, 2), 1, 3, 1000) for i in range(40)]
    proposal = Proposal("c", [], [Move("t", i, [1, 2], [3, 2], 1, 3) for i in range(40)])
    with Journal(store_url) as reader, Journal(store_url) as one, Journal(store_url) as two:
        execution_id = reader.create("c", proposal, ExecutionOptions(), tasks)
        first = reader.tasks(execution_id)
        one.set_tasks_state(execution_id, tasks[3:5], j.DONE)
        second = reader.tasks(execution_id)
        assert [r.state for r in second[2:6]] == [j.PENDING, j.DONE, j.DONE, j.PENDING]
        assert all(a is b for i, (a, b) in enumerate(zip(first, second, strict=True)) if i not in (3, 4))

        def writes(journal: Journal, seed: int) -> None:
            rng = random.Random(seed)
            for _ in range(60):
                chosen = rng.sample(tasks, rng.randint(1, 6))
                step = rng.randrange(3)
                if step == 0:
                    journal.mark_submitted(execution_id, chosen)
                elif step == 1:
                    journal.confirm_submitted(execution_id, chosen)
                else:
                    journal.set_tasks_state(execution_id, chosen, rng.choice([j.DONE, j.HELD, j.PENDING]), "x")

        threads = [threading.Thread(target=writes, args=(journal, seed)) for seed, journal in enumerate((one, two))]
        for thread in threads:
            thread.start()
        polls = 0
        while any(thread.is_alive() for thread in threads):
            reader.tasks(execution_id)  # kept reads interleaved with the writes
            polls += 1
        for thread in threads:
            thread.join()
        with Journal(store_url) as fresh:
            assert _as_read(reader.tasks(execution_id)) == _as_read(fresh.tasks(execution_id)), polls


def test_proposal_hash_depends_on_moves_only():
    assert proposal_hash(PROPOSAL) == proposal_hash(Proposal("c", ["x"], PROPOSAL.moves, {"a": 1}))
    assert proposal_hash(PROPOSAL) != proposal_hash(Proposal("c", [], PROPOSAL.moves[:2]))


def test_many_tasks_change_state_in_one_call_and_options_keep_a_default_concurrency(journal):
    execution_id = journal.create("c", PROPOSAL, ExecutionOptions(throttle=1000.0), TASKS)
    journal.set_tasks_state(execution_id, TASKS[:2], j.DONE)
    states = [(r.state, r.finished_at is not None) for r in journal.tasks(execution_id)]
    assert states == [(j.DONE, True), (j.DONE, True), (j.PENDING, False)]
    assert journal.get(execution_id).options.concurrency is None  # from bytes in flight, not a fixed count


def test_moves_left_submitting_by_a_dead_owner_are_settled_from_the_cluster(journal):
    """An owner killed between journalling a batch and the cluster write: a move the cluster shows (moving
    or done) counts as submitted once; one it does not show was never submitted and is pending again,
    not 'cancelled elsewhere'."""
    from kafka_medic.executor.execution import Execution
    from kafka_medic.executor.moving import _settle_submitting
    from kafka_medic.kafka.config import ClusterConfig
    from kafka_medic.kafka.state import PartitionState

    execution_id = journal.create("c", PROPOSAL, ExecutionOptions(), TASKS)
    journal.mark_submitted(execution_id, TASKS)  # the owner dies here, before the cluster write returns
    partitions = {  # moving to [3, 2]; already at [3, 2]; still at [1, 2], nothing in flight
        ("t", 0): PartitionState("t", 0, [3, 2, 1], 1, [1, 2], adding_replicas=[3], removing_replicas=[1]),
        ("t", 1): PartitionState("t", 1, [3, 2], 3, [3, 2]),
        ("t", 2): PartitionState("t", 2, [1, 2], 1, [1, 2]),
    }
    lines: list[str] = []
    _settle_submitting(Execution(ClusterConfig("x:9092"), journal, execution_id, lines.append), TASKS, partitions)
    assert [(r.state, r.submissions) for r in journal.tasks(execution_id)] == [
        (j.SUBMITTED, 1), (j.SUBMITTED, 1), (j.PENDING, 0)]
    assert lines == ["adopted 2 moves the last owner submitted but died before confirming: t-0, t-1",
                     "1 moves journalled but never submitted (the last owner died first), submitted again: t-2"]


def test_a_poll_says_whether_it_changed_any_task_so_the_loop_reads_the_journal_again_only_then(journal):
    """The loop re-reads the journal's tasks after a poll only when the poll changed one: moves still
    moving change nothing; a finished move does, and so does one whose destination died."""
    from kafka_medic.executor.execution import Execution
    from kafka_medic.executor.moving import _reconcile
    from kafka_medic.kafka.config import ClusterConfig
    from kafka_medic.kafka.state import PartitionState

    from .test_executor_batches import cluster

    execution_id = journal.create("c", PROPOSAL, ExecutionOptions(), TASKS)
    journal.mark_submitted(execution_id, TASKS)
    journal.confirm_submitted(execution_id, TASKS)
    execution = Execution(ClusterConfig("x:9092"), journal, execution_id, lambda line: None)

    def poll(partitions, dead=()):
        return _reconcile(execution, journal.tasks(execution_id), cluster(partitions, dead), {})

    def moving(i):
        return PartitionState("t", i, [3, 2, 1], 1, [1, 2], adding_replicas=[3], removing_replicas=[1])

    assert poll([moving(i) for i in range(3)]) == ([], False)
    assert poll([PartitionState("t", 0, [3, 2], 3, [3, 2]), moving(1), moving(2)]) == ([], True)
    assert [r.state for r in journal.tasks(execution_id)] == [j.DONE, j.SUBMITTED, j.SUBMITTED]
    assert poll([moving(1), moving(2)], dead=(3,)) == ([3], True)
