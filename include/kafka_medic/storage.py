"""Where kafka-medic keeps its state, and the one way to open its SQL store.

Samples, the executor's journal, the anomaly and action logs and the intents share one database:
a SQLite file in the kafka-medic home by default, PostgreSQL (or any SQLAlchemy URL) in production;
its schema is kafka_medic.store_schema's Alembic revisions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

import sqlalchemy as sa

from kafka_medic import store_schema
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


def database_error(what: str, url: str, exc: sa.exc.SQLAlchemyError) -> MedicError:
    """A database error as the one line the CLI and the task logs print: `what` failed, where, why."""
    reason = _one_line(getattr(exc, "orig", None) or exc)
    return MedicError(f"{what} in {sa.engine.make_url(url).render_as_string(hide_password=True)} failed: {reason}")


def _sqlite_wal(dbapi_connection, _record) -> None:
    """WAL lets readers (`kafka-medic load`, the UI) work while a sampler loop writes."""
    dbapi_connection.execute("PRAGMA journal_mode=WAL")


class StoreTables:
    """A part of the store that owns some tables: opens the engine, brings the store to the current schema.

    Subclasses set `what` (their name in error messages). The schema of every part is one chain of
    Alembic revisions (kafka_medic.store_schema): the first open in a process upgrades a store an older
    kafka-medic wrote; a table added to a part needs a revision (docs/architecture.md, "Store schema").
    """

    what: str

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_store_url()
        self.engine = engine(self.url)
        try:
            store_schema.ensure_current(self.engine, self.safe_url)
        except sa.exc.SQLAlchemyError as exc:
            reason = _one_line(getattr(exc, "orig", exc))
            raise MedicError(f"cannot open the {self.what} in {self.safe_url}: {reason}") from exc

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
            raise database_error(f"the {self.what}", self.url, exc) from exc


def inserted_id(conn: sa.Connection, insert: sa.Insert) -> int:
    """Run a one-row insert and return the id the database gave the row.

    SQLAlchemy's `inserted_primary_key` is None for inserts that report no key (executemany); the
    store's tables all have an autoincrement id, so a missing one is a broken store, said as such.
    """
    key = conn.execute(insert).inserted_primary_key
    if key is None:
        raise MedicError(f"the store gave no id to a new row of {insert.table}")
    return key[0]
