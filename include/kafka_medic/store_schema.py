"""The store's schema revision: Alembic revisions (include/kafka_medic/migrations) applied at open or by hand.

Every part of the store (samples, journal, logs, intents) shares one chain of revisions and one version
row, in `kafka_medic_alembic_version`: a store in Airflow's own PostgreSQL database never meets Airflow's
`alembic_version`. The revisions ship in the wheel, so an installed kafka-medic upgrades the store it
opens. Several processes (DAG tasks, the CLI, the console) open a store at once: the upgrade holds a
PostgreSQL advisory lock or SQLite's write lock (BEGIN IMMEDIATE) for its whole transaction, so one
process migrates and the others find it done.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from kafka_medic.errors import MedicError

VERSION_TABLE = "kafka_medic_alembic_version"
MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK_KEY = 0x6B6D6564  # "kmed": the PostgreSQL advisory lock held while the store migrates
BASE = "base"  # the revision before the first: no kafka-medic tables


@dataclass(frozen=True)
class Revision:
    """One step of the schema: its id, the one before it, what it does (its docstring's first line)."""

    revision: str
    down_revision: str | None
    doc: str

    def as_dict(self) -> dict[str, str | None]:
        return {"revision": self.revision, "down_revision": self.down_revision, "doc": self.doc}


def _config(conn: sa.Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The newest revision this kafka-medic knows."""
    heads = _scripts().get_heads()
    if len(heads) != 1:  # two revisions with the same down_revision: merged branches without a merge revision
        raise MedicError(f"kafka-medic's store migrations have {len(heads)} heads ({', '.join(heads)}), expected one")
    return heads[0]


def history() -> list[Revision]:
    """Every revision, oldest first."""
    return [
        Revision(s.revision, s.down_revision if isinstance(s.down_revision, str) else None,
                 (s.doc or "").strip().splitlines()[0] if s.doc else "")
        for s in reversed(list(_scripts().walk_revisions()))
    ]


def current(conn: sa.Connection) -> str | None:
    """The store's revision; None before any (empty, or written before Alembic)."""
    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def ensure_current(engine: sa.Engine, where: str) -> None:
    """Upgrade the store to this kafka-medic's head unless it is there already (one cheap read when it is)."""
    with engine.connect() as conn:
        if current(conn) == head():
            return
    migrate(engine, head(), where)


def migrate(engine: sa.Engine, target: str, where: str) -> tuple[str | None, str | None]:
    """Bring the store to revision `target` (up or down), under the migration lock; (before, after).

    A store at a revision this kafka-medic does not know (written by a newer one) is refused in one
    line rather than guessed at; so is a `target` that is no revision.
    """
    order = [BASE, *(r.revision for r in history())]
    if target == "head":
        target = head()
    if target not in order:
        raise MedicError(f"unknown store schema revision {target!r}; valid: head, {', '.join(order)}")
    with engine.begin() as conn:
        _lock(conn)
        before = current(conn)
        if (before or BASE) not in order:
            raise MedicError(f"the store in {where} is at schema revision {before!r}, newer than this kafka-medic "
                             f"knows (its newest is {head()!r}): upgrade kafka-medic")
        if order.index(target) > order.index(before or BASE):
            command.upgrade(_config(conn), target)
        elif order.index(target) < order.index(before or BASE):
            command.downgrade(_config(conn), target)
        return before, current(conn)


def _lock(conn: sa.Connection) -> None:
    """Serialise migrations across processes for the rest of `conn`'s transaction."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        # pysqlite starts its transaction lazily, at the first write, after the revision has been read;
        # taking the write lock first makes the read and the revisions one unit (waits out the busy timeout).
        conn.exec_driver_sql("BEGIN IMMEDIATE")
