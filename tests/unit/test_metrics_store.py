"""The metrics store on SQLite and on a real PostgreSQL 15 server started for the test session."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa

from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MetricsStore
from kafka_medic.storage import default_store_url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'metrics.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    with MetricsStore(url, batch_size=7) as store:
        yield store


def _partition_rows(ts: float, broker: int = 1, topics=("orders",), partitions: int = 3):
    return [
        PartitionSample(
            ts=ts,
            topic=t,
            partition=p,
            broker=broker,
            source="admin",
            leader=True,
            size=1000.0 * p,
            bytes_in=10.0,
            bytes_out=20.0,
            messages_in=1.0,
        )
        for t in topics
        for p in range(partitions)
    ]


def test_time_range_per_cluster(store):
    for ts in (100.0, 160.0, 220.0):
        assert store.add_partition_samples("a", _partition_rows(ts)) == 3
        store.add_partition_samples("b", _partition_rows(ts, broker=2))
        store.add_broker_samples("a", [BrokerSample(ts=ts, broker=1, source="jmx", cpu=12.5, bytes_in=30.0)])

    frame = store.partition_samples("a", since=100.0, until=220.0)
    assert sorted(frame.ts.unique()) == [100.0, 160.0]
    assert set(frame.broker) == {1}
    assert frame.loc[frame.partition == 2, "size"].tolist() == [2000.0, 2000.0]
    assert frame.bytes_in.dtype == "float64"
    brokers = store.broker_samples("a", 0, 1000)
    assert brokers.cpu.tolist() == [12.5] * 3
    assert brokers.bytes_out.isna().all()
    assert brokers.alive.tolist() == [True] * 3
    assert store.clusters() == ["a", "b"]
    assert store.partition_samples("unknown", 0, 1000).empty


def test_batched_insert_of_many_rows(store):
    rows = _partition_rows(1.0, topics=[f"t{i}" for i in range(20)], partitions=10)
    assert store.add_partition_samples("a", rows) == 200
    assert len(store.partition_samples("a", 0, 2)) == 200


def test_latest_sample_per_replica(store):
    store.add_partition_samples("a", _partition_rows(100.0, broker=1) + _partition_rows(100.0, broker=2))
    store.add_partition_samples("a", _partition_rows(200.0, broker=2))
    store.add_partition_samples("a", _partition_rows(300.0, broker=2))
    latest = store.latest_partition_samples("a", since=0, until=300.0)
    assert sorted(zip(latest.broker, latest.ts, strict=True)) == [(1, 100.0)] * 3 + [(2, 200.0)] * 3


def test_prune_keeps_recent_samples_of_every_cluster(store):
    for cluster in ("a", "b"):
        for ts in (100.0, 200.0, 300.0):
            store.add_partition_samples(cluster, _partition_rows(ts))
            store.add_broker_samples(cluster, [BrokerSample(ts=ts, broker=1, source="jmx", alive=False)])
    assert store.prune(before=250.0) == 2 * (2 * 3 + 2)
    for cluster in ("a", "b"):
        assert store.partition_samples(cluster, 0, 1000).ts.unique().tolist() == [300.0]
        assert store.broker_samples(cluster, 0, 1000).alive.tolist() == [False]


def test_default_url_is_sqlite_in_medic_home(monkeypatch, tmp_path):
    monkeypatch.delenv("KAFKA_MEDIC_STORE_URL", raising=False)
    monkeypatch.setenv("KAFKA_MEDIC_HOME", str(tmp_path / "home"))
    assert default_store_url() == f"sqlite:///{tmp_path}/home/metrics.db"
    with MetricsStore() as store:
        store.add_broker_samples("dev", [BrokerSample(ts=1.0, broker=1, source="jmx")])
    assert (tmp_path / "home" / "metrics.db").exists()
    monkeypatch.setenv("KAFKA_MEDIC_STORE_URL", "sqlite:///elsewhere.db")
    assert default_store_url() == "sqlite:///elsewhere.db"


def test_a_round_of_every_sampler_is_written_in_one_transaction(store):
    """Two samplers' rows go in together, values as written (None stays NULL, flags stay booleans); a
    round with a bad row (a duplicate key) leaves nothing of itself behind."""
    admin = [*_partition_rows(60.0, broker=1, partitions=20), *_partition_rows(60.0, broker=2, partitions=20)]
    admin[3] = PartitionSample(ts=60.0, topic="orders", partition=3, broker=1, source="admin", reassigning=True)
    jmx = [BrokerSample(ts=60.0, broker=b, source="jmx", alive=b != 2, cpu=None if b == 2 else 40.0) for b in (1, 2)]
    assert store.add_round("a", [("kafka-a", [], admin), ("kafka-a", jmx, [])]) == (2, 40)
    frame = store.partition_samples("a", 0, 100, kafka_cluster_id="kafka-a")
    assert len(frame) == 40 and frame.leader.dtype == "bool" and frame.reassigning.sum() == 1
    row = frame[(frame.partition == 3) & (frame.broker == 1)].iloc[0]
    assert row.reassigning and not row.leader and pd.isna(row["size"])  # NULL in the store
    assert frame[frame.partition == 19]["size"].tolist() == [19_000.0, 19_000.0]
    brokers = store.broker_samples("a", 0, 100, kafka_cluster_id="kafka-a")
    assert brokers.alive.tolist() == [True, False] and brokers.cpu.isna().tolist() == [False, True]

    again, later = _partition_rows(120.0, partitions=5), [BrokerSample(ts=120.0, broker=1, source="jmx")]
    with pytest.raises((sa.exc.IntegrityError, psycopg.IntegrityError)):  # COPY raises the driver's own
        store.add_round("a", [("kafka-a", later, []), ("kafka-a", [], again + again[:1])])
    assert store.partition_samples("a", 100, 200, kafka_cluster_id="kafka-a").empty
    assert store.broker_samples("a", 0, 200, kafka_cluster_id="kafka-a").ts.tolist() == [60.0, 60.0]
