"""Window sums packed one row per window; kept rows indexed by time and flagged `near` when their window has no sums.

`partition_windows` held one row per partition and closed base window: 2.4M rows for a 24-window build
at 100k partitions, which took the driver 4.7 s and 460 MB to turn into Python objects and back, and
399 MB of a day's PostgreSQL store. `partition_window_sums` holds each window's sums as one row of
arrays (see metrics/store.py); this revision packs the rows there.

`partition_samples_kept` is written once per window by its one aggregation and read by (cluster_id, ts)
only, yet its primary key held every key column: 40% of its bytes on PostgreSQL (507 of 1,225 MB after
a day at 300k replicas). It gets an index on (cluster_id, ts) instead, and `near`: true when the row's
window was aggregated without its partition's sums (a reassignment near it), so the row counts as a
sample. A build reads those by a partial index instead of scanning the day's kept rows for the few
partitions near a reassignment (2.7 s of a 24-window build at 300k replicas). Here it is derived from
the sums: a kept row is near when its partition has no sums in its window.

`partition_samples_latest` then holds each replica's newest rows of the kept rows that sums count (not
`near`): a build reads the others whole, and a newest leader row cooling down after a reassignment
must not hide the valid one before it. Rebuilt here from those kept rows.

The kept rows are copied into a new table, then renamed: SQLite cannot drop a primary key, and the copy
leaves PostgreSQL's table compact. Packing and unpacking use the store's own functions
(`pack_window_sums`, `unpack_window_sums`): the packed format is this revision's, and a later change to it
comes with a revision of its own.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

METRICS = ("size", "bytes_in", "bytes_out", "messages_in")
SUMS = ("samples", "bytes_in_sum", "bytes_out_sum", "bytes_out_samples", "messages_in_sum", "messages_in_samples",
        "leader_samples", "unrated_samples")  # fmt: skip
SUMS_KEY = ("cluster_id", "start", "topic", "partition")
KEPT_KEY = ("cluster_id", "ts", "topic", "partition", "broker", "source")
KEPT_FLAGS = ("reassigning", "near")


def _window_columns() -> list[sa.Column]:
    """partition_windows' columns, as revision 0001 made the table."""
    return [
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("start", sa.Double(), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.Integer() if "samples" in name else sa.Double(), nullable="samples" not in name)
          for name in SUMS),
    ]  # fmt: skip


def _kept_columns(near: bool) -> list[sa.Column]:
    """partition_samples_kept's columns, with this revision's `near` or, as revision 0001 made them, without."""
    return [
        sa.Column("cluster_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.Double(), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("broker", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("leader", sa.Boolean(), nullable=False),
        sa.Column("reassigning", sa.Boolean(), nullable=False),
        *(sa.Column(name, sa.Double(), nullable=True) for name in METRICS),
        *([sa.Column("near", sa.Boolean(), nullable=False)] if near else []),
    ]


def _packed_columns() -> list[sa.Column]:
    """partition_window_sums' columns."""
    from kafka_medic.metrics.store import SUMS_ARRAYS

    return [
        sa.Column("cluster_id", sa.Integer(), sa.ForeignKey("clusters.id"), primary_key=True),
        sa.Column("start", sa.Double(), primary_key=True),
        sa.Column("topics", sa.Text(), nullable=False),
        *(sa.Column(name, sa.LargeBinary(), nullable=False) for name in SUMS_ARRAYS),
    ]


def _pack_sums() -> None:
    """partition_windows' rows packed one row per window into partition_window_sums, which replaces it."""
    from kafka_medic.metrics.store import pack_window_sums

    conn, packed = op.get_bind(), op.create_table("partition_window_sums", *_packed_columns())
    rows = sa.table("partition_windows", *(sa.column(c.name) for c in _window_columns()))
    for cid, start in conn.execute(sa.select(rows.c.cluster_id, rows.c.start).distinct()).all():
        window = sa.and_(rows.c.cluster_id == cid, rows.c.start == start)
        summed = conn.execute(sa.select(rows.c.topic, rows.c.partition, *(rows.c[name] for name in SUMS))
                              .where(window).order_by(rows.c.topic, rows.c.partition)).all()  # fmt: skip
        conn.execute(packed.insert().values(cluster_id=cid, start=start, **pack_window_sums(summed)))
    op.drop_table("partition_windows")


def _unpack_sums() -> None:
    """partition_window_sums back as partition_windows' rows, as revision 0001 made that table."""
    from kafka_medic.metrics.store import unpack_window_sums

    conn = op.get_bind()
    rows = op.create_table("partition_windows", *_window_columns(),
                           sa.ForeignKeyConstraint(["cluster_id"], ["clusters.id"]), sa.PrimaryKeyConstraint(*SUMS_KEY))
    packed = sa.Table("partition_window_sums", sa.MetaData(), *_packed_columns())
    for window in conn.execute(sa.select(packed)).all():
        frame = unpack_window_sums([window]).assign(cluster_id=window.cluster_id)
        conn.execute(rows.insert(), frame.astype(object).where(frame.notna(), None).to_dict("records"))
    op.drop_table("partition_window_sums")


def _rebuild(name: str, columns: list[sa.Column], key: tuple[str, ...] | None, rows) -> None:
    """Replace table `name` by one of `columns` (primary key `key`, or none) holding `rows(old table)`."""
    old = sa.table(name, *(sa.column(c.name, c.type) for c in columns if c.name != "near"))
    new = op.create_table(
        f"{name}_0005", *columns, sa.ForeignKeyConstraint(["cluster_id"], ["clusters.id"]),
        *([sa.PrimaryKeyConstraint(*key)] if key else []),
    )  # fmt: skip
    op.execute(new.insert().from_select([c.name for c in columns], rows(old)))
    op.drop_table(name)
    op.rename_table(f"{name}_0005", name)
    if op.get_bind().dialect.name == "postgresql":  # its constraint names follow the table's first name
        for suffix in ["cluster_id_fkey", *(["pkey"] if key else [])]:
            op.execute(f'ALTER TABLE {name} RENAME CONSTRAINT "{name}_0005_{suffix}" TO "{name}_{suffix}"')


def _flag_indexes(flags: tuple[str, ...]) -> None:
    """The kept rows' partial indexes on (cluster_id, ts), one per flag (revision 0004's for `reassigning`)."""
    for flag in flags:
        flagged = sa.column(flag, sa.Boolean) == sa.true()
        op.create_index(f"ix_partition_samples_kept_{flag}", "partition_samples_kept", ["cluster_id", "ts"],
                        sqlite_where=flagged, postgresql_where=flagged)  # fmt: skip


def _latest() -> sa.Table:
    """partition_samples_latest as revision 0003 made it."""
    replica = {c.name: c for c in _kept_columns(near=False)}
    return sa.Table(
        "partition_samples_latest", sa.MetaData(),
        *(sa.Column(name, replica[name].type, primary_key=True) for name in KEPT_KEY if name != "ts"),
        sa.Column("kind", sa.String(16), primary_key=True),
        *(replica[name] for name in ("ts", "leader", "reassigning", *METRICS)),
    )  # fmt: skip


def _refresh_latest(flagged_near: bool) -> None:
    """Rebuild partition_samples_latest from the kept rows: those sums count, when they are flagged `near`."""
    from kafka_medic.metrics.store import refresh_latest

    latest, conn = _latest(), op.get_bind()
    kept = sa.table("partition_samples_kept", *(sa.column(c.name, c.type) for c in _kept_columns(flagged_near)))
    op.execute(latest.delete())
    for cid in conn.scalars(sa.select(kept.c.cluster_id).distinct()).all():
        counted = [kept.c.near == sa.false()] if flagged_near else []
        refresh_latest(conn, kept, sa.and_(kept.c.cluster_id == cid, *counted), latest)


def upgrade() -> None:
    sums, progress = (
        sa.table("partition_windows", *(sa.column(n) for n in SUMS_KEY)),
        sa.table("aggregation_progress", sa.column("cluster_id"), sa.column("window_s")),
    )

    def flagged(kept) -> sa.Select:
        """Every kept row, `near` when no sums row holds its partition in its window (floor(ts / base) * base)."""
        windows = kept.c.ts / progress.c.window_s  # epoch seconds are positive: SQLite's cast truncates down
        floor = sa.func.floor(windows) if op.get_bind().dialect.name == "postgresql" else sa.cast(windows, sa.Integer)
        start = floor * progress.c.window_s
        summed = sa.exists().where(
            sums.c.cluster_id == kept.c.cluster_id, sums.c.start == start,
            sums.c.topic == kept.c.topic, sums.c.partition == kept.c.partition,
            progress.c.cluster_id == kept.c.cluster_id,
        )  # fmt: skip
        return sa.select(*kept.c, ~summed)

    _rebuild("partition_samples_kept", _kept_columns(near=True), None, flagged)  # from the sums as rows
    _pack_sums()
    op.create_index("ix_partition_samples_kept_ts", "partition_samples_kept", ["cluster_id", "ts"])
    _flag_indexes(KEPT_FLAGS)
    _refresh_latest(flagged_near=True)


def downgrade() -> None:
    _unpack_sums()
    _rebuild("partition_samples_kept", _kept_columns(near=False), KEPT_KEY, lambda old: sa.select(*old.c))
    _flag_indexes(KEPT_FLAGS[:1])
    _refresh_latest(flagged_near=False)
