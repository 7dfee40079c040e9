"""The store's Alembic revisions: the previous release's store upgrades with every row intact and readable,
the revisions build exactly the tables the code writes, concurrent openers migrate once, on SQLite and
on a real PostgreSQL server."""

from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from kafka_medic import store_schema
from kafka_medic.detector import AnomalyLog
from kafka_medic.detector import log as anomaly_tables
from kafka_medic.detector import snapshot as snapshot_tables
from kafka_medic.detector import status as status_tables
from kafka_medic.detector.snapshot import SnapshotLog
from kafka_medic.detector.status import StatusLog
from kafka_medic.errors import MedicError
from kafka_medic.executor import journal as journal_tables
from kafka_medic.executor.journal import Journal
from kafka_medic.executor.tasks import Task
from kafka_medic.metrics import store as metrics_tables
from kafka_medic.metrics.sample import BrokerSample
from kafka_medic.metrics.store import MetricsStore
from kafka_medic.notify import action_log as action_tables
from kafka_medic.notify.action_log import ActionLog, ActionRecord
from kafka_medic.remediation import intent as intent_tables
from kafka_medic.remediation.intent import IntentStore
from kafka_medic.storage import engine

from ..store_revisions import (
    as_before,
    assert_added_tables_as_revisions_fill_them,
    at_revision,
    previous_release_rows,
    previous_release_store,
    table_rows,
    unreplaced,
)
from .test_metrics_model_rows import rounds

PARTS = (metrics_tables, journal_tables, action_tables, anomaly_tables, status_tables, snapshot_tables, intent_tables)


@pytest.fixture
def url(store_url):
    return store_url


def test_the_previous_releases_store_upgrades_with_every_row_intact_and_readable(url):
    previous_release_store(url)
    with engine(url).begin() as conn:  # Airflow's own version table, as when the store shares its database
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('29ce7909c52b')")
    before = table_rows(url)
    assert {t: len(rows) for t, rows in before.items() if t != "alembic_version"} == {
        t: len(rows) for t, rows in previous_release_rows().items()
    }

    with MetricsStore(url) as store:  # the first open upgrades
        assert store.broker_samples("dev", 0, 1e9, "kid")["cpu"].tolist()[:2] == [11.0, 12.0]
        assert len(store.broker_samples("dev", 0, 1e9, "kid")) == 44
        assert len(store.partition_windows("dev", 0, 1e9, "kid")) == 8
        assert len(store.partition_samples("dev", 0, 1e9, "kid")) == 16 + 8  # the kept rows and the raw ones
        assert store.aggregated("dev", "kid") == (60.0, 0.0, 240.0)  # as the previous release left it
        store.add_round("dev", [("kid", [BrokerSample(ts=3920.0, broker=1, source="admin", cpu=5.0)], [])])

    assert table_rows(url)["alembic_version"] == [{"version_num": "29ce7909c52b"}]  # Airflow's: untouched
    after = table_rows(url)
    assert {t: rows for t, rows in as_before(after, before).items() if t not in ("broker_samples", "alembic_version")
            } == {t: rows for t, rows in unreplaced(before).items() if t not in ("broker_samples", "alembic_version")}
    assert_added_tables_as_revisions_fill_them(after, before)
    assert after["broker_samples"][:-1] == before["broker_samples"]  # and the new one after them
    with engine(url).connect() as conn:
        assert store_schema.current(conn) == store_schema.head()

    with Journal(url) as journal:
        running, done = sorted(journal.list("dev"), key=lambda e: e.status)
        assert (running.status, done.status, done.report) == ("running", "succeeded", {"done": 2})
        assert journal.lock_holder("kid").id == running.id
        tasks = journal.tasks(running.id)
        assert [t.task for t in tasks] == [Task("orders", p, "replica", (1, 2), (3, 2), 1, 3, 1000 * (p + 1))
                                           for p in (0, 1)]  # fmt: skip
        assert [t.state for t in tasks] == ["submitted", "pending"]
        assert [(m.topic, m.partition) for m in running.proposal.moves] == [("orders", 0), ("orders", 1)]
        assert [(t.name, t.applied) for t in journal.throttles(done.id)] == [("1", "1000000")]
    with ActionLog(url) as actions:
        [action] = actions.recent("dev")
        assert (action.why, action.bytes_moved, action.run) == (["broker_failure:3"], 3000,
                                                                 "kafka_medic_heal_dev/manual__1")  # fmt: skip
        assert actions.write(ActionRecord("dev", "rebalance", [], "bob", 0, 0, 0, "succeeded", 1.0, 2.0)) == 2
    with AnomalyLog(url) as anomalies:
        assert [(a.key, a.details) for a in anomalies.active("dev")] == [("broker_failure:3", {"broker": 3})]
        assert [(a.key, resolved) for a, resolved in anomalies.past("dev")] == [("under_replicated_partitions", 150.0)]
    with StatusLog(url) as statuses:
        [status] = statuses.latest()
        assert (status.cluster, status.balancedness, status.max_pct["cpu"]) == ("dev", 87.5, 80.0)
    with SnapshotLog(url) as snapshots:
        snapshot = snapshots.latest("dev")
        assert (snapshot.at, snapshot.broker_ids.tolist(), len(snapshot.partition_leader)) == (200.0, [1, 2, 3], 12)
    with IntentStore(url) as intents:
        [intent] = intents.active("dev", now=200.0)
        assert (intent.broker, intent.intent, intent.by) == (3, "decommissioned", "alice")
        assert intents.maintenance("dev").reason == "disk swap"


def test_the_revisions_build_exactly_the_tables_the_code_writes(url):
    """A table or column added to a part without a revision (or a revision the code does not match) fails here."""
    at_revision(url, "head")
    code = sa.MetaData()
    for part in PARTS:
        for table in part.metadata.tables.values():
            table.to_metadata(code)
    with engine(url).connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": store_schema.VERSION_TABLE})
        differences = compare_metadata(context, code)
    # schema_versions stays for the previous release's kafka-medic.
    assert [d for d in differences if d[0] != "remove_table" or d[1].name != "schema_versions"] == []
    assert {d[1].name for d in differences} == {"schema_versions"}


def test_revision_0005_flags_the_kept_rows_of_windows_without_sums_as_aggregation_did(url):
    """Down to 0004 (no `near`, primary keys again) and up: the flags derived from the sums are those the
    aggregation wrote, for partitions near a reassignment (no sums) and the others."""
    with MetricsStore(url, aggregate_s=60.0, aggregate_after_s=0) as store:
        rounds(store, lambda ts: store.aggregate("c", ts, "id-1"))
    written = table_rows(url)
    near = [row["near"] for row in written["partition_samples_kept"]]
    assert any(near) and not all(near)
    assert at_revision(url, "0004") == store_schema.head()
    assert "near" not in table_rows(url)["partition_samples_kept"][0]
    at_revision(url, "head")
    assert table_rows(url) == written


def test_down_to_base_removes_every_table_and_up_again_rebuilds_them(url):
    assert at_revision(url, "head") is None
    assert at_revision(url, "base") == store_schema.head()
    with engine(url).connect() as conn:
        assert sa.inspect(conn).get_table_names() == [store_schema.VERSION_TABLE]
    at_revision(url, "head")
    with Journal(url) as journal:
        assert journal.list() == []


def test_concurrent_openers_of_the_previous_releases_store_migrate_it_once(url):
    previous_release_store(url)
    before = table_rows(url)
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            start.wait(timeout=60)
            Journal(url).close()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    openers = [threading.Thread(target=open_store) for _ in range(4)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join(timeout=120)
    assert errors == []
    after = table_rows(url)
    assert as_before(after, before) == unreplaced(before)
    assert_added_tables_as_revisions_fill_them(after, before)
    with engine(url).connect() as conn:
        version = conn.execute(sa.text(f"SELECT version_num FROM {store_schema.VERSION_TABLE}")).all()
        assert version == [(store_schema.head(),)]


def test_a_store_of_a_newer_kafka_medic_is_refused_in_one_line(url):
    at_revision(url, "head")
    with engine(url).begin() as conn:
        conn.execute(sa.text(f"UPDATE {store_schema.VERSION_TABLE} SET version_num = 'f00d'"))
    head = store_schema.head()
    newer = rf"is at schema revision 'f00d', newer than this kafka-medic knows \(its newest is '{head}'\)"
    with pytest.raises(MedicError, match=rf"^the store in .* {newer}: upgrade kafka-medic$"):
        ActionLog(url)


def test_an_unknown_target_names_the_valid_ones(url):
    valid = r"head, base, 0001, 0002(, \d{4})*"
    with pytest.raises(MedicError, match=rf"^unknown store schema revision 'latest'; valid: {valid}$"):
        at_revision(url, "latest")


def test_history_lists_the_baseline_first_and_one_chain_to_head():
    baseline, *later = store_schema.history()
    assert (baseline.revision, baseline.down_revision) == ("0001", None)
    assert [r.down_revision for r in later] == [r.revision for r in [baseline, *later][:-1]]
    assert (later[-1] if later else baseline).revision == store_schema.head()
    assert baseline.doc.startswith("Baseline: the store's schema as kafka-medic wrote it before Alembic")
    assert json.dumps(baseline.as_dict())
