"""A sampling round: every sampler's rows stored together, and the figures the sample DAG logs and returns."""

from __future__ import annotations

from kafka_medic.errors import MedicError
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.sampling import round_figures, sample_round
from kafka_medic.metrics.store import MetricsStore


class Sampler:
    """Two replicas of each of `partitions` partitions on brokers 1 and 2; fails when told to."""

    def __init__(self, source: str, partitions: int, fail: bool = False) -> None:
        self.source, self.partitions, self.fail = source, partitions, fail
        self.cluster_id = "kafka-1"

    def sample(self, ts: float) -> tuple[list[BrokerSample], list[PartitionSample]]:
        if self.fail:
            raise MedicError("unreachable")
        brokers = [BrokerSample(ts=ts, broker=b, source=self.source) for b in (1, 2)]
        replicas = [PartitionSample(ts=ts, topic="t", partition=p, broker=b, source=self.source, size=1.0)
                    for p in range(self.partitions) for b in (1, 2)]  # fmt: skip
        return brokers, replicas


def test_a_round_reports_partitions_rows_and_seconds(tmp_path):
    with MetricsStore(f"sqlite:///{tmp_path / 'm.db'}") as store:
        samplers = [Sampler("admin", 300), Sampler("jmx", 300), Sampler("prometheus", 300, fail=True)]
        reports = [sample_round(store, "c", samplers, ts=ts) for ts in (60.0, 120.0)]
        assert len(store.partition_samples("c", 0, 200, kafka_cluster_id="kafka-1")) == 2 * 2 * 600
    last = reports[-1]
    assert (last.partitions, last.broker_samples, last.partition_samples) == (300, 4, 1200)
    assert last.errors == {"prometheus": "unreachable"}
    assert last.seconds == last.sample_s + last.write_s > 0
    assert last.line().startswith("round: 300 partitions, 1204 rows in ")
    figures = round_figures(reports)
    assert {k: figures[k] for k in ("rounds", "partitions", "rows")} == {"rounds": 2, "partitions": 300, "rows": 1204}
    assert figures["round_s_max"] >= figures["round_s_mean"] > 0
    assert round_figures([]) == {"rounds": 0, "partitions": 0, "rows": 0, "round_s_mean": 0.0, "round_s_max": 0.0,
                                 "write_s_max": 0.0}  # fmt: skip
