"""The live model that the CLI and the DAGs share: placement and sizes from the state, loads from the store,
capacities from the file; and the samplers chosen for a cluster."""

from __future__ import annotations

import json
import time

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.state import BrokerState, ClusterState, PartitionState
from kafka_medic.live_model import LoadWindows, build_live_model
from kafka_medic.metrics.load_model import build_load_model
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.samplers import make_samplers
from kafka_medic.metrics.store import MetricsStore
from kafka_medic.units import MB

WINDOWS = LoadWindows(window_s=60.0, windows=3, min_valid_ratio=0.9)
CAPACITY = {"disk": 1000.0, "nw_in": 5000.0, "nw_out": 6000.0, "cpu": 100.0}


def cluster_state() -> ClusterState:
    """Brokers 1 and 2 with a 100 GB log dir each, broker 3 dead; one partition of 3 MB on 1 and 2."""
    return ClusterState(
        cluster_id="c1",
        controller_id=1,
        brokers={
            1: BrokerState(1, "h", 9092, "r1", alive=True, log_dirs={"/d": (100 * 1024 * MB, 0)}),
            2: BrokerState(2, "h", 9092, "r2", alive=True, log_dirs={"/d": (100 * 1024 * MB, 0)}),
            3: BrokerState(3, "h", 9092, "r3", alive=False),
        },
        partitions=[PartitionState("orders", 0, [1, 2], 1, [1, 2], sizes={1: 3 * MB, 2: 3 * MB})],
        topic_configs={},
        broker_configs={},
        taken_at="2027-01-15T08:00:00Z",
    )


def fill_store(url: str, seconds: float) -> None:
    """Samples every 10 s for the last `seconds`: the leader's rates and both brokers' CPU."""
    now = time.time()
    with MetricsStore(url) as store:
        for ts in range(int(now - seconds), int(now), 10):
            store.add_partition_samples("c", [
                PartitionSample(ts=ts, topic="orders", partition=0, broker=1, source="test", leader=True, size=3 * MB,
                                bytes_in=2048.0, bytes_out=4096.0, messages_in=10.0),
                PartitionSample(ts=ts, topic="orders", partition=0, broker=2, source="test", size=3 * MB),
            ])  # fmt: skip
            store.add_broker_samples("c", [BrokerSample(ts=ts, broker=b, source="test", cpu=20.0) for b in (1, 2)])


def test_placement_and_sizes_from_the_state_loads_from_the_store_capacities_from_the_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    fill_store(url, 400)
    capacity_file = tmp_path / "capacity.json"
    capacity_file.write_text(json.dumps({"default": CAPACITY}))

    model, loads = build_live_model(cluster_state(), "c", url, WINDOWS, capacity_file)

    with MetricsStore(url) as store:
        expected = build_load_model(store, "c", window_s=60.0, windows=3, min_valid_ratio=0.9).partition_load
    assert loads.complete
    assert model.cluster == "c" and model.taken_at == "2027-01-15T08:00:00Z"
    assert [(b.id, b.alive, b.capacity) for b in model.brokers] == [(b, b != 3, CAPACITY) for b in (1, 2, 3)]
    [partition] = model.partitions
    assert (partition.replicas, partition.leader) == ([1, 2], 1)
    assert partition.load["nw_in"] == expected[("orders", 0)]["nw_in"] > 0
    assert partition.load["disk"] == 3.0  # the measured size, not the store's


def test_without_samples_or_a_capacity_file_loads_are_zero_and_disk_is_the_log_dirs(tmp_path):
    url = f"sqlite:///{tmp_path / 'metrics.db'}"

    model, loads = build_live_model(cluster_state(), "c", url, WINDOWS)

    assert not loads.complete
    assert {b.id: b.capacity["disk"] for b in model.brokers} == {1: 102400.0, 2: 102400.0, 3: 102400.0}
    assert model.partitions[0].load == {"disk": 3.0, "nw_in": 0.0, "nw_out": 0.0, "cpu": 0.0}
    with pytest.raises(MedicError, match="windows"):
        build_live_model(cluster_state(), "c", url, WINDOWS, require_complete=True)


def test_the_admin_sampler_comes_first_and_jmx_and_prometheus_only_when_named():
    config = ClusterConfig(bootstrap="127.0.0.1:1", name="c")
    assert [s.source for s in make_samplers(config)] == ["admin"]
    samplers = make_samplers(config, {1: "r1"}, {1: "http://h:7071/metrics"}, "http://prom:9090")
    assert [s.source for s in samplers] == ["admin", "jmx", "prometheus"]
    assert all(s.admin is samplers[0] for s in samplers[1:]) and samplers[0].known_brokers == {1: "r1"}
