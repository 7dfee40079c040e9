"""Closed windows aggregated in the store give the same load model as the raw samples, on SQLite and PostgreSQL.

Each case fills two stores with the same rounds: one keeps every raw sample, the other aggregates
after every round as `sample_round` does (at once: `aggregate_after_s=0`), so the model's windows
are built from partition_windows sums and kept rows. Both must give the models the per-partition
code gave (data/load_model_expected.json) and each other.
"""

from __future__ import annotations

import json
import threading

import psycopg
import pytest
import sqlalchemy as sa

from kafka_medic.errors import MedicError
from kafka_medic.metrics.load_model import build_load_model
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MAX_COOLDOWN_S, MetricsStore

from .test_metrics_load_model_equivalence import CASES, EXPECTED, T0, as_json, assert_same_model, fill_random


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def urls(request, tmp_path):
    """Two empty stores: (raw, aggregated)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'raw.db'}", f"sqlite:///{tmp_path / 'aggregated.db'}"
    url = request.getfixturevalue("postgres_url")
    with psycopg.connect(url, autocommit=True) as conn:
        for database in ("raw", "aggregated"):
            conn.execute(f"DROP DATABASE IF EXISTS {database}")
            conn.execute(f"CREATE DATABASE {database}")
    base = url.rsplit("/", 1)[0]
    return f"{base}/raw", f"{base}/aggregated"


# (case, base window): the base window equal to the build's, and shorter (windows made of two).
VARIANTS = [("seed1", 60.0), ("seed1", 30.0), ("seed2-min2", 60.0), ("seed3-cooldown", 15.0)]


@pytest.mark.parametrize(("name", "base"), VARIANTS)
def test_aggregated_windows_give_the_raw_model(urls, name, base):
    seed, window = CASES[name]
    raw_url, aggregated_url = urls
    with MetricsStore(raw_url) as raw, MetricsStore(aggregated_url, aggregate_s=base, aggregate_after_s=0) as store:
        now = fill_random(raw, seed)
        fill_random(store, seed, lambda ts: store.aggregate("c", ts))
        from_raw = as_json(build_load_model(raw, "c", now=now, **window))
        aggregated = as_json(build_load_model(store, "c", now=now, **window))
        _base, since, until = store.aggregated("c")
        end = now // window["window_s"] * window["window_s"]
        assert since <= end - window["window_s"] * window["windows"] and until >= end  # every window aggregated
        assert len(store.partition_samples("c", 0, now)) < len(raw.partition_samples("c", 0, now))  # rows were dropped
    assert aggregated["incomplete"] and aggregated["offline"]
    assert_same_model(aggregated, json.loads(EXPECTED.read_text())[name])
    assert_same_model(aggregated, from_raw)


def scripted_rounds(store: MetricsStore, after_round=lambda ts: None) -> float:
    """Rounds every 10 s from T0 - 300 to T0 + 190, brokers 1-3, topics a (4 partitions) and gone
    (deleted at T0 - 100). a-0 is reassigned from T0 - 20 to T0 + 10: across the boundary at T0, its
    cooldown (one window) reaching into T0 + 60..70. a-3 has no rounds in [T0 + 60, T0 + 120). Returns now."""
    ts = T0 - 300
    while ts < T0 + 190:
        rows = []
        for topic, parts in (("a", 4), ("gone", 2)):
            if topic == "gone" and ts >= T0 - 100:
                continue
            for p in range(parts):
                if (topic, p) == ("a", 3) and T0 + 60 <= ts < T0 + 120:
                    continue
                flag = (topic, p) == ("a", 0) and T0 - 20 <= ts <= T0 + 10
                for broker in (1 + p % 3, 1 + (p + 1) % 3):
                    lead = broker == 1 + p % 3
                    rows.append(PartitionSample(
                        ts=ts, topic=topic, partition=p, broker=broker, source="admin", leader=lead,
                        reassigning=flag, size=1e6 * (p + 1) + ts,
                        bytes_in=1e3 * (p + 1) * (5 if flag else 1) if lead else None,
                        bytes_out=2e3 * (p + 1) if lead else None, messages_in=10.0 * (p + 1) if lead else None,
                    ))  # fmt: skip
        store.add_partition_samples("c", rows, "id-1")
        store.add_broker_samples("c", [BrokerSample(ts=ts, broker=b, source="admin", cpu=10.0 * b) for b in (1, 2, 3)],
                                 "id-1")  # fmt: skip
        after_round(ts)
        ts += 10.0
    return T0 + 190


def test_a_reassignment_across_a_window_boundary_a_deleted_topic_and_an_incomplete_window(urls):
    raw_url, aggregated_url = urls
    window = dict(window_s=60.0, windows=3, min_valid_ratio=0.5)
    with MetricsStore(raw_url) as raw, MetricsStore(aggregated_url, aggregate_s=60.0, aggregate_after_s=0) as store:
        now = scripted_rounds(raw)
        scripted_rounds(store, lambda ts: store.aggregate("c", ts, "id-1"))
        from_raw = build_load_model(raw, "c", now=now, kafka_cluster_id="id-1", **window)
        model = build_load_model(store, "c", now=now, kafka_cluster_id="id-1", **window)
        with store.engine.connect() as conn:  # a-0 kept its raw rows where its reassignment is near; a-1 did not
            kept = conn.execute(sa.text("SELECT topic, partition, count(*) FROM partition_samples_kept"
                                        " WHERE ts >= :t GROUP BY topic, partition"), {"t": T0}).all()  # fmt: skip
    assert model.partition_load.keys() == {("a", 0), ("a", 1), ("a", 2), ("a", 3)}  # gone: deleted
    assert model.incomplete == {
        ("a", 0): "reassigning or cooling down in 1 of 3 windows",  # cooling down until T0 + 70, then valid
        ("a", 3): "no leader samples in 1 of 3 windows",
    }
    assert model.partition_load[("a", 0)]["nw_in"] == pytest.approx(1e3 / 1024)  # the x5 rates left out
    counts = {(t, p): n for t, p, n in kept}
    assert counts[("a", 0)] == 2 * 18 and counts[("a", 1)] == 2 * 3  # all rows vs one per replica per window
    assert_same_model(as_json(model), as_json(from_raw))


def test_a_build_that_would_cut_an_aggregated_window_is_refused(urls):
    with MetricsStore(urls[1], aggregate_s=60.0, aggregate_after_s=0) as store:
        now = scripted_rounds(store, lambda ts: store.aggregate("c", ts, "id-1"))
        for window, why in (
            (dict(window_s=45.0, windows=2), "windows of 45s with a cooldown of 45s cut the store's aggregated 60s"),
            (dict(window_s=60.0, windows=2, cooldown_s=30.0), "use multiples of 60s"),
            (dict(window_s=60.0, windows=2, cooldown_s=MAX_COOLDOWN_S + 60), "keeps reassignments raw"),
        ):
            with pytest.raises(MedicError, match=why):
                build_load_model(store, "c", now=now, kafka_cluster_id="id-1", **window)
        assert build_load_model(store, "c", now=now, window_s=120.0, windows=1, kafka_cluster_id="id-1").partition_load


def test_aggregation_is_idempotent_and_two_processes_share_it(urls):
    """Four stores (as four workers) aggregate the same closed windows at once: each window once."""
    url = urls[1]
    with MetricsStore(url, aggregate_s=60.0, aggregate_after_s=0) as store:
        now = scripted_rounds(store)
    stores = [MetricsStore(url, aggregate_s=60.0, aggregate_after_s=0) for _ in range(4)]
    done = [0] * len(stores)

    def work(i: int) -> None:
        done[i] = stores[i].aggregate("c", now, "id-1")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with stores[0] as store:
        assert sum(done) == 8  # [T0 - 300, T0 + 180): eight windows of 60 s
        assert store.aggregate("c", now, "id-1") == 0
        assert store.aggregated("c", "id-1") == (60.0, T0 - 300, T0 + 180)
        # gone: 4 windows of 2 partitions; a-0: the 4 before its reassignment came near; a-3: one gap
        assert len(store.partition_windows("c", 0, now, "id-1")) == 4 * 2 + 4 + 3 * 8 - 1
    for other in stores[1:]:
        other.close()


def test_prune_drops_old_sums_and_kept_rows(urls):
    with MetricsStore(urls[1], aggregate_s=60.0, aggregate_after_s=0) as store:
        now = scripted_rounds(store, lambda ts: store.aggregate("c", ts, "id-1"))
        assert store.prune(before=T0)
        assert store.partition_samples("c", 0, now, "id-1").ts.min() >= T0
        assert store.partition_windows("c", 0, now, "id-1").start.min() == T0
