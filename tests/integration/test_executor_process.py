"""The executor as the CLI runs it, in its own process: killed and resumed, stopped from another process."""

from __future__ import annotations

import json
import signal

import pytest

from kafka_medic.executor import Journal
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.model import save_proposal

from .executor_helpers import Executor, no_reassignments, our_throttles, partitions_of, proposal, setup_moves

pytestmark = pytest.mark.kafka


def test_killed_executor_resumes_without_submitting_twice(healthy_kraft_cluster, tmp_path):
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-resume"
    moves, path = setup_moves(bootstrap, topic, tmp_path)
    args = ["execute", "--bootstrap", bootstrap, "--cluster", topic, "--proposal", str(path), "--throttle", "1",
            "--concurrency", "1"]
    first = Executor(tmp_path, *args)
    first.wait_for_line("batch 1: submitted")
    first.wait_for_line("MB (")  # a progress line after the submission
    first.proc.send_signal(signal.SIGKILL)
    first.wait()
    config = ClusterConfig(bootstrap, name=topic)
    assert our_throttles(config, topic)["topic"], "the killed executor left its throttles (to be cleared on resume)"

    second = Executor(tmp_path, *args)
    assert second.wait() == 0, "".join(second.lines)
    assert any("resuming execution" in line for line in second.lines)
    assert not set(first.submitted()) & set(second.submitted()), "a move was submitted twice"
    # A kill between the cluster write and the "submitted" line leaves a move only the resumed run names.
    named = set(first.submitted()) | set(second.submitted()) | set(second.adopted())
    assert named == {f"{topic}-{p}" for p in moves}, "".join(first.lines + second.lines)
    assert not set(second.adopted()) & set(second.submitted()), "a move in flight at the kill was submitted again"
    journal = Journal(f"sqlite:///{tmp_path / 'metrics.db'}")
    [execution] = journal.list(topic)
    assert execution.status == "succeeded"
    assert {r.submissions for r in journal.tasks(execution.id)} == {1}
    listing = Executor(tmp_path, "executions", "--cluster", topic, "--json")  # the report, every move named
    assert listing.wait() == 0, "".join(listing.lines)
    [shown] = json.loads("".join(listing.lines))
    assert (shown["id"], shown["status"]) == (execution.id, "succeeded")
    assert sorted(shown["report"]["done"]) == sorted(f"{topic}-{p}" for p in moves) and not shown["report"]["undone"]
    parts = partitions_of(config, topic)
    assert all(parts[p].replicas == new for p, (_, new) in moves.items())
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
    assert no_reassignments(config)


def test_stop_from_another_process_rolls_back_and_reports(healthy_kraft_cluster, tmp_path):
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-stop"
    moves, path = setup_moves(bootstrap, topic, tmp_path, partitions=4, mb=16)
    cluster = ["--bootstrap", bootstrap, "--cluster", topic]
    running = Executor(tmp_path, "execute", *cluster, "--proposal", str(path), "--throttle", "0.2",
                       "--concurrency", "1")
    running.wait_for_line("batch 1: submitted")
    running.wait_for_line("MB (")

    other = tmp_path / "other.json"
    save_proposal(proposal(topic, topic, {0: ([1, 2], [1, 3])}), other)
    refused = Executor(tmp_path, "execute", *cluster, "--proposal", str(other))
    assert refused.wait() == 2, "".join(refused.lines + running.lines)
    assert f"already has execution {topic}-" in "".join(refused.lines)

    stopper = Executor(tmp_path, "stop", *cluster, "--json")
    assert stopper.wait() == 0, "".join(stopper.lines)
    assert running.wait() == 1
    log = "".join(running.lines)
    assert "stopping: stop requested" in log and "rolled back" in log and "throttles cleared" in log
    journal = Journal(f"sqlite:///{tmp_path / 'metrics.db'}")
    [execution] = [e for e in journal.list(topic) if e.status != "running"]
    report = execution.report
    assert report["status"] == "stopped"
    assert len(report["done"]) + len(report["undone"]) == len(moves) and report["undone"]
    assert {u["state"] for u in report["undone"]} <= {"cancelled", "pending"}
    config = ClusterConfig(bootstrap, name=topic)
    parts = partitions_of(config, topic)
    for name in report["done"]:
        p = int(name.rsplit("-", 1)[1])
        assert parts[p].replicas == moves[p][1]
    for u in report["undone"]:
        assert parts[int(u["partition"].rsplit("-", 1)[1])].replicas == u["old_replicas"]  # rolled back exactly
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
    assert no_reassignments(config)


def test_stop_without_a_live_executor_does_the_rollback_itself(healthy_kraft_cluster, tmp_path):
    bootstrap = healthy_kraft_cluster.bootstrap
    topic = "ex-stop-orphan"
    moves, path = setup_moves(bootstrap, topic, tmp_path, partitions=2, mb=12)
    cluster = ["--bootstrap", bootstrap, "--cluster", topic]
    running = Executor(tmp_path, "execute", *cluster, "--proposal", str(path), "--throttle", "0.1")
    running.wait_for_line("batch 1: submitted")
    running.proc.send_signal(signal.SIGKILL)
    running.wait()
    stopper = Executor(tmp_path, "stop", *cluster)
    assert stopper.wait() == 0, "".join(stopper.lines)
    assert "no executor is running it" in "".join(stopper.lines)
    config = ClusterConfig(bootstrap, name=topic)
    parts = partitions_of(config, topic)
    assert [parts[p].replicas for p in moves] == [old for old, _ in moves.values()]
    assert our_throttles(config, topic) == {"brokers": {}, "topic": {}}
    assert no_reassignments(config)
