"""Writes this directory's fixture from kafka-medic as of commit 9742a13 (the release before Alembic).

Run with that commit's code first on the path, so its own writers fill its own schema:

    git archive 9742a13 include | tar -x -C /tmp/km-9742a13
    PYTHONPATH=/tmp/km-9742a13/include .venv/bin/python tests/data/release_9742a13/make.py

sqlite.sql is the DDL SQLite recorded (sqlite_master), postgresql.sql the same tables compiled for
PostgreSQL as that release's create_all issued them, rows.json every row of every table as that
release's writers left them (booleans as booleans, bytes as base64).
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

from kafka_medic.detector import Anomaly, AnomalyLog
from kafka_medic.detector.anomaly import BROKER_FAILURE, UNDER_REPLICATED
from kafka_medic.detector.snapshot import ModelSnapshot, SnapshotLog
from kafka_medic.detector.status import ClusterStatus, StatusLog
from kafka_medic.executor.journal import DONE, SUBMITTED, Journal
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MetricsStore
from kafka_medic.model import Move, Proposal
from kafka_medic.notify.action_log import ActionLog, ActionRecord
from kafka_medic.remediation.intent import DECOMMISSIONED, IntentStore
from kafka_medic.storage import schema_versions
from kafka_medic.synthetic import Scenario, synthetic_model

HERE = Path(__file__).parent
PARTS = (MetricsStore, Journal, ActionLog, AnomalyLog, StatusLog, SnapshotLog, IntentStore)
RESOURCES = ("disk", "nw_in", "nw_out", "cpu")


def fill(url: str) -> None:
    """A cluster with aggregated and raw samples, a finished and a running execution, logs and intents."""
    with MetricsStore(url, aggregate_s=60.0) as store:
        for ts in (*range(0, 200, 10), 3900, 3910):  # the last two stay raw: their window is in progress
            store.add_round("dev", [("kid", [BrokerSample(ts=float(ts), broker=b, source="admin", cpu=10.0 + b)
                                             for b in (1, 2)],
                                     [PartitionSample(ts=float(ts), topic="orders", partition=p, broker=b,
                                                      source="admin", leader=b == 1, size=1e6 * (p + 1),
                                                      bytes_in=2048.0 if b == 1 else None)
                                      for p in (0, 1) for b in (1, 2)])])  # fmt: skip
        store.aggregate("dev", now=200.0 + 3600.0, kafka_cluster_id="kid")
    tasks = [Task("orders", p, REPLICA, (1, 2), (3, 2), 1, 3, 1000 * (p + 1)) for p in (0, 1)]
    proposal = Proposal("dev", ["DiskCapacityGoal"], [Move("orders", p, [1, 2], [3, 2], 1, 3) for p in (0, 1)])
    with Journal(url) as journal:
        done = journal.create("dev", proposal, ExecutionOptions(), tasks, lock_key="kid")
        journal.mark_submitted(done, tasks)
        journal.set_tasks_state(done, tasks, DONE)
        journal.remember_original(done, "broker", "1", "leader.replication.throttled.rate", None)
        journal.record_applied(done, "broker", "1", "leader.replication.throttled.rate", "1000000")
        journal.finish(done, "succeeded", None, {"done": 2})
        running = journal.create("dev", proposal, ExecutionOptions(), tasks, lock_key="kid")
        journal.mark_submitted(running, tasks[:1])
        journal.set_tasks_state(running, tasks[:1], SUBMITTED)
    with ActionLog(url) as actions:
        actions.write(ActionRecord("dev", "heal", ["broker_failure:3"], "auto: policy", 2, 2, 3000, "succeeded",
                                   100.0, 160.0, "moved 2 replicas", "kafka_medic_heal_dev/manual__1"))  # fmt: skip
    with AnomalyLog(url) as anomalies:
        anomalies.record("dev", [Anomaly(BROKER_FAILURE, "broker_failure:3", "critical", "broker 3 is dead",
                                         {"broker": 3}, first_seen=90.0, brokers=[3]),
                                 Anomaly(UNDER_REPLICATED, UNDER_REPLICATED, "warning", "2 under-replicated")],
                         now=100.0)  # fmt: skip
        anomalies.resolve("dev", [UNDER_REPLICATED], now=150.0)
        anomalies.mark_alerted("dev", ["broker_failure:3"], now=110.0)
    with StatusLog(url) as statuses:
        statuses.record(ClusterStatus(
            cluster="dev", at=200.0, brokers_alive=2, brokers_dead=1, under_replicated=2, offline=0, balancedness=87.5,
            max_pct=dict.fromkeys(RESOURCES, 80.0), mean_pct=dict.fromkeys(RESOURCES, 40.0), windows=5,
            valid_windows=4, valid_partition_ratio=0.75), keep_s=1e12)
    with SnapshotLog(url) as snapshots:
        model = synthetic_model(Scenario(brokers=3, partitions=12, racks=3, dead=1), seed=3, cluster="dev")
        snapshots.record("dev", ModelSnapshot.of(model, now=200.0))
    with IntentStore(url) as intents:
        intents.remember("dev", [3], DECOMMISSIONED, "alice", now=120.0)
        intents.set_maintenance("dev", True, "disk swap", "bob", now=130.0)


def rows(url: str) -> dict[str, list[dict]]:
    tables = {t.name: t for part in PARTS for t in part.metadata.sorted_tables}
    tables["schema_versions"] = schema_versions
    out: dict[str, list[dict]] = {}
    with sa.create_engine(url).connect() as conn:
        for name, table in sorted(tables.items()):
            out[name] = [
                {k: {"base64": base64.b64encode(v).decode()} if isinstance(v, bytes) else v for k, v in row.items()}
                for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings()
            ]
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/store.db"
        fill(url)
        with sa.create_engine(url).connect() as conn:
            ddl = [sql for (sql,) in conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")]  # fmt: skip
        (HERE / "sqlite.sql").write_text("".join(f"{sql};\n" for sql in ddl))
        (HERE / "rows.json").write_text(json.dumps(rows(url), indent=1) + "\n")
    dialect = sa.dialects.postgresql.dialect()  # type: ignore[attr-defined]
    metadatas = [part.metadata for part in PARTS] + [schema_versions.metadata]
    statements = [
        str(ddl.compile(dialect=dialect)).strip()
        for metadata in metadatas for table in metadata.sorted_tables
        for ddl in (sa.schema.CreateTable(table), *(sa.schema.CreateIndex(i) for i in table.indexes))
    ]  # fmt: skip
    (HERE / "postgresql.sql").write_text("".join(f"{s};\n" for s in statements))
    print(f"wrote {HERE} from {sys.modules['kafka_medic'].__file__}")


if __name__ == "__main__":
    main()
