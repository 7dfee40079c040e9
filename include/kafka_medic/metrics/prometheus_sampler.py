"""A sampler that asks a Prometheus server (HTTP API, instant queries) instead of the brokers.

Production clusters are usually scraped by Prometheus already; its rate() over the scrapes gives
the same per-second rates the JMX sampler computes itself. Queries are configurable (a JSON file
with any of the keys of DEFAULT_QUERIES) because metric and label names depend on the exporter
rules and on how targets are labelled; each broker-level result must carry the broker id in the
`broker_label` label, topic results also `topic`, size results `topic` and `partition`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from kafka_medic.errors import MedicError
from kafka_medic.metrics.admin_sampler import AdminSampler
from kafka_medic.metrics.broker_metrics import TOPIC_RATES, BrokerReading, readings_to_samples
from kafka_medic.metrics.sample import BROKER_METRICS, BrokerSample, PartitionSample

SOURCE = "prometheus"
_BTM = "kafka_server_brokertopicmetrics"
_IDLE = "kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent"
DEFAULT_QUERIES: dict = {
    "broker_label": "broker",
    "broker": {
        "bytes_in": f'sum by (broker) (rate({_BTM}_bytesin_total{{topic=""}}[1m]))',
        "bytes_out": f'sum by (broker) (rate({_BTM}_bytesout_total{{topic=""}}[1m]))',
        "replication_bytes_in": f'sum by (broker) (rate({_BTM}_replicationbytesin_total{{topic=""}}[1m]))',
        "replication_bytes_out": f'sum by (broker) (rate({_BTM}_replicationbytesout_total{{topic=""}}[1m]))',
        "produce_requests": f'sum by (broker) (rate({_BTM}_totalproducerequests_total{{topic=""}}[1m]))',
        "fetch_requests": f'sum by (broker) (rate({_BTM}_totalfetchrequests_total{{topic=""}}[1m]))',
        "request_handler_idle": f"max by (broker) ({_IDLE})",
        "cpu": "100 * max by (broker) (java_lang_operatingsystem_processcpuload >= 0)",
    },
    "topic": {
        "bytes_in": f'sum by (broker, topic) (rate({_BTM}_bytesin_total{{topic!=""}}[1m]))',
        "bytes_out": f'sum by (broker, topic) (rate({_BTM}_bytesout_total{{topic!=""}}[1m]))',
        "messages_in": f'sum by (broker, topic) (rate({_BTM}_messagesin_total{{topic!=""}}[1m]))',
    },
    "size": "max by (broker, topic, partition) (kafka_log_log_size)",
}


def load_queries(path: str | Path | None) -> dict:
    """DEFAULT_QUERIES, with the entries of a JSON file (same shape) replacing the defaults they name."""
    queries = json.loads(json.dumps(DEFAULT_QUERIES))
    if path is None:
        return queries
    try:
        override = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise MedicError(f"cannot read Prometheus queries file {path}: {exc}") from exc
    for key, value in override.items():
        if key not in queries:
            raise MedicError(
                f"Prometheus queries file {path}: unknown key {key!r}; valid: {', '.join(queries)}"
            )
        if isinstance(queries[key], dict):
            valid = BROKER_METRICS if key == "broker" else TOPIC_RATES
            unknown = set(value) - set(valid) if isinstance(value, dict) else {"(not an object)"}
            if unknown:
                raise MedicError(
                    f"Prometheus queries file {path}: {key!r} has unknown entries {sorted(unknown)}"
                )
            queries[key].update(value)
        else:
            queries[key] = value
    return queries


class PrometheusSampler:
    source = SOURCE

    def __init__(self, url: str, admin: AdminSampler, queries: dict | None = None, timeout_s: float = 10.0):
        self.url = url.rstrip("/")
        self.admin = admin
        self.queries = queries or load_queries(None)
        self.timeout_s = timeout_s

    @property
    def cluster_id(self) -> str | None:
        return self.admin.cluster_id

    def sample(self, ts: float) -> tuple[list[BrokerSample], list[PartitionSample]]:
        return readings_to_samples(ts, SOURCE, readings(self.queries, lambda q: self.query(q, ts)), self.admin)

    def query(self, promql: str, ts: float) -> list[tuple[dict[str, str], float]]:
        """An instant query at `ts`: (labels, value) per series of the resulting vector."""
        body = self._get("query", promql, {"time": f"{ts:.3f}"})
        if body.get("data", {}).get("resultType") != "vector":
            raise MedicError(f"Prometheus query {promql!r} must give an instant vector")
        return [(series["metric"], float(series["value"][1])) for series in body["data"]["result"]]

    def query_range(self, promql: str, start: float, end: float, step_s: float) -> list[Series]:
        """A range query over [start, end] every `step_s`: (labels, [(ts, value)]) per series."""
        params = {"start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step_s:g}"}
        body = self._get("query_range", promql, params)
        if body.get("data", {}).get("resultType") != "matrix":
            raise MedicError(f"Prometheus query {promql!r} must give a range vector")
        return [(series["metric"], [(float(t), float(v)) for t, v in series["values"]])
                for series in body["data"]["result"]]

    def _get(self, endpoint: str, promql: str, params: dict[str, str]) -> dict:
        """One bounded GET of the HTTP API; every failure a one-line MedicError naming the server."""
        url = f"{self.url}/api/v1/{endpoint}?" + urllib.parse.urlencode({"query": promql, **params})
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read() or b"{}").get("error", exc.reason)
            except (json.JSONDecodeError, AttributeError):
                detail = exc.reason
            raise MedicError(f"Prometheus at {self.url} rejected query {promql!r}: {detail}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise MedicError(f"cannot reach Prometheus at {self.url}: {exc}") from exc


Series = tuple[dict[str, str], list[tuple[float, float]]]


Results = Callable[[str], Iterable[tuple[dict[str, str], float]]]  # a query's (labels, value) at one time


def readings(queries: dict, results: Results) -> dict[int, BrokerReading]:
    """Each broker's reading from the (labels, value) results of every query in `queries` (at one time):
    shared by the live sampler (instant queries) and the bootstrap (one time of range queries)."""
    label = queries["broker_label"]
    found: dict[int, BrokerReading] = {}

    def reading(labels: dict[str, str]) -> BrokerReading:
        return found.setdefault(int(labels[label]), BrokerReading(topics={}))

    for field, query in queries["broker"].items():
        for labels, value in results(query):
            reading(labels).broker[field] = value
    for field, query in queries["topic"].items():
        for labels, value in results(query):
            topics = reading(labels).topics
            if topics is None:  # reading() starts each one with topics: Prometheus has rates at once
                raise MedicError(f"broker {labels[label]} has a reading without topic rates")
            topics.setdefault(labels["topic"], {})[field] = value
    for labels, value in results(queries["size"]):
        reading(labels).sizes[(labels["topic"], int(labels["partition"]))] = value
    return found
