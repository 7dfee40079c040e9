"""Stores at a given schema: the previous release's (tests/data/release_9742a13) and any Alembic revision."""

from __future__ import annotations

import base64
import json
from operator import itemgetter
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa

from kafka_medic import store_schema
from kafka_medic.metrics.store import unpack_window_sums
from kafka_medic.storage import engine

PREVIOUS_RELEASE = Path(__file__).parent / "data" / "release_9742a13"


def previous_release_rows() -> dict[str, list[dict]]:
    """Every row the previous release's writers left, by table (bytes decoded)."""
    rows = json.loads((PREVIOUS_RELEASE / "rows.json").read_text())
    return {
        table: [{k: base64.b64decode(v["base64"]) if isinstance(v, dict) else v for k, v in row.items()} for row in rs]
        for table, rs in rows.items()
    }


def previous_release_store(url: str) -> None:
    """Make the empty database at `url` what the previous release left: its DDL, then its rows."""
    db = engine(url)
    with db.begin() as conn:
        for statement in (PREVIOUS_RELEASE / f"{conn.dialect.name}.sql").read_text().split(";\n"):
            if statement.strip():
                conn.exec_driver_sql(statement)
        tables = sa.MetaData()
        tables.reflect(conn)
        for table in tables.sorted_tables:
            if rows := previous_release_rows()[table.name]:
                conn.execute(table.insert(), rows)
            if conn.dialect.name == "postgresql" and "id" in table.c and isinstance(table.c.id.type, sa.Integer):
                # The old writers advanced the serial; rows inserted with their ids here must too.
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"(SELECT max(id) FROM {table.name}))")  # fmt: skip
    db.dispose()


def table_rows(url: str) -> dict[str, list[dict]]:
    """Every row of every kafka-medic table at `url`, by table, in primary-key order (without one, all columns')."""
    db = engine(url)
    tables = sa.MetaData()
    with db.connect() as conn:
        tables.reflect(conn)
        rows = {
            t.name: [
                dict(r) for r in conn.execute(sa.select(t).order_by(*(t.primary_key.columns or t.columns))).mappings()
            ]
            for t in tables.sorted_tables
            if t.name != store_schema.VERSION_TABLE
        }
    db.dispose()
    return rows


def at_revision(url: str, revision: str) -> str | None:
    """Bring the store at `url` to `revision` ("head", "base" or an id), up or down; the revision it was at."""
    db = engine(url)
    try:
        return store_schema.migrate(db, revision, url)[0]
    finally:
        db.dispose()


REPLACED = ("partition_windows",)  # by partition_window_sums (0005), whose sums are checked below


def unreplaced(tables: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {t: rows for t, rows in tables.items() if t not in REPLACED}


def as_before(after: dict[str, list[dict]], before: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """`after`'s rows of the tables in `before` but those REPLACED, with only the columns they had there
    (revisions add some)."""
    return {t: [{k: row[k] for k in (rows[0] if rows else row)} for row in after[t]]
            for t, rows in unreplaced(before).items()}  # fmt: skip


def window_sums(after: dict[str, list[dict]]) -> list[dict]:
    """partition_window_sums' rows unpacked, as partition_windows' rows (a missing sum None)."""
    rows = []
    for window in after["partition_window_sums"]:
        sums = unpack_window_sums([SimpleNamespace(**window)]).assign(cluster_id=window["cluster_id"])
        rows += sums.astype(object).where(sums.notna(), None).to_dict("records")
    return rows


def assert_added_tables_as_revisions_fill_them(after: dict[str, list[dict]], before: dict[str, list[dict]]) -> None:
    """The tables revisions after the previous release added start empty, but revision 0003's, which it
    builds from the kept rows: each replica's newest kept row of each kind, of those sums count (0005);
    and 0005's partition_window_sums, which holds the sums partition_windows held.
    Revision 0005's `near` is true on the kept rows of a window without their partition's sums."""
    base = {row["cluster_id"]: row["window_s"] for row in after["aggregation_progress"]}
    sums = window_sums(after)
    assert sorted(sums, key=itemgetter("cluster_id", "start", "topic", "partition")) == sorted(
        before["partition_windows"], key=itemgetter("cluster_id", "start", "topic", "partition"))  # as they were
    summed = {(r["cluster_id"], r["start"], r["topic"], r["partition"]) for r in sums}
    near = [(r["cluster_id"], r["ts"] // base[r["cluster_id"]] * base[r["cluster_id"]], r["topic"], r["partition"])
            not in summed for r in after["partition_samples_kept"]]  # fmt: skip
    assert [row["near"] for row in after["partition_samples_kept"]] == near
    added = set(after) - set(before)
    assert all(not after[t] for t in added - {"partition_samples_latest", "partition_window_sums"})
    kept = [{k: r[k] for k in r if k != "near"} for r in after["partition_samples_kept"] if not r["near"]]
    latest = after["partition_samples_latest"]
    replica = itemgetter("cluster_id", "topic", "partition", "broker", "source")
    newest = {key: max(r["ts"] for r in kept if replica(r) == key) for key in map(replica, kept)}
    assert {(*replica(r), r["ts"]) for r in latest if r["kind"] == "newest"} == {(*k, ts) for k, ts in newest.items()}
    assert all({k: v for k, v in r.items() if k != "kind"} in kept for r in latest)
