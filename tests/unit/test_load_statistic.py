"""The policy's load statistic: a partition's rate over the windows is their mean, p95 or maximum, so a
cluster that peaks once a day can be planned for the peak instead of the average."""

from __future__ import annotations

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.metrics.load_model import KB, build_load_model
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MetricsStore

T0 = 6000.0  # a window boundary for 60 s windows
RATES = [1024.0, 2048.0, 4096.0, 8192.0]  # bytes in/s of the one partition, one rate per window


@pytest.fixture
def store(tmp_path):
    with MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}") as store:
        for window, rate in enumerate(RATES):
            for ts in (T0 + 60 * window + 5, T0 + 60 * window + 35):
                store.add_partition_samples("c", [PartitionSample(
                    ts=ts, topic="t", partition=0, broker=1, source="test", leader=True, reassigning=False,
                    size=1024.0, bytes_in=rate, bytes_out=rate, messages_in=1.0)])
                store.add_broker_samples("c", [BrokerSample(ts=ts, broker=1, source="test", cpu=10.0)])
        yield store


@pytest.mark.parametrize(("statistic", "expected"), [
    ("mean", sum(RATES) / 4), ("max", 8192.0), ("p95", 1024.0 * (4 + 0.85 * 4)),
])
def test_the_rate_planned_for_is_the_policys_statistic_of_the_window_means(store, statistic, expected):
    loads = build_load_model(store, "c", now=T0 + 240, window_s=60.0, windows=4, statistic=statistic)
    assert loads.complete
    assert loads.partition_load[("t", 0)]["nw_in"] == pytest.approx(expected / KB)


def test_an_unknown_statistic_is_one_line_naming_the_valid_ones(store):
    with pytest.raises(MedicError, match="load statistic 'median': give mean, p95 or max"):
        build_load_model(store, "c", now=T0 + 240, window_s=60.0, windows=4, statistic="median")
