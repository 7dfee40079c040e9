"""Where kafka-medic keeps its state, and the one way to open its SQL store.

Samples, the executor's journal, the anomaly log and the action log share one database:
a SQLite file in the kafka-medic home by default, PostgreSQL (or any SQLAlchemy URL) in production.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Self

import sqlalchemy as sa

from kafka_medic.errors import MedicError

STORE_URL_ENV = "KAFKA_MEDIC_STORE_URL"
CONNECT_TIMEOUT_S = 10  # seconds a PostgreSQL connection may take to open


def medic_home() -> Path:
    """$KAFKA_MEDIC_HOME, else ~/.local/state/kafka-medic."""
    home = os.environ.get("KAFKA_MEDIC_HOME")
    return Path(home) if home else Path.home() / ".local" / "state" / "kafka-medic"


def default_store_url() -> str:
    """$KAFKA_MEDIC_STORE_URL, else a SQLite file in the kafka-medic home."""
    return os.environ.get(STORE_URL_ENV) or f"sqlite:///{medic_home() / 'metrics.db'}"


def engine(url: str) -> sa.Engine:
    """An engine for `url`; `postgresql://` means psycopg 3, SQLite gets WAL and a busy timeout.

    A URL that is not one (`notaurl`), names a database with no driver installed, or a SQLite file whose
    directory cannot be made is a one-line MedicError naming it (password hidden) and what is valid.
    """
    try:
        return _engine(url)
    except (sa.exc.ArgumentError, ImportError, OSError) as exc:
        raise MedicError(f"store URL {_hide_password(url)!r} cannot be opened ({_one_line(exc)}); expected "
                         "sqlite:////path/to/metrics.db or postgresql://user:password@host:5432/database") from None


def _engine(url: str) -> sa.Engine:
    parsed = sa.engine.make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        sqlite = sa.create_engine(parsed, connect_args={"timeout": 30})
        sa.event.listen(sqlite, "connect", _sqlite_wal)
        return sqlite
    # A server that takes the connection and never answers (stopped, overloaded) fails the connect in
    # bounded time instead of hanging the command or task forever.
    return sa.create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT_S})


def _hide_password(url: str) -> str:
    """`url` with the password of its user:password@ part starred, parseable or not."""
    scheme, sep, rest = url.partition("://")
    login, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in login:
        return url
    return f"{scheme}://{login.split(':', 1)[0]}:***@{host}"


def _one_line(exc: BaseException) -> str:
    """A driver's message on one line (psycopg adds a hint on a second)."""
    return " ".join(str(exc).split())


def _sqlite_wal(dbapi_connection, _record) -> None:
    """WAL lets readers (`kafka-medic load`, the UI) work while a sampler loop writes."""
    dbapi_connection.execute("PRAGMA journal_mode=WAL")


MIGRATION_LOCK_KEY = 0x6B6D6564  # "kmed": the PostgreSQL advisory lock held while a store part migrates
# The schema version of each part of the store (a StoreTables subclass, by its `what`).
_versions_metadata = sa.MetaData()
schema_versions = sa.Table(
    "schema_versions",
    _versions_metadata,
    sa.Column("part", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

Migration = Callable[[sa.Connection], None]


class StoreTables:
    """A part of the store that owns some tables: opens the engine, brings its tables to the current schema.

    Subclasses set `metadata` (their tables, as the current code writes them), `what` (their name in
    error messages and in `schema_versions`) and `migrations`: step i turns schema version i into i + 1
    (ALTER TABLE and the like, on SQLite and PostgreSQL). A store written before versions were recorded
    is version 0 when its tables exist; a new one is created at the current version. Tables no step
    mentions are created as `metadata` says (create_all skips those that exist).
    """

    metadata: sa.MetaData
    what: str
    migrations: tuple[Migration, ...] = ()

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_store_url()
        self.engine = engine(self.url)
        try:
            with self.engine.begin() as conn:
                self._migrate(conn)
                self.metadata.create_all(conn)
        except sa.exc.SQLAlchemyError as exc:
            reason = _one_line(getattr(exc, "orig", exc))
            raise MedicError(f"cannot open the {self.what} in {self.safe_url}: {reason}") from exc

    def _migrate(self, conn: sa.Connection) -> None:
        # The DAGs and the CLI open the store from several processes at once: one migrates, the others
        # wait for it and then find it done.
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        elif conn.dialect.name == "sqlite":
            # pysqlite starts its transaction lazily, at the first write, after the version has been read;
            # taking the write lock first makes the read and the steps one unit (waits out the busy timeout).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        _versions_metadata.create_all(conn)
        current = len(self.migrations)
        version = conn.scalar(sa.select(schema_versions.c.version).where(schema_versions.c.part == self.what))
        if version is None:
            existing = set(sa.inspect(conn).get_table_names()) & set(self.metadata.tables)
            version = 0 if existing else current
            conn.execute(schema_versions.insert().values(part=self.what, version=version))
        if version > current:
            raise MedicError(f"the {self.what} in {self.safe_url} has schema version {version}, newer than "
                             f"this kafka-medic's {current}: upgrade kafka-medic")
        for step in self.migrations[version:]:
            step(conn)
        if version < current:
            conn.execute(schema_versions.update().where(schema_versions.c.part == self.what).values(version=current))

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages and logs."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Closes the store; a database error inside the block (the server stopped mid-run) leaves as
        the one-line MedicError the CLI and the task logs print, not as a driver traceback."""
        self.close()
        if isinstance(exc, sa.exc.SQLAlchemyError):
            reason = _one_line(getattr(exc, "orig", None) or exc)
            raise MedicError(f"the {self.what} in {self.safe_url} failed: {reason}") from exc


def inserted_id(conn: sa.Connection, insert: sa.Insert) -> int:
    """Run a one-row insert and return the id the database gave the row.

    SQLAlchemy's `inserted_primary_key` is None for inserts that report no key (executemany); the
    store's tables all have an autoincrement id, so a missing one is a broken store, said as such.
    """
    key = conn.execute(insert).inserted_primary_key
    if key is None:
        raise MedicError(f"the store gave no id to a new row of {insert.table}")
    return key[0]
