"""The load model on synthetic samples: windows, completeness, reassignment exclusion, CPU, dead brokers."""

from __future__ import annotations

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.metrics.load_model import KB, MB, build_load_model
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MetricsStore

T0 = 6000.0  # a window boundary for 60 s windows
WINDOW = dict(window_s=60.0, windows=3, min_valid_ratio=0.9)
# (topic, partition): replicas (leader first), bytes in/s, bytes out/s, messages/s, size in bytes
PARTITIONS = {
    ("orders", 0): ([1, 2], 4096.0, 8192.0, 40.0, 3 * MB),
    ("orders", 1): ([1, 2], 1024.0, 0.0, 10.0, MB),
    ("clicks", 0): ([2, 1], 2048.0, 2048.0, 30.0, 2 * MB),
    ("audit", 0): ([3], 512.0, 512.0, 5.0, MB // 2),
}
CPU = {1: 40.0, 2: 20.0, 3: 10.0}


@pytest.fixture
def store(tmp_path):
    with MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}") as store:
        yield store


def sample_round(store, ts, brokers=(1, 2, 3), reassigning=(), inflate=1.0, rates=True):
    """One sampling round at `ts`: every replica on a live broker, rates on leaders, broker CPU."""
    rows = []
    for (topic, part), (replicas, bin_, bout, msgs, size) in PARTITIONS.items():
        for broker in replicas:
            if broker not in brokers:
                continue
            leader = broker == replicas[0]
            flagged = (topic, part) in reassigning
            factor = inflate if flagged else 1.0
            rows.append(
                PartitionSample(
                    ts=ts, topic=topic, partition=part, broker=broker, source="test", leader=leader,
                    reassigning=flagged, size=size * factor,
                    bytes_in=bin_ * factor if leader and rates else None,
                    bytes_out=bout if leader and rates else None,
                    messages_in=msgs if leader and rates else None,
                )
            )  # fmt: skip
    store.add_partition_samples("c", rows)
    store.add_broker_samples("c", [BrokerSample(ts=ts, broker=b, source="test", cpu=CPU[b]) for b in brokers])


def fill(store, since, until, step=10.0, **kwargs):
    ts = since
    while ts < until:
        sample_round(store, ts, **kwargs)
        ts += step


def test_not_enough_windows_right_after_start_then_complete(store):
    fill(store, T0, T0 + 60, rates=False)  # sizes only, as before a sampler has two readings to subtract
    early = build_load_model(store, "c", now=T0 + 70, **WINDOW)
    assert early.valid_windows == 0 and early.valid_partition_ratio == 0.0
    with pytest.raises(MedicError) as raised:
        early.require_complete()
    assert "0 of 3 windows of 60s are valid" in str(raised.value)
    assert "orders-0: no rates yet in 1, no leader samples in 2 of 3 windows" in str(raised.value)

    fill(store, T0 + 60, T0 + 250)
    model = build_load_model(store, "c", now=T0 + 250, **WINDOW)
    assert (model.valid_windows, model.valid_partition_ratio, model.incomplete) == (3, 1.0, {})
    model.require_complete()
    load = model.partition_load[("orders", 0)]
    assert load["nw_in"] == pytest.approx(4.0) and load["nw_out"] == pytest.approx(8.0)
    assert load["disk"] == pytest.approx(3.0)
    assert model.leaders[("clicks", 0)] == 2 and model.replicas[("clicks", 0)] == [1, 2]
    assert all(s.state == "alive" for s in model.brokers.values())


def test_cpu_apportioned_by_bytes_and_messages(store):
    fill(store, T0, T0 + 240)
    model = build_load_model(store, "c", now=T0 + 250, **WINDOW)
    load = model.partition_load
    # Broker 1 leads orders-0 (12 KB/s, 40 msg/s), orders-1 (1 KB/s, 10 msg/s); follows clicks-0 (2 KB/s in).
    fraction = 13 / (13 + 0.3 * 2)
    assert load[("orders", 0)]["cpu"] == pytest.approx(40 * fraction * (0.5 * 12 / 13 + 0.5 * 40 / 50))
    assert load[("orders", 1)]["cpu"] == pytest.approx(40 * fraction * (0.5 * 1 / 13 + 0.5 * 10 / 50))
    assert load[("audit", 0)]["cpu"] == pytest.approx(10.0)  # the only partition on broker 3
    # What broker 1 measured, less its followers' share, is what its leaders carry.
    led = model.partition_load[("orders", 0)]["cpu"] + model.partition_load[("orders", 1)]["cpu"]
    assert led == pytest.approx(40 * fraction)
    assert model.broker_load[1]["nw_in"] == pytest.approx((4096 + 1024 + 2048) / KB)
    assert model.broker_load[1]["nw_out"] == pytest.approx((8192 + 0) / KB)
    assert model.broker_load[2]["disk"] == pytest.approx(6.0)


def test_reassigning_samples_and_cooldown_are_excluded(store):
    moving = {("orders", 1)}
    fill(store, T0, T0 + 60)
    fill(store, T0 + 60, T0 + 90, reassigning=moving, inflate=10.0)  # moving replicas inflate bytes in
    fill(store, T0 + 90, T0 + 240)
    model = build_load_model(store, "c", now=T0 + 250, cooldown_s=40.0, **WINDOW)
    assert model.partition_load[("orders", 1)]["nw_in"] == pytest.approx(1.0)
    assert model.partition_load[("orders", 1)]["disk"] == pytest.approx(1.0)
    # Flagged 60-80 s, cooling down until 120 s: windows 1 (60-120) has no valid sample, 0 and 2 do.
    assert model.incomplete == {("orders", 1): "reassigning or cooling down in 1 of 3 windows"}
    assert model.valid_partition_ratio == pytest.approx(3 / 4)
    assert model.valid_windows == 2
    with pytest.raises(MedicError, match=r"75.0% of partitions .* need 90.0%.*orders-1: reassigning"):
        model.require_complete()


def test_dead_broker_keeps_last_known_load(store):
    fill(store, T0 - 300, T0)  # before the windows: broker 3 still alive
    for ts in range(int(T0), int(T0 + 240), 10):
        sample_round(store, float(ts), brokers=(1, 2))
        store.add_broker_samples("c", [BrokerSample(ts=float(ts), broker=3, source="test", alive=False)])
    model = build_load_model(store, "c", now=T0 + 250, **WINDOW)
    assert model.brokers[3].state == "dead" and not model.brokers[3].alive
    assert model.brokers[3].last_sample == T0 - 10  # its last answer, from before the windows
    assert model.brokers[3].measured["cpu"] == 10.0
    assert model.offline == {("audit", 0)}
    assert model.partition_load[("audit", 0)] == pytest.approx(
        {"disk": 0.5, "nw_in": 0.5, "nw_out": 0.5, "cpu": 10.0}
    )
    assert model.broker_load[3]["disk"] == pytest.approx(0.5)
    model.require_complete()  # offline partitions do not block planning the heal
    assert model.valid_partition_ratio == 1.0


def test_silent_broker_has_no_fresh_samples(store):
    fill(store, T0, T0 + 100)
    fill(store, T0 + 100, T0 + 240, brokers=(1, 2))
    model = build_load_model(store, "c", now=T0 + 250, **WINDOW)
    assert model.brokers[3].state == "no fresh samples"
    assert model.brokers[3].last_sample == pytest.approx(T0 + 90)
    assert model.brokers[3].measured["cpu"] == pytest.approx(10.0)


def test_empty_store_is_not_complete(store):
    model = build_load_model(store, "nothing", now=T0, **WINDOW)
    assert model.partition_load == {} and model.valid_windows == 0
    with pytest.raises(MedicError, match="no partition has fresh samples"):
        model.require_complete()
