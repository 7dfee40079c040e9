"""The metrics store: samples of many clusters in one SQL database (SQLite default, PostgreSQL in production).

Each sample table's primary key starts with (cluster_id, ts), so the one query the load model makes,
"this cluster between these two times", is an index range scan on either database; pruning by age
walks the same index cluster by cluster. Timestamps are epoch seconds (double), which both
databases and pandas handle without time-zone surprises.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from operator import attrgetter

import pandas as pd
import sqlalchemy as sa

from kafka_medic.metrics.sample import BROKER_METRICS, PARTITION_METRICS, BrokerSample, PartitionSample
from kafka_medic.storage import StoreTables, inserted_id

metadata = sa.MetaData()

# One row per incarnation of a cluster: its name and the id Kafka gave it (NULL: written before ids
# were recorded, or by a caller that does not know it). A cluster rebuilt under the same name is a new
# row, so its samples never mix with the old one's.
clusters = sa.Table(
    "clusters",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("kafka_cluster_id", sa.String(255)),
    sa.UniqueConstraint("name", "kafka_cluster_id", name="uq_clusters_name_kafka_cluster_id"),
)

broker_samples = sa.Table(
    "broker_samples",
    metadata,
    sa.Column("cluster_id", sa.Integer, sa.ForeignKey("clusters.id"), primary_key=True),
    sa.Column("ts", sa.Double, primary_key=True),
    sa.Column("broker", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("alive", sa.Boolean, nullable=False),
    *(sa.Column(name, sa.Double) for name in BROKER_METRICS),
)

partition_samples = sa.Table(
    "partition_samples",
    metadata,
    sa.Column("cluster_id", sa.Integer, sa.ForeignKey("clusters.id"), primary_key=True),
    sa.Column("ts", sa.Double, primary_key=True),
    sa.Column("topic", sa.String(255), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("broker", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("leader", sa.Boolean, nullable=False),
    sa.Column("reassigning", sa.Boolean, nullable=False),
    *(sa.Column(name, sa.Double) for name in PARTITION_METRICS),
)

log = logging.getLogger(__name__)

Incarnation = tuple[str, str | None]  # a cluster's name and its Kafka cluster id, when known
# One sampler's share of a round: the Kafka cluster id it saw, its broker rows and its partition rows.
SamplerRows = tuple[str | None, Sequence[BrokerSample], Sequence[PartitionSample]]

BROKER_COLUMNS = [f.name for f in dataclasses.fields(BrokerSample)]
PARTITION_COLUMNS = [f.name for f in dataclasses.fields(PartitionSample)]
COLUMN_TYPES = {"broker": "int64", "partition": "int64", "alive": "bool", "leader": "bool", "reassigning": "bool"}


def _clusters_by_kafka_id(conn: sa.Connection) -> None:
    """Schema 0 -> 1: `clusters` gains kafka_cluster_id, and a name is unique per Kafka cluster id only.

    SQLite cannot drop a constraint, so there the (small) table is rebuilt under the same ids; the
    sample tables refer to it by name and keep working.
    """
    if conn.dialect.name == "sqlite":
        rebuilt = clusters.to_metadata(sa.MetaData(), name="clusters_migrating")
        rebuilt.create(conn)
        old: sa.Select = sa.select(sa.column("id"), sa.column("name")).select_from(sa.table("clusters"))
        conn.execute(rebuilt.insert().from_select(["id", "name"], old))
        conn.execute(sa.text("DROP TABLE clusters"))
        conn.execute(sa.text("ALTER TABLE clusters_migrating RENAME TO clusters"))
        return
    conn.execute(sa.text("ALTER TABLE clusters ADD COLUMN kafka_cluster_id VARCHAR(255)"))
    for unique in sa.inspect(conn).get_unique_constraints("clusters"):
        if unique["column_names"] == ["name"] and unique["name"]:
            conn.execute(sa.text(f'ALTER TABLE clusters DROP CONSTRAINT "{unique["name"]}"'))
    conn.execute(
        sa.text("ALTER TABLE clusters ADD CONSTRAINT uq_clusters_name_kafka_cluster_id UNIQUE (name, kafka_cluster_id)")
    )


class MetricsStore(StoreTables):
    """Batched writes and time-range reads of samples; the schema is created or migrated on open.

    Samples belong to one incarnation of a cluster: its name and its Kafka cluster id. Writers and
    readers that know the id (the samplers, the live model) pass it as `kafka_cluster_id`; those that
    only know the name (`kafka-medic load`) get its newest incarnation. Samples of another incarnation
    are never returned, and the first time a store meets one it says so as a warning.
    """

    metadata = metadata
    what = "metrics store"
    migrations = (_clusters_by_kafka_id,)

    def __init__(self, url: str | None = None, batch_size: int = 5000) -> None:
        super().__init__(url)
        self.batch_size = batch_size
        self._cluster_ids: dict[tuple[str, str | None], int] = {}
        self._warned: set[str] = set()

    def add_round(self, cluster: str, rows: Iterable[SamplerRows]) -> tuple[int, int]:
        """Every sampler's rows of one round in one transaction: (broker rows, partition rows) written.

        A round of a 300k-replica cluster is 300k rows; one commit and bulk inserts (COPY on
        PostgreSQL, executemany batches elsewhere) keep it to seconds, and a reader never sees half
        a round.
        """
        # Cluster rows first, in their own transactions: SQLite would make them wait for this one's lock.
        owned = [(self._cluster_id((cluster, kafka_id), create=True), b, p) for kafka_id, b, p in rows]
        written = [0, 0]
        with self.engine.begin() as conn:
            for cid, brokers, partitions in owned:
                written[0] += _bulk_insert(conn, broker_samples, cid, brokers, self.batch_size)
                written[1] += _bulk_insert(conn, partition_samples, cid, partitions, self.batch_size)
        return written[0], written[1]

    def add_broker_samples(
        self, cluster: str, samples: Sequence[BrokerSample], kafka_cluster_id: str | None = None
    ) -> int:
        return self.add_round(cluster, [(kafka_cluster_id, samples, [])])[0]

    def add_partition_samples(
        self, cluster: str, samples: Sequence[PartitionSample], kafka_cluster_id: str | None = None
    ) -> int:
        return self.add_round(cluster, [(kafka_cluster_id, [], samples)])[1]

    def broker_samples(
        self, cluster: str, since: float, until: float, kafka_cluster_id: str | None = None
    ) -> pd.DataFrame:
        """Samples with since <= ts < until, sorted by time; columns are BrokerSample's fields."""
        return self._range(broker_samples, BROKER_COLUMNS, (cluster, kafka_cluster_id), since, until)

    def partition_samples(
        self, cluster: str, since: float, until: float, kafka_cluster_id: str | None = None
    ) -> pd.DataFrame:
        """Samples with since <= ts < until, sorted by time; columns are PartitionSample's fields."""
        return self._range(partition_samples, PARTITION_COLUMNS, (cluster, kafka_cluster_id), since, until)

    def latest_partition_samples(
        self, cluster: str, since: float, until: float, kafka_cluster_id: str | None = None
    ) -> pd.DataFrame:
        """The last sample of each partition replica (per source) in [since, until): last known load."""
        t = partition_samples
        key = [t.c.topic, t.c.partition, t.c.broker, t.c.source]
        return self._latest(t, PARTITION_COLUMNS, key, (cluster, kafka_cluster_id), since, until)

    def latest_broker_samples(
        self, cluster: str, since: float, until: float, kafka_cluster_id: str | None = None
    ) -> pd.DataFrame:
        """The last sample in which each broker answered (per source) in [since, until)."""
        t = broker_samples
        return self._latest(
            t, BROKER_COLUMNS, [t.c.broker, t.c.source], (cluster, kafka_cluster_id), since, until, t.c.alive
        )

    def _latest(self, t: sa.Table, columns: list[str], key: list, cluster: Incarnation, since, until, *where):
        cid = self._cluster_id(cluster, create=False)
        in_range = sa.and_(t.c.cluster_id == cid, t.c.ts >= since, t.c.ts < until, *where)
        last = sa.select(*key, sa.func.max(t.c.ts).label("ts")).where(in_range).group_by(*key).subquery()
        query = (
            sa.select(*(t.c[name] for name in columns))
            .join(last, sa.and_(t.c.ts == last.c.ts, *(col == last.c[col.name] for col in key)))
            .where(t.c.cluster_id == cid)
            .order_by(t.c.ts)
        )
        return self._frame(query, columns)

    def clusters(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.scalars(sa.select(clusters.c.name).distinct().order_by(clusters.c.name)))

    def prune(self, before: float) -> int:
        """Delete every sample older than `before` (epoch seconds) in every cluster; returns rows deleted."""
        deleted = 0
        with self.engine.begin() as conn:
            for cid in conn.scalars(sa.select(clusters.c.id)):
                for table in (broker_samples, partition_samples):
                    old = table.delete().where(table.c.cluster_id == cid, table.c.ts < before)
                    deleted += conn.execute(old).rowcount
        return deleted

    def _range(self, table: sa.Table, columns: list[str], cluster: Incarnation, since: float, until: float):
        cid = self._cluster_id(cluster, create=False)
        query = (
            sa.select(*(table.c[name] for name in columns))
            .where(table.c.cluster_id == cid, table.c.ts >= since, table.c.ts < until)
            .order_by(table.c.ts)
        )
        return self._frame(query, columns)

    def _frame(self, query, columns: list[str]) -> pd.DataFrame:
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        frame = pd.DataFrame.from_records(rows, columns=columns)
        types = {c: COLUMN_TYPES.get(c, "float64") for c in columns if c not in ("topic", "source")}
        return frame.astype(types)  # typed even when empty: the load model's masks and indices need it

    def _cluster_id(self, cluster: Incarnation, create: bool) -> int | None:
        """The row of this incarnation: the one with its Kafka id, else one written without an id (the
        store's samples from before ids were recorded, claimed by the first id that comes), else a new
        one when writing. Without an id: the newest incarnation of the name."""
        if cluster in self._cluster_ids:
            return self._cluster_ids[cluster]
        name, kafka_id = cluster
        with self.engine.begin() as conn:
            incarnations = sa.select(clusters.c.id, clusters.c.kafka_cluster_id).where(clusters.c.name == name)
            rows = conn.execute(incarnations.order_by(clusters.c.id)).all()
            ids = {known: cid for cid, known in rows}
            cid = ids.get(kafka_id) if kafka_id is not None else (rows[-1].id if rows else None)
            if cid is None and kafka_id is not None and None in ids:
                cid = ids[None]
                conn.execute(clusters.update().where(clusters.c.id == cid).values(kafka_cluster_id=kafka_id))
            if cid is None and create:
                cid = inserted_id(conn, clusters.insert().values(name=name, kafka_cluster_id=kafka_id))
        others = sorted(str(known) for known, other in ids.items() if other != cid and known is not None)
        if others and name not in self._warned:
            self._warned.add(name)
            log.warning(
                "samples of cluster %r from other Kafka clusters of that name (ids %s) are ignored: %s",
                name, ", ".join(others),
                f"this one is {kafka_id}" if kafka_id else "the newest is used",
            )
        if cid is not None:
            self._cluster_ids[cluster] = cid
        return cid


# Binary COPY needs each column's type.
_POSTGRES_TYPES = {sa.Integer: "int4", sa.Double: "float8", sa.String: "text", sa.Boolean: "bool"}
# Placeholders of the DB-API paramstyles a positional executemany can use.
_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _bulk_insert(conn: sa.Connection, table: sa.Table, cid: int | None, samples: Sequence, batch_size: int) -> int:
    """Rows as plain tuples straight to the driver: PostgreSQL takes them through a binary COPY
    (psycopg 3), other databases through executemany batches.

    SQLAlchemy's per-row dict and type handling was most of the write time (22k rows/s on SQLite);
    binary COPY takes a quarter of text COPY's client time (1 s instead of 4 s for 300k rows).
    """
    if not samples:
        return 0
    names = [c.name for c in table.columns]
    values = attrgetter(*names[1:])  # after cluster_id: the sample's fields, in the table's order
    rows = [(cid, *values(s)) for s in samples]
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    if conn.dialect.name == "postgresql":
        driver = conn.connection.driver_connection  # psycopg's own connection, in this transaction
        assert driver is not None, "a connection checked out of the pool has its driver's connection"
        copy_in = f"COPY {quote(table.name)} ({columns}) FROM STDIN (FORMAT BINARY)"
        with driver.cursor() as cursor, cursor.copy(copy_in) as copy:
            copy.set_types([_POSTGRES_TYPES[type(c.type)] for c in table.columns])
            for row in rows:
                copy.write_row(row)
        return len(rows)
    marks = ", ".join([_PLACEHOLDERS[conn.dialect.paramstyle]] * len(names))
    insert = f"INSERT INTO {quote(table.name)} ({columns}) VALUES ({marks})"
    for start in range(0, len(rows), batch_size):
        conn.exec_driver_sql(insert, rows[start : start + batch_size])
    return len(rows)
