"""Store migrations run once even when several processes open an old store at the same moment."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from kafka_medic.storage import StoreTables, schema_versions

metadata = sa.MetaData()
sa.Table("things", metadata, sa.Column("id", sa.Integer, primary_key=True))


def test_two_openers_of_an_old_sqlite_store_migrate_it_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with sa.create_engine(url).begin() as conn:  # a store written before versions were recorded: version 0
        metadata.create_all(conn)
    steps: list[str] = []

    def add_column(conn: sa.Connection) -> None:
        steps.append(threading.current_thread().name)
        time.sleep(0.5)  # long enough for the other opener to read the version meanwhile, were it unlocked
        conn.exec_driver_sql("ALTER TABLE things ADD COLUMN size INTEGER")

    class Things(StoreTables):
        what = "things store"
        migrations = (add_column,)

    Things.metadata = metadata
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Things(url).close()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    openers = [threading.Thread(target=open_store, name=f"opener-{i}") for i in range(2)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join(timeout=60)
    assert errors == [] and len(steps) == 1
    with sa.create_engine(url).connect() as conn:
        assert conn.scalar(sa.select(schema_versions.c.version)) == 1
        assert "size" in {c["name"] for c in sa.inspect(conn).get_columns("things")}
