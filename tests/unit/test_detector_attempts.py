"""The anomaly log's remediation attempts: counted per anomaly key across episodes, held-back ones kept apart."""

from __future__ import annotations

import pytest

from kafka_medic.detector import AnomalyLog


@pytest.fixture
def log(tmp_path):
    with AnomalyLog(f"sqlite:///{tmp_path / 'store.db'}") as store:
        yield store


def test_attempts_count_started_ones_in_the_period_only(log):
    for at in (100.0, 200.0, 300.0):
        log.record_attempts("c", ["broker_failure:3"], "heal", f"heal/run{at:.0f}", now=at)
    log.record_attempts("c", ["broker_failure:3"], "heal", "heal/run4", held_back="3 attempts", now=400.0)
    log.record_attempts("other", ["broker_failure:3"], "heal", "heal/x", now=300.0)
    assert log.attempts("c", ["broker_failure:3", "disk_failure:1"], since=150.0) == {"broker_failure:3": 2}
    assert log.attempts("c", ["broker_failure:3"], since=0.0) == {"broker_failure:3": 3}
    latest = log.attempt_log("c")
    assert [(r["run"], r["held_back"]) for r in latest[:2]] == [("heal/run4", "3 attempts"), ("heal/run300", None)]
