"""Bootstrap against a local HTTP server that answers Prometheus's range queries: history becomes the live
sampler's rows, the load model is complete at once, a rerun writes nothing, and a bad server is one line."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kafka_medic.errors import MedicError
from kafka_medic.kafka.state import ClusterState, PartitionState
from kafka_medic.metrics.bootstrap import bootstrap, check_hours, history_rounds
from kafka_medic.metrics.load_model import build_load_model
from kafka_medic.metrics.prometheus_sampler import PrometheusSampler, load_queries
from kafka_medic.metrics.sample import PartitionSample
from kafka_medic.metrics.store import MetricsStore

STEP = 10.0
NOW = 100_000.0
PARTITIONS = {("orders", 0): 1, ("orders", 1): 2}  # leader of each; both replicated on brokers 1 and 2


class FakeAdmin:
    """What bootstrap reads from the Admin sampler: partitions, their leaders and message rates now."""

    cluster_id = "kid"

    def __init__(self) -> None:
        self.rounds = 0
        self.latest: dict = {}
        self.latest_state: ClusterState | None = None

    def sample(self, ts: float):
        self.rounds += 1
        self.latest = {key: PartitionSample(ts=ts, topic=key[0], partition=key[1], broker=leader, source="admin",
                                            leader=True, messages_in=10.0 if key[1] == 0 else 30.0)
                       for key, leader in PARTITIONS.items()}
        self.latest_state = ClusterState("kid", 1, {}, [PartitionState(t, p, [1, 2], leader, [1, 2])
                                                        for (t, p), leader in PARTITIONS.items()], {}, {}, "now")
        return [], []


class FakePrometheus:
    """Answers /api/v1/query_range for the default queries with a value at every step from `since`."""

    def __init__(self, since: float) -> None:
        self.since = since
        self.queries: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                fake.queries.append(query)
                body = json.dumps({"status": "success", "data": {"resultType": "matrix",
                                                                  "result": fake.series(query)}}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def series(self, query: dict) -> list[dict]:
        start, end, step = float(query["start"]), float(query["end"]), float(query["step"])
        times = [start + i * step for i in range(int((end - start) / step) + 1) if start + i * step >= self.since]
        promql = query["query"]
        if "log_size" in promql:
            labels = [{"broker": str(b), "topic": t, "partition": str(p)} for (t, p) in PARTITIONS for b in (1, 2)]
        elif "topic!=" in promql:
            labels = [{"broker": str(b), "topic": "orders"} for b in (1, 2)]
        else:
            labels = [{"broker": str(b)} for b in (1, 2)]
        return [{"metric": m, "values": [[t, "4096"] for t in times]} for m in labels]


@pytest.fixture
def store(tmp_path):
    with MetricsStore(f"sqlite:///{tmp_path / 'm.db'}") as store:
        yield store


def sampler(url: str) -> PrometheusSampler:
    return PrometheusSampler(url, FakeAdmin(), load_queries(None), timeout_s=5)  # type: ignore[arg-type]


def test_history_is_the_live_samplers_rows_apportioned_by_todays_message_shares():
    prometheus = FakePrometheus(since=NOW - 60)
    source = sampler(prometheus.url)
    source.admin.sample(NOW)
    rounds = history_rounds(source, NOW - 100, NOW, STEP)
    assert len(rounds) == 6  # points from NOW - 60 to NOW - 10: `until` is not part of the range
    _, brokers, partitions = rounds[0]
    assert {b.broker for b in brokers} == {1, 2} and brokers[0].bytes_in == 4096
    led = {(p.topic, p.partition): p.bytes_in for p in partitions if p.leader}
    assert led == {("orders", 0): 4096, ("orders", 1): 4096}  # each leads the only partition it leads
    assert len(partitions) == 4 and all(p.size == 4096 and p.source == "prometheus" for p in partitions)


def test_bootstrap_makes_the_model_complete_and_a_rerun_writes_nothing(store):
    prometheus = FakePrometheus(since=NOW - 3600)
    before = build_load_model(store, "c", now=NOW, window_s=300, windows=6)
    report = bootstrap(store, "c", sampler(prometheus.url), hours=0.5, step_s=STEP, now=NOW, sleep=lambda s: None)
    assert report.rounds == 180 and report.partition_samples == 180 * 4 and report.skipped is None
    model = build_load_model(store, "c", now=NOW, window_s=300, windows=6, kafka_cluster_id="kid")
    assert (before.complete, model.complete, model.valid_windows) == (False, True, 6)
    again = bootstrap(store, "c", sampler(prometheus.url), hours=0.5, step_s=STEP, now=NOW + 5, sleep=lambda s: None)
    assert again.partition_samples == 0 and again.skipped and "already holds" in again.skipped
    _, aggregated_since, _ = store.aggregated("c", "kid")  # bootstrap aggregated the windows it closed
    further = bootstrap(store, "c", sampler(prometheus.url), hours=1, step_s=STEP, now=NOW, sleep=lambda s: None)
    assert further.until == aggregated_since == NOW - 1800 - 100  # only older: an aggregated window takes no rows
    assert further.rounds == (further.until - further.since) / STEP


def test_history_before_aggregated_windows_is_aggregated_too(store):
    prometheus = FakePrometheus(since=NOW - 7200)
    bootstrap(store, "c", sampler(prometheus.url), hours=0.5, step_s=STEP, now=NOW, sleep=lambda s: None)
    store.aggregate("c", NOW + 3600, "kid")  # the live rounds aggregate the first half hour
    base, since, _ = store.aggregated("c", "kid")
    bootstrap(store, "c", sampler(prometheus.url), hours=1, step_s=STEP, now=NOW, sleep=lambda s: None)
    assert store.aggregated("c", "kid")[1] == since - 1800  # the older half hour was aggregated on arrival
    raw = store.engine.connect().exec_driver_sql("SELECT count(*) FROM partition_samples").scalar()
    assert raw == 0 and base == 300
    model = build_load_model(store, "c", now=NOW, window_s=300, windows=12, kafka_cluster_id="kid")
    assert model.valid_windows == 12


@pytest.mark.parametrize(("url", "said"), [("http://127.0.0.1:9", "cannot reach Prometheus at http://127.0.0.1:9"),
                                           ("nonsense", "cannot reach Prometheus at nonsense")])
def test_an_unreachable_or_bad_prometheus_is_one_line(store, url, said):
    with pytest.raises(MedicError, match=said) as error:
        bootstrap(store, "c", sampler(url), hours=1, step_s=STEP, now=NOW, sleep=lambda s: None)
    assert "\n" not in str(error.value)


def test_hours_out_of_range_are_refused_naming_the_value():
    with pytest.raises(MedicError, match=r"bootstrap hours 400: give a number of hours in \(0, 336\]"):
        check_hours(400, STEP)
    with pytest.raises(MedicError, match="shorter than one step of 10s"):
        check_hours(0.001, STEP)
