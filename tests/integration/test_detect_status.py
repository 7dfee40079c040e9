"""The detect DAG (dag.test(), real KRaft cluster) records the cluster's status, and the metrics read it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from kafka_medic.detector.status import StatusLog
from kafka_medic.notify.exporter import StoreCollector, metrics_text

from .test_airflow_dags import CLUSTER, dags  # noqa: F401  (the DAGs of the session's cluster, their own store)


def test_a_detect_run_records_the_status_the_metrics_endpoint_exports(dags, kraft_cluster):  # noqa: F811
    run = dags.dags[f"kafka_medic__{CLUSTER}__detect"].test()

    assert str(run.state) == "success", {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    with StatusLog() as statuses:
        (status,) = statuses.latest()
    assert (status.cluster, status.brokers_alive + status.brokers_dead) == (CLUSTER, len(kraft_cluster.broker_ids))
    assert 0.0 <= status.balancedness <= 100.0 and status.max_pct["disk"] >= status.mean_pct["disk"] >= 0.0
    samples = {s.name: s for f in text_string_to_metric_families(metrics_text(StoreCollector()).decode())
               for s in f.samples if s.labels.get("cluster") == CLUSTER}
    assert samples["kafka_medic_balancedness"].value == status.balancedness
    assert samples["kafka_medic_status_timestamp_seconds"].value == status.at
