"""A run's outcome reaches Slack (in the approval's thread) and the policy's notifiers; a sender that fails
never fails the run, and the others are still told."""

from __future__ import annotations

import pytest

from kafka_medic.airflow import outcomes
from kafka_medic.notify import outcomes as said

from ..unit.test_slack import slack_in_env
from .test_grace import RecordingNotifier

REPORT = {"status": "succeeded", "done": ["t-0", "t-1", "t-2"], "undone": [], "bytes_moved": 3 * 2**20,
          "duration_s": 42.4, "message": ""}
STATS = {"balancedness_before": 71.25, "balancedness_after": 96.5}


@pytest.fixture
def slack(monkeypatch):
    with slack_in_env(monkeypatch) as server:
        yield server


def test_a_finished_execution_is_summarised_in_the_approval_thread(slack):
    message = said.finished("prod", "rebalance", REPORT, STATS, "rebalance/r1")
    assert message.text == ":white_check_mark: rebalance on prod finished: 3 moves done"
    assert message.figures == {"moved": "3 of 3", "data moved": "3.0 MB", "time": "42s", "balancedness": "71.2 -> 96.5"}
    told = outcomes.send(message, [], {}, thread={"channel": "C42", "ts": "1700000000.000001"})
    [(method, body)] = slack.calls
    assert told == ["slack"] and method == "chat.postMessage"
    assert (body["channel"], body["thread_ts"]) == ("C42", "1700000000.000001")
    assert "balancedness: 71.2 -> 96.5" in body["blocks"][0]["text"]["text"]


def test_a_failed_execution_says_why_and_every_notifier_is_tried(slack):
    failed = said.finished("prod", "heal", {**REPORT, "status": "failed", "message": "move t-1 timed out",
                                            "done": ["t-0"], "undone": [{}, {}]}, {}, "heal/r2")
    assert failed.text == ":x: heal on prod failed: execution failed: move t-1 timed out"
    assert failed.figures["moved"] == "1 of 3" and "balancedness" not in failed.figures
    broken = {"class": "no.such.module.Notifier", "kwargs": {}}
    recording = {"class": "tests.dags.test_grace.RecordingNotifier", "kwargs": {"label": "mail"}}
    told = outcomes.send(failed, [broken, recording], {"run_id": "r2"})
    assert told == ["slack", recording["class"]]  # the broken one was logged, not raised
    assert RecordingNotifier.told[-1]["event"] == said.FAILED and "thread_ts" not in slack.calls[-1][1]


def test_slack_down_is_logged_and_the_notifiers_are_still_told(slack, caplog):
    slack.fail_with = "channel_not_found"
    message = said.stalled("prod", "rebalance", "t-3: no progress for 120s")
    recording = {"class": "tests.dags.test_grace.RecordingNotifier", "kwargs": {"label": "mail"}}
    assert outcomes.send(message, [recording], {}) == [recording["class"]]
    assert "outcome not sent to Slack: Slack chat.postMessage failed: channel_not_found" in caplog.text
