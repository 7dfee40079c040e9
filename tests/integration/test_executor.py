"""The executor against real KRaft brokers: rebalance with live traffic, heal, dead destination, journal."""

from __future__ import annotations

import time

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.executor import Execution, ExecutionOptions, execute, stop, tasks_for
from kafka_medic.executor.execution import clear_left_throttles, lock_key
from kafka_medic.executor.submit import reachable
from kafka_medic.executor.throttles import set_replica_throttles
from kafka_medic.kafka.admin import admin_client
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.units import MB

from .executor_helpers import (
    CheckedProducer,
    broker_alive,
    broker_process,
    checksum,
    consume_values,
    no_reassignments,
    our_throttles,
    partitions_of,
    placed_topic,
    proposal,
    temp_journal,
)
from .kafka_helpers import wait_for

pytestmark = pytest.mark.kafka


@pytest.fixture
def journal(tmp_path):
    yield from temp_journal(tmp_path)


def test_rebalance_a_skewed_cluster_with_traffic(healthy_kraft_cluster, journal):
    """Broker 4 starts empty; afterwards the cluster is exactly as proposed and no acked message is lost."""
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-rebalance"
    placed_topic(bootstrap, topic, [[1, 2, 3], [2, 3, 1], [3, 1, 2]] * 3, mb=18, min_isr=2)
    config = ClusterConfig(bootstrap, name="ex-rebalance")
    moves = {0: ([1, 2, 3], [4, 2, 3]), 1: ([2, 3, 1], [2, 4, 1]), 2: ([3, 1, 2], [4, 1, 2]),
             4: ([2, 3, 1], [4, 3, 1]), 5: ([3, 1, 2], [3, 4, 2]), 6: ([1, 2, 3], [1, 2, 4])}
    plan = proposal("ex-rebalance", topic, moves)
    lines: list[str] = []
    with CheckedProducer(bootstrap, topic) as producer:
        wait_for(lambda: len(producer.acked) >= 100, 60, "the producer's first acknowledgements")
        before = len(producer.acked)
        report = execute(config, plan, ExecutionOptions(throttle=6 * MB, concurrency=2), journal, lines.append)
        acked_while_moving = len(producer.acked) - before
    assert report["status"] == "succeeded", lines
    parts = partitions_of(config, topic)
    for p, (_, new) in moves.items():
        assert parts[p].replicas == new and parts[p].leader == new[0]
    assert not [p.name for p in parts.values() if p.under_replicated]
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
    assert no_reassignments(config)
    assert sorted(report["done"]) == sorted(f"{topic}-{p}" for p in moves) and not report["undone"]
    assert set(report["submissions"].values()) == {1}
    assert any(line.startswith("batch 2: submitted") for line in lines)  # concurrency 2 on broker 4: 3+ batches
    # traffic through the whole execution (400 a second; a count of all acks depended on how fast it ran)
    assert not producer.errors and acked_while_moving > 200, acked_while_moving
    consumed = [v for v in consume_values(bootstrap, topic, list(parts)) if not v.startswith(b"x")]
    assert checksum(consumed) == checksum(producer.acked)
    # A proposal already carried out is all skipped: nothing is submitted twice.
    tasks, skipped = tasks_for(plan.moves, read_cluster_state(config))
    assert not tasks and {s.reason for s in skipped} == {"already as proposed"}


def test_heal_after_a_broker_dies(healthy_kraft_cluster, journal):
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-heal"
    assignment = [[1, 2, 4], [4, 3, 1], [2, 4, 3], [3, 1, 2]]
    placed_topic(bootstrap, topic, assignment, mb=4, min_isr=2)
    config = ClusterConfig(bootstrap, name="ex-heal")
    healthy_kraft_cluster.kill_broker(4)
    wait_for(lambda: broker_alive(config, 4) is False, 60, "broker 4 to be seen dead")
    # The plan a heal makes: each replica on the dead broker goes to a live broker that lacks one.
    moves = {p: (r, [next(b for b in (1, 2, 3) if b not in r) if b == 4 else b for b in r])
             for p, r in enumerate(assignment) if 4 in r}
    lines: list[str] = []
    report = execute(config, proposal("ex-heal", topic, moves), ExecutionOptions(throttle=20 * MB), journal,
                     lines.append)
    parts = partitions_of(config, topic)
    assert report["status"] == "succeeded", lines
    for p in parts.values():
        assert sorted(p.replicas) == [1, 2, 3] and sorted(p.isr) == [1, 2, 3], p
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}


def test_a_proposal_that_does_not_fit_the_cluster_is_refused_before_anything_is_written(healthy_kraft_cluster,
                                                                                         journal):
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-refused"
    placed_topic(bootstrap, topic, [[1, 2], [2, 3]], mb=1)
    config = ClusterConfig(bootstrap, name="ex-refused")
    fitting = {0: ([1, 2], [3, 2])}
    for bad, reason in [({1: ([2, 3], [2, 9])}, f"{topic}-1: broker 9 is not in the cluster"),
                        ({1: ([1, 3], [1, 4])}, f"{topic}-1: replicas are [2, 3], the proposal expected [1, 3]"),
                        ({5: ([1, 2], [1, 3])}, f"{topic}-5: no such partition in the cluster")]:
        with pytest.raises(MedicError, match="proposal refused, nothing changed: 1 of its moves") as info:
            execute(config, proposal("ex-refused", topic, {**fitting, **bad}), ExecutionOptions(throttle=MB), journal,
                    lambda _: None)
        assert reason in str(info.value)
    parts = partitions_of(config, topic)
    assert [parts[p].replicas for p in range(2)] == [[1, 2], [2, 3]]
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}} and journal.list("ex-refused") == []


def test_a_destination_that_dies_mid_move_stops_the_execution_cleanly(healthy_kraft_cluster, journal):
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-dead-destination"
    placed_topic(bootstrap, topic, [[1, 2], [2, 3], [3, 1], [1, 3]], mb=16)
    config = ClusterConfig(bootstrap, name="ex-dead-destination")
    moves = {0: ([1, 2], [4, 2]), 1: ([2, 3], [2, 4]), 2: ([3, 1], [3, 2])}
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("batch 1: submitted"):
            healthy_kraft_cluster.kill_broker(4)

    report = execute(config, proposal("ex-dead-destination", topic, moves),
                     ExecutionOptions(throttle=1 * MB), journal, log)
    assert report["status"] == "failed" and "destination broker(s) [4] died" in report["message"]
    undone = {u["partition"]: u for u in report["undone"]}
    assert undone[f"{topic}-0"]["state"] == "dead" and undone[f"{topic}-1"]["state"] == "dead"
    parts = partitions_of(config, topic)
    assert [parts[p].replicas for p in range(2)] == [[1, 2], [2, 3]]  # rolled back
    # The move not involving broker 4 either finished before the death was seen, or was rolled back too.
    if f"{topic}-2" in report["done"]:
        assert parts[2].replicas == [3, 2]
    else:
        assert undone[f"{topic}-2"]["state"] == "cancelled" and parts[2].replicas == [3, 1]
    assert no_reassignments(config)
    # Topic throttles are gone; broker 4's rates can only be cleared once it is back.
    assert our_throttles(config, topic)["topic"] == {}
    assert report["throttles_left"] and all(" 4 " in t for t in report["throttles_left"])
    healthy_kraft_cluster.start_broker(4)
    wait_for(lambda: broker_alive(config, 4), 60, "broker 4 to be back")
    assert set(our_throttles(config, topic)["brokers"]) == {4}  # back with the rates it had when it died
    # The next execution on the cluster (or the detect DAG) puts them back before anything else.
    lines.clear()
    after = execute(config, proposal("ex-dead-destination", topic, {3: ([1, 3], [3, 1])}), ExecutionOptions(),
                    journal, lines.append)
    assert after["status"] == "succeeded"
    assert f"clearing the throttles execution {report['execution_id']} left on broker(s) [4]" in lines
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
    assert journal.with_throttles_left("ex-dead-destination") == []


def test_the_leader_dying_mid_move_fails_over_and_the_moves_finish(healthy_kraft_cluster, journal):
    """Only a destination's death stops an execution: when the source leader dies, the new replicas copy
    from the partition's new leader, and every acknowledged message is still there."""
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-dead-leader"
    placed_topic(bootstrap, topic, [[1, 2, 3], [1, 3, 2]], mb=8, min_isr=2)
    config = ClusterConfig(bootstrap, name="ex-dead-leader")
    moves = {0: ([1, 2, 3], [4, 2, 3]), 1: ([1, 3, 2], [3, 4, 2])}
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("batch 1: submitted"):
            healthy_kraft_cluster.kill_broker(1)

    with CheckedProducer(bootstrap, topic) as producer:
        report = execute(config, proposal("ex-dead-leader", topic, moves), ExecutionOptions(throttle=2 * MB),
                         journal, log)
    assert report["status"] == "succeeded", lines
    parts = partitions_of(config, topic)
    for p, (_, new) in moves.items():
        assert parts[p].replicas == new and sorted(parts[p].isr) == sorted(new), parts[p]
    assert no_reassignments(config)
    assert not producer.errors and len(producer.acked) > 100
    consumed = [v for v in consume_values(bootstrap, topic, list(parts)) if not v.startswith(b"x")]
    assert checksum(consumed) == checksum(producer.acked)
    assert report["throttles_left"] and all(" 1 " in t for t in report["throttles_left"])
    healthy_kraft_cluster.start_broker(1)
    wait_for(lambda: broker_alive(config, 1), 60, "broker 1 to be back")
    clear_left_throttles(config, journal, read_cluster_state(config), lines.append)
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}


def test_throttles_of_an_execution_that_ended_without_clearing_are_put_back_by_the_next(healthy_kraft_cluster,
                                                                                          journal):
    """As if the process died between recording the end and clearing (or a teardown never ran)."""
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-uncleared"
    placed_topic(bootstrap, topic, [[1, 2], [2, 1]], mb=1)
    config = ClusterConfig(bootstrap, name="ex-uncleared")
    plan = proposal("ex-uncleared", topic, {0: ([1, 2], [3, 2])})
    execution = Execution.start(config, plan, ExecutionOptions(throttle=1 * MB), journal, lambda line: None)
    execution.set_throttles()
    execution_id = execution.id
    with admin_client(config) as admin:
        set_replica_throttles(admin, journal, execution_id, [r.task for r in journal.tasks(execution_id)])
    journal.finish(execution_id, "failed", "the executor died", {})
    left = our_throttles(config, topic)
    assert set(left["brokers"]) == {1, 2, 3} and left["topic"]
    lines: list[str] = []
    clear_left_throttles(config, journal, read_cluster_state(config), lines.append)
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
    assert lines[0] == (f"clearing the throttles execution {execution_id} left on broker(s) [1, 2, 3], "
                        f"topic(s) ['{topic}']")
    assert journal.with_throttles_left("ex-uncleared") == []


def test_two_names_for_one_cluster_share_one_lock(healthy_kraft_cluster, journal):
    """The lock is Kafka's cluster id: another name (and bootstrap list) for the same cluster is refused."""
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-lock"
    placed_topic(bootstrap, topic, [[1, 2], [2, 1]], mb=1)
    first = ClusterConfig(bootstrap, name="ex-lock-a")
    second = ClusterConfig(",".join(reversed(bootstrap.split(","))), name="ex-lock-b")
    running = Execution.start(first, proposal("ex-lock-a", topic, {0: ([1, 2], [3, 2])}), ExecutionOptions(),
                              journal, lambda line: None).id
    journal.claim(running)  # this process is its executor now, alive and holding it
    other = proposal("ex-lock-b", topic, {1: ([2, 1], [2, 4])})
    with pytest.raises(MedicError, match=f"already has execution {running} .*the same Kafka cluster") as refused:
        Execution.start(second, other, ExecutionOptions(), journal, lambda line: None)
    assert "it is running" in str(refused.value)
    assert journal.lock_holder(lock_key(second)).id == running
    # Stopping under the other name stops the one execution there is (no executor alive: done in place).
    journal.release(running)
    report = stop(second, journal, log=lambda line: None)
    assert report["execution_id"] == running and report["status"] == "stopped"
    assert journal.lock_holder(lock_key(first)) is None
    assert partitions_of(first, topic)[0].replicas == [1, 2]  # nothing was submitted
    # Free again: the second name may run now.
    report = execute(second, other, ExecutionOptions(), journal, lambda line: None)
    assert report["status"] == "succeeded" and partitions_of(second, topic)[1].replicas == [2, 4]


def test_a_stalled_move_alerts_then_times_out_and_stops_cleanly(healthy_kraft_cluster, journal):
    """A real stall: producers write faster than the throttle lets the new replica copy, so it never catches up.

    The move copies all the time, but its gap to the leader never closes: an alert after `stall_alert_s`,
    and at the move's timeout the execution stops cleanly (rolled back, throttles cleared, a report).
    """
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-stall"
    placed_topic(bootstrap, topic, [[1, 2]], mb=1)
    config = ClusterConfig(bootstrap, name=topic)
    stall_s, timeout_s = 10.0, 40.0
    lines: list[tuple[float, str]] = []
    options = ExecutionOptions(throttle=0.05 * MB, stall_alert_s=stall_s, task_timeout_s=timeout_s)
    with CheckedProducer(bootstrap, topic, per_second=1500, value_bytes=500) as producer:  # ~0.75 MB/s
        wait_for(lambda: len(producer.acked) > 3000, 60, "the producer to be running")
        report = execute(config, proposal(topic, topic, {0: ([1, 2], [1, 3])}), options, journal,
                         lambda line: lines.append((time.monotonic(), line)))
        ended = time.monotonic()
    log = [line for _, line in lines]
    submitted = next(t for t, line in lines if line.startswith("batch 1: submitted"))  # logged just after the journal
    # recorded the submission, which the timeout counts from
    alerts = [(t, line) for t, line in lines if line.startswith(f"ALERT {topic}-0: no progress for")]
    assert len(alerts) == 1, log  # once per stall, not every poll
    alerted = alerts[0][0] - submitted
    assert stall_s - 2 <= alerted <= stall_s + 20, (alerted, log)  # a poll or two late on a loaded machine at most
    assert "MB behind the leader" in alerts[0][1]
    timed_out = next(t for t, line in lines if line.startswith(f"ALERT {topic}-0: timed out after 40s"))
    assert timeout_s - 2 <= timed_out - submitted <= timeout_s + 20, log
    assert ended - timed_out < 60, log  # stopped, not hanging
    assert report["status"] == "failed" and report["message"] == f"move(s) {topic}-0 timed out", log
    [undone] = report["undone"]
    assert undone["state"] == "timed_out"
    assert "no progress for" in undone["reason"] and "rolled back" in undone["reason"]
    assert partitions_of(config, topic)[0].replicas == [1, 2]
    assert no_reassignments(config)
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
    assert not producer.errors


def test_a_paused_destination_stops_the_execution_instead_of_hanging(healthy_kraft_cluster, journal):
    """SIGSTOP, not SIGKILL: the broker keeps its sockets open and answers nothing, so every request to it waits."""
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-paused"
    placed_topic(bootstrap, topic, [[1, 2], [2, 1]], mb=8)
    config = ClusterConfig(bootstrap, name=topic)
    moves = {0: ([1, 2], [4, 2]), 1: ([2, 1], [2, 3])}
    destination = broker_process(healthy_kraft_cluster, 4)
    lines: list[tuple[float, str]] = []
    paused_at: list[float] = []

    def log(line: str) -> None:
        lines.append((time.monotonic(), line))
        if not paused_at and "MB (" in line and "moving" in line:
            destination.suspend()
            paused_at.append(time.monotonic())

    try:
        report = execute(config, proposal(topic, topic, moves), ExecutionOptions(throttle=0.5 * MB), journal, log)
        ended = time.monotonic()
        log_lines = [line for _, line in lines]
        assert paused_at, log_lines
        # Fenced after 6 s; the poll under way may wait out one request to it (30 s, the request timeout),
        # then no client of the executor bootstraps from it (each would wait 30 s for nothing). Measured
        # 11-49 s; 108 s before clients avoided it.
        assert ended - paused_at[0] < 90, (ended - paused_at[0], log_lines)
        assert report["status"] == "failed" and "destination broker(s) [4] died" in report["message"], log_lines
        undone = {u["partition"]: u for u in report["undone"]}
        assert undone[f"{topic}-0"]["state"] == "dead"
        # Read while broker 4 is still paused, from the live brokers: once resumed it answers metadata
        # requests from its image of the moment it froze (mid-move) until it has caught up.
        live = reachable(config)
        assert len(live.bootstrap.split(",")) == 3
        parts = partitions_of(live, topic)
        assert parts[0].replicas == [1, 2]  # rolled back
        assert parts[1].replicas == ([2, 3] if f"{topic}-1" in report["done"] else [2, 1])
        assert no_reassignments(live)
        assert our_throttles(live, topic)["topic"] == {}
    finally:
        destination.resume()
    wait_for(lambda: broker_alive(config, 4), 90, "broker 4 to be back after SIGCONT")
    Execution(config, journal, report["execution_id"], lambda line: None).clear_throttles()
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
