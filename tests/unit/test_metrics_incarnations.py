"""Samples belong to one incarnation of a cluster (name + Kafka cluster id); the store migrates old files.

A cluster rebuilt under the same name (`make down`, then `dev-cluster up`) must not be modelled with the
old one's samples, and partitions that come and go (a deleted topic, a new one) never break the model.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from kafka_medic import store_schema
from kafka_medic.metrics.load_model import build_load_model
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MetricsStore

OLD_STORE = Path(__file__).parent / "data" / "metrics-store-before-ids.db"  # written by commit 0861fc8
WINDOW = dict(window_s=60.0, windows=3, min_valid_ratio=0.9)
T0 = 6000.0


@pytest.fixture
def url(store_url):
    return store_url


def rounds(store, partitions, since, until, kafka_id, brokers=(1, 2)):
    """Rounds every 10 s: each partition led by broker 1 and followed by 2, with rates and sizes."""
    ts = since
    while ts < until:
        rows = [
            PartitionSample(ts=ts, topic=t, partition=p, broker=b, source="admin", leader=b == 1, size=1e6,
                            **({"bytes_in": 2048.0, "bytes_out": 1024.0, "messages_in": 5.0} if b == 1 else {}))
            for t, p in partitions
            for b in brokers
        ]  # fmt: skip
        store.add_partition_samples("dev", rows, kafka_id)
        store.add_broker_samples("dev", [BrokerSample(ts=ts, broker=b, source="admin", cpu=20.0) for b in brokers],
                                 kafka_id)  # fmt: skip
        ts += 10.0


def test_a_rebuilt_cluster_is_not_modelled_with_the_old_ones_samples(url, caplog):
    old = [("__kafka_medic_actions", 0), ("orders", 0), ("orders", 1)]
    with MetricsStore(url) as store:
        rounds(store, old, T0 - 600, T0 + 130, "old-id")
        rounds(store, [("clicks", 0)], T0 + 130, T0 + 250, "new-id")  # same name, rebuilt at T0 + 130
    caplog.clear()  # the writer said it too; a reader says it once
    with caplog.at_level(logging.WARNING), MetricsStore(url) as store:
        model = build_load_model(store, "dev", now=T0 + 250, kafka_cluster_id="new-id", **WINDOW)
        again = build_load_model(store, "dev", now=T0 + 250, kafka_cluster_id="new-id", **WINDOW)
        newest = build_load_model(store, "dev", now=T0 + 250, **WINDOW)  # by name: the newest incarnation
        assert store.clusters() == ["dev"]
    assert set(model.partition_load) == set(again.partition_load) == set(newest.partition_load) == {("clicks", 0)}
    assert model.replicas == {("clicks", 0): [1, 2]}
    assert model.partition_load[("clicks", 0)]["nw_in"] == pytest.approx(2.0)
    # Built from the new cluster's rounds only: windows 0 (before the rebuild) has no sample of clicks-0.
    assert model.incomplete == {("clicks", 0): "no leader samples in 1 of 3 windows"}
    warnings = [r.getMessage() for r in caplog.records if "are ignored" in r.getMessage()]
    assert warnings == ["samples of cluster 'dev' from other Kafka clusters of that name (ids old-id) are ignored: "
                        "this one is new-id"]  # fmt: skip


def test_a_deleted_topic_is_left_out_and_a_new_one_is_unmeasured(url):
    with MetricsStore(url) as store:
        rounds(store, [("orders", 0), ("gone", 0), ("gone", 1)], T0 - 300, T0 + 150, "id")
        rounds(store, [("orders", 0), ("fresh", 0)], T0 + 150, T0 + 200, "id")  # gone deleted, fresh created
        rounds(store, [("orders", 0), ("fresh", 0), ("late", 0)], T0 + 200, T0 + 210, "id")  # in the window in progress
        model = build_load_model(store, "dev", now=T0 + 210, kafka_cluster_id="id", **WINDOW)
    assert set(model.partition_load) == {("orders", 0), ("fresh", 0), ("late", 0)}
    assert set(model.leaders) == set(model.replicas) == set(model.partition_load)
    assert model.incomplete == {
        ("fresh", 0): "no leader samples in 2 of 3 windows",
        ("late", 0): "no leader samples in 3 of 3 windows",
    }
    assert model.partition_load[("late", 0)] == {"disk": pytest.approx(1e6 / 2**20), "nw_in": 0.0, "nw_out": 0.0,
                                                  "cpu": pytest.approx(0.0)}  # fmt: skip
    assert model.broker_load[1]["nw_in"] == pytest.approx(2 * 2.0)  # orders-0 and fresh-0; gone-* not counted


def test_a_store_written_before_cluster_ids_opens_and_keeps_its_samples(tmp_path):
    path = tmp_path / "metrics.db"
    shutil.copy(OLD_STORE, path)
    with MetricsStore(f"sqlite:///{path}") as store:
        assert len(store.partition_samples("dev", 0, 1000)) == 6  # by name, as before
        assert len(store.partition_samples("dev", 0, 1000, "kafka-id")) == 6  # the first id claims them
        store.add_partition_samples("dev", [PartitionSample(ts=130.0, topic="orders", partition=0, broker=1,
                                                            source="admin", leader=True)], "kafka-id")  # fmt: skip
        assert len(store.partition_samples("dev", 0, 1000, "kafka-id")) == 7
        assert store.partition_samples("dev", 0, 1000, "rebuilt").empty
        rounds(store, [("orders", 0)], 200.0, 210.0, "rebuilt")
        assert len(store.partition_samples("dev", 0, 1000, "rebuilt")) == 2
        assert len(store.partition_samples("dev", 0, 1000, "kafka-id")) == 7
    with MetricsStore(f"sqlite:///{path}") as store, store.engine.connect() as conn:  # opens again: no step reruns
        assert conn.execute(sa.text("SELECT version FROM schema_versions WHERE part = 'metrics store'")).scalar() == 2
        assert store_schema.current(conn) == store_schema.head()
        assert len(store.broker_samples("dev", 0, 1000, "kafka-id")) == 3


@pytest.mark.postgres
def test_a_postgresql_store_written_before_cluster_ids_is_migrated(fresh_postgres_url):
    postgres_url = fresh_postgres_url
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # the old code's create_all, as PostgreSQL got it
        conn.execute("CREATE TABLE clusters (id SERIAL PRIMARY KEY, name VARCHAR(255) NOT NULL UNIQUE)")
        conn.execute(
            "CREATE TABLE partition_samples (cluster_id INTEGER NOT NULL REFERENCES clusters (id), ts FLOAT NOT NULL,"
            " topic VARCHAR(255) NOT NULL, partition INTEGER NOT NULL, broker INTEGER NOT NULL,"
            " source VARCHAR(32) NOT NULL, leader BOOLEAN NOT NULL, reassigning BOOLEAN NOT NULL, size FLOAT,"
            " bytes_in FLOAT, bytes_out FLOAT, messages_in FLOAT,"
            " PRIMARY KEY (cluster_id, ts, topic, partition, broker, source))"
        )
        conn.execute("INSERT INTO clusters (name) VALUES ('dev')")
        conn.execute("INSERT INTO partition_samples VALUES (1, 100, 'orders', 0, 1, 'admin', true, false,"
                     " 1000, 10, 20, 1)")  # fmt: skip
    with MetricsStore(postgres_url) as store:
        assert len(store.partition_samples("dev", 0, 1000)) == 1
        assert len(store.partition_samples("dev", 0, 1000, "kafka-id")) == 1
        rounds(store, [("orders", 0)], 200.0, 210.0, "rebuilt")
        assert len(store.partition_samples("dev", 0, 1000, "rebuilt")) == 2
        assert len(store.partition_samples("dev", 0, 1000, "kafka-id")) == 1
    with MetricsStore(postgres_url) as store, store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM schema_versions WHERE part = 'metrics store'")).scalar() == 2
