"""A sampler that scrapes each broker's Prometheus JMX exporter directly (no Prometheus server needed).

The dev cluster's exporter rules (devcluster/configs.py) export Kafka's meters as cumulative
counters; rates are the counter deltas between two scrapes of the same broker, so the first scrape
of a broker (and the first after it restarted) gives sizes and gauges only.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from kafka_medic.metrics.admin_sampler import AdminSampler
from kafka_medic.metrics.broker_metrics import BrokerReading, readings_to_samples
from kafka_medic.metrics.sample import BrokerSample, PartitionSample

SOURCE = "jmx"
TOPIC_METRICS = "kafka_server_brokertopicmetrics_"
# Counter sample name suffix (after TOPIC_METRICS) -> sample field; broker-wide series have no topic label.
BROKER_COUNTERS = {
    "bytesin_total": "bytes_in",
    "bytesout_total": "bytes_out",
    "replicationbytesin_total": "replication_bytes_in",
    "replicationbytesout_total": "replication_bytes_out",
    "totalproducerequests_total": "produce_requests",
    "totalfetchrequests_total": "fetch_requests",
}
TOPIC_COUNTERS = {
    "bytesin_total": "bytes_in",
    "bytesout_total": "bytes_out",
    "messagesin_total": "messages_in",
}
IDLE_GAUGE = "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent"
CPU_GAUGE = "java_lang_operatingsystem_processcpuload"  # fraction of the machine's CPU, 0..1
SIZE_GAUGE = "kafka_log_log_size"


class _Scrape:
    """Counters and gauges of one scrape, keyed by (field, topic or None)."""

    def __init__(self, text: str, at: float) -> None:
        self.at = at
        self.counters: dict[tuple[str, str | None], float] = {}
        self.gauges: dict[str, float] = {}
        self.sizes: dict[tuple[str, int], float] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                self._add(s.name, s.labels, s.value)

    def _add(self, name: str, labels: dict[str, str], value: float) -> None:
        if name.startswith(TOPIC_METRICS):
            suffix, topic = name[len(TOPIC_METRICS) :], labels.get("topic")
            field = (TOPIC_COUNTERS if topic else BROKER_COUNTERS).get(suffix)
            if field:
                self.counters[(field, topic)] = value
        elif name == IDLE_GAUGE:
            self.gauges["request_handler_idle"] = value
        elif name == CPU_GAUGE and value >= 0:  # the JVM reports -1 until it has a reading
            self.gauges["cpu"] = 100.0 * value
        elif name == SIZE_GAUGE:
            self.sizes[(labels["topic"], int(labels["partition"]))] = value


class JmxSampler:
    source = SOURCE

    def __init__(self, urls: dict[int, str], admin: AdminSampler, timeout_s: float = 5.0) -> None:
        self.urls = urls
        self.admin = admin
        self.timeout_s = timeout_s
        self._previous: dict[int, _Scrape] = {}

    @property
    def cluster_id(self) -> str | None:
        return self.admin.cluster_id

    def sample(self, ts: float) -> tuple[list[BrokerSample], list[PartitionSample]]:
        """A broker whose exporter does not answer gives no sample: it has no fresh samples."""
        readings = {}
        for broker, url in sorted(self.urls.items()):
            scrape = self.scrape(url)
            if scrape is None:
                self._previous.pop(broker, None)
                continue
            readings[broker] = _reading(scrape, self._previous.get(broker))
            self._previous[broker] = scrape
        return readings_to_samples(ts, SOURCE, readings, self.admin)

    def scrape(self, url: str) -> _Scrape | None:
        """Timed halfway through the request: the exporter reads its MBeans while we wait."""
        asked = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                text = response.read().decode()
        except (urllib.error.URLError, OSError):
            return None
        return _Scrape(text, (asked + time.monotonic()) / 2)


def _reading(now: _Scrape, before: _Scrape | None) -> BrokerReading:
    reading = BrokerReading(broker=dict(now.gauges), sizes=now.sizes)
    if before is None or now.at <= before.at:
        return reading
    elapsed = now.at - before.at
    rates = {}
    for key, value in now.counters.items():
        delta = value - before.counters.get(key, 0.0)  # a counter that appeared started from zero
        if delta >= 0:  # a smaller count means the broker restarted: no rate this time
            rates[key] = delta / elapsed
    reading.broker.update({field: rate for (field, topic), rate in rates.items() if topic is None})
    reading.topics = {}
    for (field, topic), rate in rates.items():
        if topic is not None:
            reading.topics.setdefault(topic, {})[field] = rate
    return reading
