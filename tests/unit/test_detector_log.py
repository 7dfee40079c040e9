"""The anomaly log on SQLite: one episode per anomaly while it lasts, grace periods, alert and act once."""

from __future__ import annotations

import pytest

from kafka_medic.detector import Anomaly, AnomalyLog, parse_rules

T0 = 1_800_000_000.0


def anomaly(key: str, summary: str = "", brokers=(3,)) -> Anomaly:
    kind = key.split(":")[0]
    return Anomaly(kind, key, "critical", summary or key, {"n": 1}, first_seen=0.0, brokers=list(brokers))


@pytest.fixture
def log(tmp_path):
    with AnomalyLog(f"sqlite:///{tmp_path / 'store.db'}") as log:
        yield log


def test_record_sorts_new_ongoing_and_resolved(log):
    new, ongoing, resolved = log.record("c1", [anomaly("broker_failure:3"), anomaly("offline_partitions")], now=T0)
    assert [a.key for a in new] == ["broker_failure:3", "offline_partitions"] and not ongoing and not resolved
    assert new[0].first_seen == T0

    later = anomaly("broker_failure:3", summary="still dead")
    new, ongoing, resolved = log.record("c1", [later], now=T0 + 60)
    assert not new and ongoing == [later] and later.first_seen == T0
    assert [a.key for a in resolved] == ["offline_partitions"] and resolved[0].details == {"n": 1}
    assert [(a.key, a.summary, a.first_seen) for a in log.active("c1")] == [("broker_failure:3", "still dead", T0)]

    # other clusters are separate
    assert log.record("c2", [anomaly("broker_failure:3")], now=T0 + 60)[0][0].first_seen == T0 + 60
    assert len(log.active("c1")) == 1


def test_duration_of_open_and_resolved_episodes(log):
    assert log.duration("c1", "broker_failure:3") is None
    log.record("c1", [anomaly("broker_failure:3")], now=T0)
    assert log.duration("c1", "broker_failure:3", now=T0 + 90) == 90
    log.record("c1", [], now=T0 + 120)
    assert log.duration("c1", "broker_failure:3", now=T0 + 999) == 120
    # it comes back: a new episode, measured from its own start
    new, _, _ = log.record("c1", [anomaly("broker_failure:3")], now=T0 + 600)
    assert new[0].first_seen == T0 + 600 and log.duration("c1", "broker_failure:3", now=T0 + 630) == 30


def test_alerts_and_actions_are_due_after_their_grace_periods_and_only_once(log):
    rules = parse_rules({"broker_failure": {"alert_after_s": 60, "act_after_s": 300}})
    log.record("c1", [anomaly("broker_failure:3"), anomaly("topic_replication_factor:t")], now=T0)
    # RF anomalies alert at once and trigger nothing; the broker failure waits a minute to alert
    assert [a.key for a in log.due_alerts("c1", rules, now=T0 + 30)] == ["topic_replication_factor:t"]
    assert log.due_actions("c1", rules, now=T0 + 30) == {}
    log.mark_alerted("c1", ["topic_replication_factor:t"], now=T0 + 30)
    assert [a.key for a in log.due_alerts("c1", rules, now=T0 + 60)] == ["broker_failure:3"]
    log.mark_alerted("c1", ["broker_failure:3"], now=T0 + 60)
    assert log.due_alerts("c1", rules, now=T0 + 61) == []

    assert log.due_actions("c1", rules, now=T0 + 299) == {}
    due = log.due_actions("c1", rules, now=T0 + 300)
    assert list(due) == ["heal"] and [a.key for a in due["heal"]] == ["broker_failure:3"]
    log.mark_acted("c1", ["broker_failure:3"], now=T0 + 300)
    assert log.due_actions("c1", rules, now=T0 + 900) == {}


def test_the_default_store_url_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFKA_MEDIC_STORE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    with AnomalyLog() as log:
        log.record("c1", [anomaly("broker_failure:1")], now=T0)
    assert (tmp_path / "env.db").exists()


def test_a_failure_the_heal_saw_recover_is_a_new_episode_when_it_fails_again(log):
    """The broker came back inside the grace period (the heal resolves it) and died again before any
    detector run saw it alive: a new episode, with its own grace period and its own heal."""
    rules = parse_rules({"broker_failure": {"alert_after_s": 0, "act_after_s": 60}})
    log.record("c1", [anomaly("broker_failure:3")], now=T0)
    log.mark_acted("c1", ["broker_failure:3"], now=T0 + 60)
    log.record("c1", [anomaly("broker_failure:3")], now=T0 + 120)
    assert log.due_actions("c1", rules, now=T0 + 300) == {}  # acted on: no second heal while it lasts

    log.resolve("c1", ["broker_failure:3"], now=T0 + 150)
    assert log.active("c1") == [] and log.duration("c1", "broker_failure:3") == 150
    new, ongoing, _ = log.record("c1", [anomaly("broker_failure:3")], now=T0 + 180)
    assert [a.key for a in new] == ["broker_failure:3"] and not ongoing and new[0].first_seen == T0 + 180
    assert log.due_actions("c1", rules, now=T0 + 239) == {}
    assert [a.key for a in log.due_actions("c1", rules, now=T0 + 240)["heal"]] == ["broker_failure:3"]
