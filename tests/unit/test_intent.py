"""Intent memory and the maintenance switch, in a real SQLite store."""

from __future__ import annotations

import pytest

from kafka_medic.remediation.intent import DECOMMISSIONED, DEMOTED, IntentStore


@pytest.fixture
def intents(tmp_path):
    with IntentStore(f"sqlite:///{tmp_path / 'store.db'}") as store:
        yield store


def test_remembered_brokers_stay_until_readded_or_their_time_is_up(intents):
    intents.remember("prod", [4], DECOMMISSIONED, by="run-1", now=1000.0)
    intents.remember("prod", [2], DEMOTED, by="cli:ops", ttl_s=3600, now=1000.0)
    intents.remember("other", [4], DEMOTED, by="run-2", now=1000.0)
    assert [(i.broker, i.intent) for i in intents.active("prod", now=2000.0)] == [(2, DEMOTED), (4, DECOMMISSIONED)]
    assert [i.broker for i in intents.active("prod", now=1000.0 + 3601)] == [4]  # the demotion expired
    assert intents.readd("prod", [4, 7]) == [4]
    assert intents.active("prod", now=2000.0)[0].broker == 2
    assert [i.broker for i in intents.active("other")] == [4]  # per cluster


def test_remembering_a_broker_again_replaces_its_intent(intents):
    intents.remember("prod", [4], DEMOTED, by="a", now=1.0)
    intents.remember("prod", [4], DECOMMISSIONED, by="b", now=2.0)
    [intent] = intents.active("prod", now=3.0)
    assert (intent.intent, intent.by, intent.since) == (DECOMMISSIONED, "b", 2.0)


def test_the_maintenance_switch_is_per_cluster_and_says_why_in_one_line(intents):
    assert intents.maintenance("prod") is None
    intents.set_maintenance("prod", True, "kernel upgrade", by="cli:ops", now=0.0)
    switch = intents.maintenance("prod")
    assert switch is not None and intents.maintenance("dev") is None
    reason = switch.skip_reason("prod")
    assert reason == ("cluster prod is in maintenance since 1970-01-01 00:00 UTC (by cli:ops: kernel upgrade); "
                      "automated actions are paused until `kafka-medic maintenance off`")
    intents.set_maintenance("prod", False)
    assert intents.maintenance("prod") is None


def test_the_cli_switches_maintenance_and_readds_brokers(tmp_path, monkeypatch, capsys):
    import json

    from kafka_medic.cli import main

    monkeypatch.setenv("KAFKA_MEDIC_STORE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    assert main(["maintenance", "on", "--cluster", "prod", "--reason", "rack move", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["maintenance"]["reason"] == "rack move"
    assert main(["brokers", "exclude", "4", "5", "--as", "demoted", "--cluster", "prod"]) == 0
    assert main(["brokers", "readd", "5", "6", "--cluster", "prod"]) == 0
    out = capsys.readouterr().out
    assert "not remembered: 6" in out
    assert main(["brokers", "list", "--cluster", "prod", "--json"]) == 0
    assert [(i["broker"], i["intent"]) for i in json.loads(capsys.readouterr().out)] == [(4, "demoted")]
    assert main(["maintenance", "off", "--cluster", "prod"]) == 0
    assert "not in maintenance" in capsys.readouterr().out


def test_self_healing_is_switched_per_cluster_and_kind_and_keeps_when_it_went_off(intents):
    assert intents.self_healing_off("prod") == {}
    intents.set_self_healing("prod", ["broker_failure", "disk_failure"], False, "disk swap", by="ccapi:ops", now=10.0)
    intents.set_self_healing("prod", ["broker_failure"], False, by="again", now=20.0)
    off = intents.self_healing_off("prod")
    assert sorted(off) == ["broker_failure", "disk_failure"] and off["broker_failure"].since == 10.0
    assert off["disk_failure"].skip_reason() == ("self-healing for disk_failure is off since 1970-01-01 00:00 UTC "
                                                 "(by ccapi:ops: disk swap)")
    assert intents.self_healing_off("other") == {}
    intents.set_self_healing("prod", ["disk_failure"], True)
    assert list(intents.self_healing_off("prod")) == ["broker_failure"]
