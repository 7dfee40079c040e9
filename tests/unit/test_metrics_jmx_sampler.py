"""The JMX exporter's text format to rates, and topic rates apportioned to partitions by messages."""

from __future__ import annotations

from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.state import BrokerState, ClusterState, PartitionState
from kafka_medic.metrics.admin_sampler import AdminSampler
from kafka_medic.metrics.broker_metrics import readings_to_samples
from kafka_medic.metrics.jmx_sampler import _reading, _Scrape
from kafka_medic.metrics.sample import PartitionSample


def exposition(bytes_in: float, topic_in: float, topic_out: float, messages: float) -> str:
    return f"""# HELP kafka_server_brokertopicmetrics_bytesin_total BytesIn
# TYPE kafka_server_brokertopicmetrics_bytesin_total counter
kafka_server_brokertopicmetrics_bytesin_total {bytes_in}
kafka_server_brokertopicmetrics_bytesin_total{{topic="orders"}} {topic_in}
# TYPE kafka_server_brokertopicmetrics_bytesout_total counter
kafka_server_brokertopicmetrics_bytesout_total{{topic="orders"}} {topic_out}
# TYPE kafka_server_brokertopicmetrics_messagesin_total counter
kafka_server_brokertopicmetrics_messagesin_total{{topic="orders"}} {messages}
# TYPE java_lang_operatingsystem_processcpuload gauge
java_lang_operatingsystem_processcpuload 0.25
# TYPE kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent gauge
kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent 0.9
# TYPE kafka_log_log_size gauge
kafka_log_log_size{{partition="0",topic="orders"}} 3000.0
kafka_log_log_size{{partition="1",topic="orders"}} 1000.0
kafka_log_log_size{{partition="0",topic="__cluster_metadata"}} 77.0
"""


def test_counter_deltas_become_rates_and_restarts_give_none():
    first = _Scrape(exposition(1000, 800, 100, 10), at=100.0)
    second = _Scrape(exposition(3000, 2800, 4100, 30), at=110.0)
    reading = _reading(second, first)
    assert reading.broker == {"bytes_in": 200.0, "cpu": 25.0, "request_handler_idle": 0.9}
    assert reading.topics == {"orders": {"bytes_in": 200.0, "bytes_out": 400.0, "messages_in": 2.0}}
    assert _reading(first, None).topics is None  # one reading: sizes and gauges only
    restarted = _reading(_Scrape(exposition(5, 5, 5, 1), at=120.0), second)
    assert restarted.topics == {} and "bytes_in" not in restarted.broker


def test_topic_rates_split_by_share_of_messages():
    admin = AdminSampler(ClusterConfig(bootstrap="127.0.0.1:9"))
    partitions = [PartitionState("orders", p, replicas=[1, 2], leader=1, isr=[1, 2]) for p in (0, 1)]
    admin.latest_state = ClusterState(
        "c", 1, {1: BrokerState(1, None, None, None, True)}, partitions, {}, {}, ""
    )
    admin.latest = {
        ("orders", p): PartitionSample(0, "orders", p, broker=1, source="admin", leader=True, messages_in=m)
        for p, m in ((0, 3.0), (1, 1.0))
    }
    first = _Scrape(exposition(0, 0, 0, 0), at=0.0)
    reading = _reading(_Scrape(exposition(4000, 4000, 8000, 40), at=10.0), first)
    brokers, rows = readings_to_samples(50.0, "jmx", {1: reading}, admin)
    assert [(b.broker, b.bytes_in, b.cpu) for b in brokers] == [(1, 400.0, 25.0)]
    by_partition = {(r.topic, r.partition): r for r in rows}
    assert set(by_partition) == {("orders", 0), ("orders", 1)}  # not the KRaft metadata log
    assert (by_partition[("orders", 0)].bytes_in, by_partition[("orders", 0)].bytes_out) == (300.0, 600.0)
    assert (by_partition[("orders", 1)].bytes_in, by_partition[("orders", 1)].messages_in) == (100.0, 1.0)
    assert by_partition[("orders", 0)].size == 3000.0 and by_partition[("orders", 0)].leader
