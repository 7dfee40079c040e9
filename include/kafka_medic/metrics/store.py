"""The metrics store: samples of many clusters in one SQL database (SQLite default, PostgreSQL in production).

Each sample table's primary key starts with (cluster_id, ts), so the one query the load model makes,
"this cluster between these two times", is an index range scan on either database; pruning by age
walks the same index cluster by cluster. Timestamps are epoch seconds (double), which both
databases and pandas handle without time-zone surprises.

Partition samples are raw only while their window is in progress: once a base window of
`aggregate_s` closes (see `aggregate`), each partition's rows in it become its sums (what the load
model counts and averages) in the window's one `partition_window_sums` row, plus the few rows a later
build can still ask for by time (`partition_samples_kept`: each replica's last row, last leader row
and last rows with a size), and the raw rows are deleted. With 1 h base windows and rounds each
minute that is about one kept row per replica-hour and one packed sum per partition-hour instead of
60 rows per replica-hour. Each replica's newest of those kept rows of each kind
(`partition_samples_latest`) are kept up to date as windows close, so a build up to now reads those
and the raw rows instead of scanning and sorting every kept row of its range for them (7.2M kept
rows a day at 300k replicas, ~0.7M latest rows).

The base window is the store's configured window length (`aggregate_s`, default 300 s, the load
model's default window; a fleet that plans on 1 h windows opens its store with 3600), recorded per
cluster at its first aggregation. Builds whose windows and cooldown are multiples of it read sums;
one that would cut an aggregated window is refused in one line (`windows.aggregation_conflict`),
and closed windows stay raw `aggregate_after_s` longer so short ad-hoc builds never meet that.
Not a fixed 5 min base for everyone: kept rows are per replica and base window, 86M a day at 300k
replicas with 5 min windows against 7.2M with 1 h ones, and only the latter fits 2 GB a day.
The cooldown after a reassignment crosses windows and is chosen at build time, so a partition with
a reassigning row within MAX_COOLDOWN_S before a window (or in it) is not summed there: it keeps
all its rows, flagged `near` (a build reads them by a partial index), and the build excludes what
its own cooldown says.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

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

# Per closed base window, each summed partition's sums and counts of the leader rows the load model
# averages (a row is counted when it has bytes_in; bytes_out and messages_in may still be missing), and
# how many leader rows and rate-less leader rows there were (why a window is incomplete): WINDOW_SUMS.
# One row per cluster incarnation and window, each column one little-endian array over the window's
# partitions (SUMS_ARRAYS; `topic` as codes into the JSON list `topics`). A 24-window build at 100k
# partitions reads 2.4M sums: as rows, 4.7 s of the driver making Python objects and 460 MB; as 24 rows
# of arrays, a read of 125 MB. Written once by the window's aggregation, read by time.
SUMS_ARRAYS = {
    "topic": "<i4", "partition": "<i4", "samples": "<i4", "bytes_in_sum": "<f8", "bytes_out_sum": "<f8",
    "bytes_out_samples": "<i4", "messages_in_sum": "<f8", "messages_in_samples": "<i4", "leader_samples": "<i4",
    "unrated_samples": "<i4",
}  # fmt: skip
WINDOW_SUMS = ["start", *SUMS_ARRAYS]
partition_window_sums = sa.Table(
    "partition_window_sums",
    metadata,
    sa.Column("cluster_id", sa.Integer, sa.ForeignKey("clusters.id"), primary_key=True),
    sa.Column("start", sa.Double, primary_key=True),
    sa.Column("topics", sa.Text, nullable=False),
    *(sa.Column(name, sa.LargeBinary, nullable=False) for name in SUMS_ARRAYS),
)

# The raw rows an aggregated window keeps (partition_samples' columns and `near`): they answer "latest
# row, leader, size" questions for any later build; `near`: all rows of a partition near a reassignment,
# kept whole because its window has no sums.
partition_samples_kept = sa.Table(
    "partition_samples_kept",
    metadata,
    sa.Column("cluster_id", sa.Integer, sa.ForeignKey("clusters.id"), nullable=False),
    *(sa.Column(c.name, c.type, nullable=c.nullable) for c in partition_samples.columns if c.name != "cluster_id"),
    sa.Column("near", sa.Boolean, nullable=False),
)

# Kept rows are read by time only, and written once per window by its one aggregation: an index on
# (cluster_id, ts), not a primary key of every key column (revision 0005: 40% of the table's bytes).
sa.Index("ix_partition_samples_kept_ts", partition_samples_kept.c.cluster_id, partition_samples_kept.c.ts)


def _partial_index(table: sa.Table, column: str) -> None:
    """An index on (cluster_id, ts) of the rows where `column` is true: a few rows among a day's millions.
    The term is the one the queries write (`column == sa.true()`): SQLite uses a partial index only then."""
    flagged = table.c[column] == sa.true()
    sa.Index(f"ix_{table.name}_{column}", table.c.cluster_id, table.c.ts,
             sqlite_where=flagged, postgresql_where=flagged)  # fmt: skip


# Builds and aggregation ask which partitions were reassigning in a range (`_near_reassignment`, revision
# 0004); builds read the kept rows that count as samples (`near`, revision 0005).
_partial_index(partition_samples, "reassigning")
_partial_index(partition_samples_kept, "reassigning")
_partial_index(partition_samples_kept, "near")

# Each replica's newest aggregated row of each kind (`_kinds`) among the kept rows sums count (not `near`,
# which a build reads whole: a newest leader row cooling down after a reassignment must not hide the valid
# one before it): the rows a build up to now would otherwise find by sorting every kept row of its range.
# Updated as each window is aggregated.
partition_samples_latest = sa.Table(
    "partition_samples_latest",
    metadata,
    sa.Column("cluster_id", sa.Integer, sa.ForeignKey("clusters.id"), primary_key=True),
    sa.Column("topic", sa.String(255), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("broker", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("ts", sa.Double, nullable=False),
    sa.Column("leader", sa.Boolean, nullable=False),
    sa.Column("reassigning", sa.Boolean, nullable=False),
    *(sa.Column(name, sa.Double) for name in PARTITION_METRICS),
)

# Per cluster incarnation: the base window length and [since, until), the closed windows aggregated so far.
aggregation_progress = sa.Table(
    "aggregation_progress",
    metadata,
    sa.Column("cluster_id", sa.Integer, sa.ForeignKey("clusters.id"), primary_key=True),
    sa.Column("window_s", sa.Double, nullable=False),
    sa.Column("since", sa.Double, nullable=False),
    sa.Column("until", sa.Double, nullable=False),
)

# A partition with a reassigning sample less than this before a window (or in it) keeps its raw rows
# there: which of them a build excludes depends on the build's cooldown, unknown when aggregating.
MAX_COOLDOWN_S = 6 * 3600.0

log = logging.getLogger(__name__)

Incarnation = tuple[str, str | None]  # a cluster's name and its Kafka cluster id, when known
# One sampler's share of a round: the Kafka cluster id it saw, its broker rows and its partition rows.
SamplerRows = tuple[str | None, Sequence[BrokerSample], Sequence[PartitionSample]]

BROKER_COLUMNS = [f.name for f in dataclasses.fields(BrokerSample)]
PARTITION_COLUMNS = [f.name for f in dataclasses.fields(PartitionSample)]
TEXT_COLUMNS = ("topic", "source")
FRAME_CHUNK_ROWS = 100_000  # rows converted at a time (MetricsStore._frame)
COLUMN_TYPES = {
    "broker": "int64", "partition": "int64", "alive": "bool", "leader": "bool", "reassigning": "bool",
    **{name: "int64" for name, dtype in SUMS_ARRAYS.items() if dtype == "<i4" and name != "topic"},
}


class ModelRows(NamedTuple):
    """A load model's share of the stored partition rows (MetricsStore.model_rows): `whole`, every row of the
    partitions near a reassignment that no window's sums hold; `newest`, the newest rows of every replica;
    `sums`, the other partitions' sums (WINDOW_SUMS) of the rows no window's sums hold."""

    whole: pd.DataFrame
    newest: pd.DataFrame
    sums: pd.DataFrame


class MetricsStore(StoreTables):
    """Batched writes and time-range reads of samples; the store's schema is brought up to date on open.

    Samples belong to one incarnation of a cluster: its name and its Kafka cluster id. Writers and
    readers that know the id (the samplers, the live model) pass it as `kafka_cluster_id`; those that
    only know the name (`kafka-medic load`) get its newest incarnation. Samples of another incarnation
    are never returned, and the first time a store meets one it says so as a warning.
    """

    what = "metrics store"

    def __init__(
        self,
        url: str | None = None,
        batch_size: int = 5000,
        aggregate_s: float = 300.0,
        aggregate_after_s: float = 300.0,
    ) -> None:
        """`aggregate_s` is the base window of a cluster's first aggregation (later ones keep the recorded
        one); `aggregate_after_s` how long a closed window stays raw, so builds of short windows that
        straddle a base boundary (the CLI's, the tests') still see raw rows."""
        super().__init__(url)
        self.batch_size = batch_size
        self.aggregate_s = aggregate_s
        self.aggregate_after_s = aggregate_after_s
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
        rows = _rows(broker_samples, BROKER_COLUMNS, self._cluster_id((cluster, kafka_cluster_id), False), since, until)
        return self._frame(sa.select(*rows.c).order_by(rows.c.ts), BROKER_COLUMNS)

    def partition_samples(
        self, cluster: str, since: float, until: float, kafka_cluster_id: str | None = None
    ) -> pd.DataFrame:
        """Stored samples with since <= ts < until (raw, and the rows aggregated windows kept), sorted by
        time; columns are PartitionSample's fields."""
        rows = _stored_partition_rows(self._cluster_id((cluster, kafka_cluster_id), False), since, until)
        return self._frame(sa.select(*rows.c).order_by(rows.c.ts), PARTITION_COLUMNS)

    def latest_partition_samples(
        self, cluster: str, since: float, until: float, kafka_cluster_id: str | None = None
    ) -> pd.DataFrame:
        """The last sample of each partition replica (per source) in [since, until): last known load.
        Aggregated windows keep each replica's last row, so this is the same as before aggregation."""
        rows = _stored_partition_rows(self._cluster_id((cluster, kafka_cluster_id), False), since, until)
        return self._latest(rows, ["topic", "partition", "broker", "source"], PARTITION_COLUMNS)

    def latest_broker_samples(
        self, cluster: str, since: float, until: float, kafka_cluster_id: str | None = None
    ) -> pd.DataFrame:
        """The last sample in which each broker answered (per source) in [since, until)."""
        cid = self._cluster_id((cluster, kafka_cluster_id), False)
        rows = _rows(broker_samples, BROKER_COLUMNS, cid, since, until, broker_samples.c.alive)
        return self._latest(rows, ["broker", "source"], BROKER_COLUMNS)

    def partition_windows(
        self, cluster: str, since: float, until: float, kafka_cluster_id: str | None = None
    ) -> pd.DataFrame:
        """The aggregates of the base windows that start in [since, until); columns: WINDOW_SUMS."""
        cid = self._cluster_id((cluster, kafka_cluster_id), False)
        t = partition_window_sums
        in_range = sa.and_(t.c.cluster_id == cid, t.c.start >= since, t.c.start < until)
        with self.engine.connect() as conn:
            return unpack_window_sums(conn.execute(sa.select(t).where(in_range).order_by(t.c.start)))

    def model_rows(
        self, cluster: str, since: float, until: float, windows: Sequence[float], kafka_cluster_id: str | None = None
    ) -> ModelRows:
        """What a load model of the windows [windows[i], windows[i + 1]) needs of the stored partition rows in
        [since, until) (since <= windows[0]), read in SQL so that a day of windows is not a day of rows.

        Partitions with a reassigning row there or up to MAX_COOLDOWN_S before come whole: every raw row,
        and every kept row of the windows aggregated without their sums (`near`), because which rows a
        cooldown excludes is the model's to decide. Their kept rows of windows with sums are counted there
        already: of those the model needs what it needs of every replica, its newest rows (placement,
        leader, sizes: see `_newest_rows`). And the sums of each window's rows that no window's sums
        row holds, the rows outside the aggregated span, of the partitions not near a reassignment.
        """
        cid = self._cluster_id((cluster, kafka_cluster_id), False)
        aggregated = self.aggregated(cluster, kafka_cluster_id)
        # A reassigning row there: near. From a base window before the cooldown before `since`, so that every
        # kept `near` row of the range is one of theirs.
        base = aggregated[0] if aggregated else 0.0
        flagged = (cid, min(since, windows[0] - MAX_COOLDOWN_S) - base, until)
        up_to_now = aggregated is not None and until >= aggregated[2]
        before, in_progress = _in_range(partition_samples, PARTITION_COLUMNS, cid, since, until), list[sa.Select]()
        if up_to_now:
            with self.engine.connect() as conn:
                before, in_progress = _raw_rows_up_to_now(conn, cid, since, until, windows[-1])
        kept = partition_samples_kept
        whole_kept = _in_range(kept, PARTITION_COLUMNS, cid, since, until, kept.c.near == sa.true())  # partial index
        counted = sa.union_all(before, *in_progress, whole_kept).subquery()
        whole = sa.select(*counted.c).where(_near_reassignment(counted, *flagged)).order_by(counted.c.ts)
        if up_to_now:
            # Up to now, each replica's newest rows are among its latest aggregated rows, the newest of the
            # raw rows before the window in progress and that window's newest round. They are read as they
            # are: a replica's older row beside its newest of a kind changes nothing the model takes from
            # them (the newest round, leader and size: each a maximum), and sorting the latest rows against
            # the raw ones took most of a 24-window build's SQL.
            latest = partition_samples_latest
            newest: sa.Select | sa.CompoundSelect = sa.union_all(
                _in_range(latest, PARTITION_COLUMNS, cid, since, until),
                _newest_rows(before.subquery(), PARTITION_COLUMNS),
                *in_progress[:1],
            )
        else:
            counted_by_sums = _in_range(kept, PARTITION_COLUMNS, cid, since, until, kept.c.near == sa.false())
            newest = _newest_rows(sa.union_all(before, counted_by_sums).subquery(), PARTITION_COLUMNS)
        whole_rows, newest_rows = self._frame(whole, PARTITION_COLUMNS), self._frame(newest, PARTITION_COLUMNS)

        first, last = windows[0], windows[-1]
        spans = [(first, last)] if aggregated is None else [(first, aggregated[1]), (aggregated[2], last)]
        spans = [(max(a, first), min(b, last)) for a, b in spans]
        tables = (partition_samples, partition_samples_kept)
        parts = [_in_range(t, PARTITION_COLUMNS, cid, a, b) for a, b in spans if a < b for t in tables]
        rows = sa.union_all(*(parts or [_in_range(partition_samples, PARTITION_COLUMNS, cid, 0, 0)])).subquery()
        bounds = [sa.and_(rows.c.ts >= a, rows.c.ts < b) for a, b in zip(windows[:-1], windows[1:], strict=False)]
        window_start = sa.case(*((bound, sa.literal(a)) for bound, a in zip(bounds, windows, strict=False)))
        others = ~_near_reassignment(rows, *flagged)
        sums = sa.select(window_start.label("start"), rows.c.topic, rows.c.partition, *_window_sums(rows))
        sums = sums.where(others).group_by(window_start, rows.c.topic, rows.c.partition)
        return ModelRows(whole_rows, newest_rows, self._frame(sums, WINDOW_SUMS))

    def aggregated(self, cluster: str, kafka_cluster_id: str | None = None) -> tuple[float, float, float] | None:
        """(base window length, since, until): the closed windows aggregated so far; None if none were."""
        cid = self._cluster_id((cluster, kafka_cluster_id), False)
        t = aggregation_progress
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.c.window_s, t.c.since, t.c.until).where(t.c.cluster_id == cid)).first()
        return None if row is None or row.until <= row.since else (row.window_s, row.since, row.until)

    def _latest(self, rows: sa.Subquery, key: list[str], columns: list[str]) -> pd.DataFrame:
        last = sa.select(*(rows.c[k] for k in key), sa.func.max(rows.c.ts).label("ts")).group_by(*key).subquery()
        on = sa.and_(*(rows.c[k] == last.c[k] for k in [*key, "ts"]))
        return self._frame(sa.select(*rows.c).join(last, on).order_by(rows.c.ts), columns)

    def aggregate(self, cluster: str, now: float, kafka_cluster_id: str | None = None) -> int:
        """Aggregate this incarnation's closed base windows older than `aggregate_after_s`; returns how many.

        Called by every sampling round, so usually a no-op. Each window is claimed by moving the
        progress row's `until` with a compare-and-set UPDATE, in the transaction that aggregates it:
        two processes never aggregate one window (on PostgreSQL the second waits on the row lock, then
        finds `until` moved; SQLite serialises writers), and a crash leaves the window raw.
        """
        cid = self._cluster_id((cluster, kafka_cluster_id), create=False)
        if cid is None:
            return 0
        t, done = aggregation_progress, 0
        while True:
            with self.engine.begin() as conn:
                progress = self._progress(conn, cid)
                if progress is None:
                    return done
                window_s, until = progress
                first = conn.scalar(
                    sa.select(sa.func.min(partition_samples.c.ts)).where(
                        partition_samples.c.cluster_id == cid, partition_samples.c.ts >= until
                    )
                )
                if first is None:
                    return done
                start = max(until, math.floor(first / window_s) * window_s)  # over windows without samples
                if start + window_s + self.aggregate_after_s > now:
                    return done
                claim = t.update().where(t.c.cluster_id == cid, t.c.until == until).values(until=start + window_s)
                if conn.execute(claim).rowcount == 1:
                    _aggregate_window(conn, cid, start, start + window_s)
                    done += 1

    def _progress(self, conn: sa.Connection, cid: int) -> tuple[float, float] | None:
        """(base window, until) of this incarnation; recorded at its first aggregation, from its oldest sample."""
        t = aggregation_progress
        row = conn.execute(sa.select(t.c.window_s, t.c.until).where(t.c.cluster_id == cid)).first()
        if row is not None:
            return row.window_s, row.until
        raw = partition_samples
        oldest = conn.scalar(sa.select(sa.func.min(raw.c.ts)).where(raw.c.cluster_id == cid))
        if oldest is None:
            return None
        since = math.floor(oldest / self.aggregate_s) * self.aggregate_s
        conn.execute(_insert_unless_there(conn, t, cluster_id=cid, window_s=self.aggregate_s, since=since, until=since))
        return self._progress(conn, cid)

    def history_until(self, cluster: str, kafka_cluster_id: str | None = None) -> float | None:
        """The time before which this incarnation has nothing stored (its oldest sample, or the start of
        its aggregated span); None for an incarnation without samples. History may be added before it."""
        cid = self._cluster_id((cluster, kafka_cluster_id), create=False)
        if cid is None:
            return None
        oldest = [sa.select(sa.func.min(t.c.ts)).where(t.c.cluster_id == cid).scalar_subquery()
                  for t in (broker_samples, partition_samples, partition_samples_kept)]
        oldest += [sa.select(sa.func.min(aggregation_progress.c.since))
                   .where(aggregation_progress.c.cluster_id == cid).scalar_subquery()]
        with self.engine.connect() as conn:
            times = [t for t in conn.execute(sa.select(*oldest)).one() if t is not None]
        return min(times) if times else None

    def add_history(self, cluster: str, kafka_cluster_id: str | None, rounds: Sequence[SamplerRows],
                    since: float) -> tuple[int, int]:
        """Rounds from before `history_until` (a bootstrap's), in one transaction; (broker, partition) rows.

        When the incarnation's aggregation has started, its progress row's `since` moves back to the
        base window boundary at or before `since` and the windows gained are aggregated here, since
        `aggregate` only walks forward; otherwise the next round's `aggregate` starts from them.
        """
        cid = self._cluster_id((cluster, kafka_cluster_id), create=True)
        assert cid is not None, "created when missing"
        written = [0, 0]
        with self.engine.begin() as conn:
            for _, brokers, partitions in rounds:
                written[0] += _bulk_insert(conn, broker_samples, cid, brokers, self.batch_size)
                written[1] += _bulk_insert(conn, partition_samples, cid, partitions, self.batch_size)
            t = aggregation_progress
            row = conn.execute(sa.select(t.c.window_s, t.c.since).where(t.c.cluster_id == cid)).first()
            if row is not None and since < row.since:
                first = math.floor(since / row.window_s) * row.window_s
                for start in range(int((row.since - first) // row.window_s)):
                    _aggregate_window(conn, cid, first + start * row.window_s, first + (start + 1) * row.window_s)
                conn.execute(t.update().where(t.c.cluster_id == cid).values(since=first))
        return written[0], written[1]

    def clusters(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.scalars(sa.select(clusters.c.name).distinct().order_by(clusters.c.name)))

    def prune(self, before: float) -> int:
        """Delete every sample older than `before` (epoch seconds) in every cluster, kept rows and the sums
        of base windows that ended by then included; returns rows deleted."""
        deleted = 0
        with self.engine.begin() as conn:
            for cid in conn.scalars(sa.select(clusters.c.id)):
                for table in (broker_samples, partition_samples, partition_samples_kept, partition_samples_latest):
                    old = table.delete().where(table.c.cluster_id == cid, table.c.ts < before)
                    deleted += conn.execute(old).rowcount
                progress, sums = aggregation_progress, partition_window_sums
                base = conn.scalar(sa.select(progress.c.window_s).where(progress.c.cluster_id == cid))
                if base is not None:
                    ended = sa.and_(sums.c.cluster_id == cid, sums.c.start + base <= before)
                    deleted += conn.execute(sums.delete().where(ended)).rowcount
        return deleted

    def _frame(self, query, columns: list[str]) -> pd.DataFrame:
        """The rows of `query` as typed columns, converted a chunk at a time.

        The driver's plain tuples (pandas probes each SQLAlchemy Row for attributes it lacks, which raises
        and catches inside SQLAlchemy per row), one object matrix per chunk, then each column converted by
        numpy (None becomes NaN): half the time of pandas inferring columns from tuples. A chunk at a time,
        and each chunk's text values replaced by one string object per distinct value, because a build
        reads up to a million rows (300k replicas' newest rows): 2.4M rows as tuples of Python objects took
        1.2 GB, as columns 0.2 GB.
        """
        chunks = []
        with self.engine.connect() as conn:
            cursor = conn.execute(query).cursor
            while rows := cursor.fetchmany(FRAME_CHUNK_ROWS):
                values = np.array(rows, dtype=object).reshape(len(rows), len(columns))
                chunks.append([_typed(values[:, i], column) for i, column in enumerate(columns)])
        empty = [_typed(np.zeros(0, dtype=object), column) for column in columns]
        return pd.DataFrame({  # typed even when empty: the load model's masks and indices need it
            column: np.concatenate([chunk[i] for chunk in chunks]) if chunks else empty[i]
            for i, column in enumerate(columns)
        }, copy=False)  # the concatenated columns as they are: consolidating them copied 2.4M rows again

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


def _typed(values: np.ndarray, column: str) -> np.ndarray:
    """One column of a chunk of rows in its type; text as one string object per distinct value."""
    if column in TEXT_COLUMNS:
        codes, distinct = pd.factorize(values)
        return distinct.astype(object)[codes] if len(values) else values
    return values.astype(COLUMN_TYPES.get(column, "float64"))


def _in_range(table: sa.Table, columns: list[str], cid: int | None, since: float, until: float, *where) -> sa.Select:
    """The rows of one cluster incarnation with since <= ts < until: an index range scan (see above)."""
    in_range = sa.and_(table.c.cluster_id == cid, table.c.ts >= since, table.c.ts < until, *where)
    return sa.select(*(table.c[name] for name in columns)).where(in_range)


def _rows(table: sa.Table, columns: list[str], cid: int | None, since: float, until: float, *where) -> sa.Subquery:
    return _in_range(table, columns, cid, since, until, *where).subquery()


def _stored_partition_rows(cid: int | None, since: float, until: float) -> sa.Subquery:
    """Raw partition samples and the rows aggregated windows kept, as one table."""
    tables = (partition_samples, partition_samples_kept)
    return sa.union_all(*(_in_range(t, PARTITION_COLUMNS, cid, since, until) for t in tables)).subquery()


def _raw_rows_up_to_now(
    conn: sa.Connection, cid: int | None, since: float, until: float, end: float
) -> tuple[sa.Select, list[sa.Select]]:
    """The raw rows in [since, until) a build whose windows end at `end` reads up to now: those before `end`
    (raw while their window's aggregation is due), and of the window in progress its newest round and its
    reassigning rows only (see load_model._newest_round_in_progress).

    The window in progress holds up to a base window of rounds (18M rows at 300k replicas sampled each
    minute for an hour): its newest round (every sampler of a round writes at its one timestamp, see
    sampling.py) is found by one index lookup and read by one index range, its flagged rows by the
    partial index. The round's time goes into the query as a value, and as a range: given a subquery or an
    equality beside the range, SQLite scanned the range.
    Returns the rows before `end`, and the newest round's and the flagged rows (none without a round).
    """
    raw = partition_samples
    in_progress = sa.and_(raw.c.cluster_id == cid, raw.c.ts >= end, raw.c.ts < until)
    newest_round = conn.scalar(sa.select(sa.func.max(raw.c.ts)).where(in_progress))
    before = _in_range(raw, PARTITION_COLUMNS, cid, since, min(until, end))
    if newest_round is None:
        return before, []
    start = max(since, end)
    return before, [
        _in_range(raw, PARTITION_COLUMNS, cid, newest_round, math.nextafter(newest_round, math.inf)),  # ts = round
        _in_range(raw, PARTITION_COLUMNS, cid, start, until, raw.c.reassigning == sa.true(), raw.c.ts != newest_round),
    ]


def _aggregate_window(conn: sa.Connection, cid: int, start: float, end: float) -> None:
    """Replace the raw rows of [start, end) by the window's sums and the rows later builds may ask for.

    A partition with a reassigning row in [start - MAX_COOLDOWN_S, end) keeps all its rows and gets
    no sums: a build decides which of them its cooldown excludes. Done in SQL, so a window of 18M
    rows never passes through Python: only its sums, one row per partition, to be packed.
    """
    raw = partition_samples
    near_reassignment = _near_reassignment(raw, cid, start - MAX_COOLDOWN_S, end)
    in_window = sa.and_(raw.c.cluster_id == cid, raw.c.ts >= start, raw.c.ts < end)
    sums = sa.select(raw.c.topic, raw.c.partition, *_window_sums(raw)).where(in_window, ~near_reassignment)
    summed = conn.execute(sums.group_by(raw.c.topic, raw.c.partition).order_by(raw.c.topic, raw.c.partition)).all()
    if summed:
        conn.execute(partition_window_sums.insert().values(cluster_id=cid, start=start, **pack_window_sums(summed)))
    columns = [c.name for c in raw.columns]
    ranked = _ranked(raw, columns, in_window, near_reassignment).subquery()
    kept = sa.select(*ranked.c[*columns], ranked.c.also_0).where(sa.or_(ranked.c.also_0, *_kinds(ranked.c).values()))
    conn.execute(partition_samples_kept.insert().from_select([*columns, "near"], kept))
    conn.execute(raw.delete().where(in_window))
    window_kept = partition_samples_kept.c
    counted_by_sums = sa.and_(window_kept.cluster_id == cid, window_kept.ts >= start, window_kept.ts < end,
                              window_kept.near == sa.false())  # fmt: skip
    refresh_latest(conn, partition_samples_kept, counted_by_sums)


def pack_window_sums(rows: Sequence[Sequence]) -> dict[str, str | bytes]:
    """One window's sums rows (SUMS_ARRAYS' columns, a topic name first) as partition_window_sums' values."""
    columns = list(zip(*rows, strict=True))
    codes, topics = pd.factorize(np.array(columns[0], dtype=object))
    arrays = [codes, *columns[1:]]  # a sum of no rows is NULL: NaN in its float array
    return {"topics": json.dumps(topics.tolist()),
            **{name: np.array(values, dtype=dtype).tobytes() for (name, dtype), values in
               zip(SUMS_ARRAYS.items(), arrays, strict=True)}}  # fmt: skip


def unpack_window_sums(windows: Iterable) -> pd.DataFrame:
    """partition_window_sums rows as one frame of WINDOW_SUMS, with one string object per distinct topic and
    partition numbers as MetricsStore._frame types them."""
    names: dict[str, int] = {}
    parts: list[dict[str, np.ndarray]] = []
    for window in windows:
        ids = np.array([names.setdefault(topic, len(names)) for topic in json.loads(window.topics)], dtype="int64")
        arrays = {name: np.frombuffer(getattr(window, name), dtype) for name, dtype in SUMS_ARRAYS.items()}
        arrays["topic"] = ids[arrays["topic"]]
        parts.append({"start": np.full(len(arrays["partition"]), window.start), **arrays})
    if not parts:
        return pd.DataFrame({name: _typed(np.zeros(0, dtype=object), name) for name in WINDOW_SUMS})
    topics = np.array(list(names), dtype=object)
    columns = {name: np.concatenate([part[name] for part in parts]) for name in WINDOW_SUMS}
    columns["topic"], columns["partition"] = topics[columns["topic"]], columns["partition"].astype("int64")
    return pd.DataFrame(columns, copy=False)  # counts stay int32: 2.4M sums take 154 MB, not 211


def refresh_latest(conn: sa.Connection, rows: sa.TableClause, where: sa.ColumnElement,
                   latest: sa.Table = partition_samples_latest) -> None:
    """Make `latest` (partition_samples_latest) hold, per replica and kind, the newer of its row and the
    newest of `rows` matching `where`, which picks one cluster incarnation's rows (the kept rows sums count
    of a window being aggregated; all of them when the table is rebuilt). A bootstrap's history is
    aggregated after later windows: an older row never replaces a newer one. Revisions 0003 and 0005 pass
    their own frozen tables, so later changes to the live ones do not change what they do."""
    columns = [c.name for c in latest.columns if c.name != "kind"]
    ranked = _ranked(rows, columns, where).subquery()
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for kind, chosen in _kinds(ranked.c).items():
        newest = sa.select(*ranked.c[*columns], sa.literal(kind)).where(chosen)
        upsert = dialect.insert(latest).from_select([*columns, "kind"], newest)
        conn.execute(upsert.on_conflict_do_update(
            index_elements=[c.name for c in latest.primary_key],
            set_={name: upsert.excluded[name] for name in columns},
            where=upsert.excluded.ts > latest.c.ts,
        ))


def _near_reassignment(rows: sa.FromClause, cid: int | None, since: float, until: float) -> sa.ColumnElement:
    """True for the rows of `rows` whose partition has a reassigning stored row in [since, until).

    A partition is compared as one value, "topic partition" (a topic name never has a space): SQLite tests
    a (topic, partition) row value against every listed partition, per row, when the test is negated or
    not a WHERE term (11 s to flag 1.46M rows against 223 partitions; 1.3 s as one value). EXISTS is no
    better: SQLite runs the subquery again for each row of a UNION.
    """
    stored = _stored_partition_rows(cid, since, until)
    flagged = stored.c.reassigning == sa.true()  # the partial indexes' term, written as they have it
    return _partition_key(rows).in_(sa.select(_partition_key(stored)).where(flagged).distinct())


def _partition_key(rows: sa.FromClause) -> sa.ColumnElement:
    return rows.c.topic + " " + sa.cast(rows.c.partition, sa.String)


def _window_sums(rows: sa.FromClause) -> list[sa.ColumnElement]:
    """A window's sums and counts (SUMS_ARRAYS after the partition) over a group of `rows`: the leader rows
    with bytes_in are counted and summed, the leader rows and those without bytes_in counted apart."""
    c = rows.c
    rated = sa.and_(c.leader, c.bytes_in.is_not(None))

    def rated_sum(column: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.sum(sa.case((rated, column)))

    def count(condition: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.count(sa.case((condition, 1)))

    return [
        count(rated), rated_sum(c.bytes_in),
        rated_sum(c.bytes_out), count(sa.and_(rated, c.bytes_out.is_not(None))),
        rated_sum(c.messages_in), count(sa.and_(rated, c.messages_in.is_not(None))),
        count(c.leader), count(sa.and_(c.leader, c.bytes_in.is_(None))),
    ]  # fmt: skip


def _newest_rows(rows: sa.FromClause, columns: list[str]) -> sa.Select:
    """`columns` of the rows a later reader asks for by time: each replica's newest row of each kind
    (`_kinds`). One window-function sort serves every kind."""
    ranked = _ranked(rows, columns, sa.true()).subquery()
    return sa.select(*(ranked.c[name] for name in columns)).where(sa.or_(*_kinds(ranked.c).values()))


def _ranked(rows: sa.FromClause, columns: list[str], where: sa.ColumnElement, *also: sa.ColumnElement) -> sa.Select:
    """`columns` of the rows matching `where`, each with its replica's newest ts of each kind, and the
    `also` flags as also_0, also_1..."""
    c = rows.c
    replica = [c.topic, c.partition, c.broker, c.source]  # of one cluster: `where` picks it
    sized = c.size.is_not(None)

    def newest(*condition: sa.ColumnElement) -> sa.Over:
        newest_ts = sa.func.max(c.ts)
        return (newest_ts.filter(sa.and_(*condition)) if condition else newest_ts).over(partition_by=replica)

    return sa.select(
        *(c[name] for name in columns), *(flag.label(f"also_{i}") for i, flag in enumerate(also)),
        newest().label("newest"), newest(c.leader).label("led"),
        newest(c.leader, sized).label("led_sized"), newest(~c.leader, sized).label("followed_sized"),
    ).where(where)  # fmt: skip


def _kinds(row: sa.ColumnCollection) -> dict[str, sa.ColumnElement]:
    """Which ranked row is its replica's newest of each kind a build asks for: the newest row (placement),
    the newest leader row (leadership) and the newest leader and follower rows with a size (disk)."""
    return {
        "newest": row.ts == row.newest,
        "led": sa.and_(row.leader, row.ts == row.led),
        "led_sized": sa.and_(row.leader, row.ts == row.led_sized),
        "followed_sized": sa.and_(~row.leader, row.ts == row.followed_sized),
    }


def _insert_unless_there(conn: sa.Connection, table: sa.Table, **values) -> sa.Executable:
    """INSERT ... ON CONFLICT DO NOTHING, in the dialect's words: two processes may both insert the row first."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(**values).on_conflict_do_nothing()


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
