"""A failed disk of a JBOD broker, for real: the broker serves on from its other disk, the detector
reports the replicas the disk took offline, and a plan + execution re-replicates them elsewhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kafka_medic.detector import find_anomalies
from kafka_medic.devcluster import DevCluster
from kafka_medic.executor import ExecutionOptions, Journal
from kafka_medic.executor.run import execute
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.reader import read_cluster_state
from kafka_medic.kafka.snapshot import state_to_model
from kafka_medic.optimizer import plan

from .executor_helpers import CheckedProducer, checksum, consume_values
from .kafka_helpers import create_topic, wait_for

pytestmark = pytest.mark.kafka

TOPIC, PARTITIONS, VICTIM = "jbod-orders", 8, 2


@pytest.fixture(scope="module")
def jbod_cluster(tmp_path_factory) -> Iterator[DevCluster]:
    """4 brokers with two log dirs (disks) each."""
    cluster = DevCluster(name="jbod", home=tmp_path_factory.mktemp("jbod"), brokers=4, racks=2, base_port=0,
                         log_dirs=2)
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down()


def test_replicas_of_a_failed_disk_are_found_and_re_replicated_elsewhere(jbod_cluster, tmp_path):
    config = ClusterConfig(bootstrap=jbod_cluster.bootstrap, name="jbod")
    create_topic(jbod_cluster.bootstrap, TOPIC, PARTITIONS)
    with CheckedProducer(jbod_cluster.bootstrap, TOPIC) as producer:
        wait_for(lambda: len(producer.acked) > 2000, 60, "acknowledged messages")
        disks = jbod_cluster.layout.disks(jbod_cluster.state.broker(VICTIM), 2)
        disk = max(range(2), key=lambda d: len(list(disks[d].glob(f"{TOPIC}-*"))))
        on_disk = sorted(p.name for p in disks[disk].glob(f"{TOPIC}-*"))
        assert on_disk, f"no partition of {TOPIC} on either disk of broker {VICTIM}"
        jbod_cluster.fail_disk(VICTIM, disk)

        def failure():
            found = find_anomalies(read_cluster_state(config), cluster="jbod")
            return [a for a in found if a.kind == "disk_failure"]
        [anomaly] = wait_for(failure, 60, f"broker {VICTIM}'s failed disk to be reported")
        assert anomaly.brokers == [VICTIM] and sorted(anomaly.details["offline_replicas"]) == on_disk
        state = read_cluster_state(config)
        assert state.brokers[VICTIM].alive  # it serves on from its other disk

        proposal = plan(state_to_model(state, "jbod"))
        evacuated = {f"{m.topic}-{m.partition}" for m in proposal.moves if VICTIM not in m.new_replicas}
        assert set(on_disk) <= evacuated and proposal.stats["replicas_left_behind"] == 0
        with Journal(f"sqlite:///{tmp_path / 'store.db'}") as journal:
            report = execute(config, proposal, ExecutionOptions(throttle=10 * 2**20), journal, log=lambda _: None)
        assert report["status"] == "succeeded", report

    after = read_cluster_state(config)
    assert not [p.name for p in after.partitions if p.offline_replicas or p.under_replicated]
    assert not [p.name for p in after.partitions if p.name in on_disk and VICTIM in p.replicas]
    assert after.throttles() == {"brokers": {}, "topics": {}}
    assert not [a for a in find_anomalies(after, cluster="jbod") if a.kind == "disk_failure"]
    assert not producer.errors
    assert checksum(consume_values(jbod_cluster.bootstrap, TOPIC, list(range(PARTITIONS)))) == checksum(producer.acked)
