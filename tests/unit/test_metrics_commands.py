"""`kafka-medic load` on a store of synthetic samples, and the samplers' option checks."""

from __future__ import annotations

import json

import pytest

from kafka_medic.cli import main
from kafka_medic.errors import MedicError
from kafka_medic.metrics.prometheus_sampler import DEFAULT_QUERIES, load_queries
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MetricsStore


@pytest.fixture
def store_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    with MetricsStore(url) as store:
        for ts in range(0, 600, 20):
            rates = {"bytes_in": 2048.0, "bytes_out": 4096.0, "messages_in": 2.0}
            leader = PartitionSample(
                ts=float(ts),
                topic="orders",
                partition=0,
                broker=1,
                source="t",
                leader=True,
                size=100 * 2**20,
                **rates,
            )
            follower = PartitionSample(
                ts=float(ts), topic="orders", partition=0, broker=2, source="t", size=100 * 2**20
            )
            store.add_partition_samples("demo", [leader, follower])
            store.add_broker_samples(
                "demo", [BrokerSample(ts=float(ts), broker=b, source="t", cpu=50.0) for b in (1, 2)]
            )
    return url


def test_load_json(store_url, capsys, monkeypatch):
    monkeypatch.setattr("time.time", lambda: 610.0)
    assert main(["load", "--cluster", "demo", "--store", store_url, "--window", "100", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid_windows"] == 5 and report["valid_partition_ratio"] == 1.0 and report["complete"]
    one, two = report["brokers"]
    assert (one["id"], one["disk"], one["nw_in"], one["nw_out"], one["cpu"]) == (1, 100.0, 2.0, 4.0, 50.0)
    assert (two["disk"], two["nw_in"], two["nw_out"], two["cpu"]) == (100.0, 2.0, 0.0, 15.0)
    assert one["utilisation"]["cpu"] == 50.0 and one["state"] == "alive"


def test_load_table_says_why_it_cannot_plan(store_url, capsys, monkeypatch):
    monkeypatch.setattr("time.time", lambda: 610.0)
    assert main(["load", "--cluster", "demo", "--store", store_url, "--window", "200", "--windows", "5"]) == 0
    out = capsys.readouterr().out
    assert "3 of 5 windows of 200s valid" in out
    assert "not ready to plan" in out and "orders-0: no leader samples in 2 of 5 windows" in out


def test_bad_jmx_url_is_one_line(capsys):
    assert main(["sample", "--bootstrap", "127.0.0.1:1", "--jmx-url", "one=http://x", "--once"]) == 2
    assert "--jmx-url 'one=http://x' is not ID=URL" in capsys.readouterr().err


def test_prometheus_queries_override_and_validation(tmp_path):
    path = tmp_path / "q.json"
    path.write_text(json.dumps({"broker_label": "instance_broker", "topic": {"bytes_in": "my_query"}}))
    queries = load_queries(path)
    assert queries["broker_label"] == "instance_broker" and queries["topic"]["bytes_in"] == "my_query"
    assert queries["topic"]["bytes_out"] == DEFAULT_QUERIES["topic"]["bytes_out"]
    path.write_text(json.dumps({"broker": {"memory": "x"}}))
    with pytest.raises(MedicError, match=r"'broker' has unknown entries \['memory'\]"):
        load_queries(path)
    path.write_text(json.dumps({"sizes": "x"}))
    with pytest.raises(MedicError, match="unknown key 'sizes'"):
        load_queries(path)
