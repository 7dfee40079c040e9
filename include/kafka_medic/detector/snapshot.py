"""The latest live model of each cluster, as numpy arrays in the store: what the operator console draws from.

The console's cluster page shows every broker's load against its capacity and its partition page the
heaviest partitions; both come from the live model detect builds every minute anyway. Rebuilding it in the
api-server would read Kafka and a day of samples on every page view, so detect writes the few arrays the
pages need (per broker: load, capacity, replicas, leaders; per partition: topic, number, leader load) here
once a run, one compressed row per cluster replaced in place: 100,000 partitions are a few MB, read back
in a fraction of a second (bench/console.py), and the pages never touch a Python loop over partitions.
Each array is its own member of the compressed archive, decompressed only when read: the cluster page reads
the broker arrays alone (`latest(..., partitions=False)`), not the partition arrays 100 times their size.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from kafka_medic.model import ClusterModel
from kafka_medic.model.arrays import ClusterArrays
from kafka_medic.storage import StoreTables

metadata = sa.MetaData()

snapshots = sa.Table(
    "detector_model_snapshot",
    metadata,
    sa.Column("cluster", sa.String(255), primary_key=True),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("arrays", sa.LargeBinary, nullable=False),  # np.savez_compressed of ModelSnapshot's arrays
)


@dataclass(frozen=True)
class ModelSnapshot:
    """A cluster's live model reduced to what the console shows; loads in the model's units, RESOURCES order."""

    at: float
    broker_ids: np.ndarray  # (B,) int64
    racks: np.ndarray  # (B,) str, "" without a rack
    alive: np.ndarray  # (B,) bool
    capacity: np.ndarray  # (B, 4)
    load: np.ndarray  # (B, 4) every replica's load on the broker, by its role
    replicas: np.ndarray  # (B,) int64
    leaders: np.ndarray  # (B,) int64
    offline_replicas: np.ndarray  # (B,) int64 replicas on a failed disk of a live broker
    topics: np.ndarray  # (T,) str
    partition_topic: np.ndarray  # (P,) int64 index into topics
    partition_number: np.ndarray  # (P,) int64
    partition_load: np.ndarray  # (P, 4) the leader replica's load
    partition_leader: np.ndarray  # (P,) int64 broker id, -1 when offline

    @classmethod
    def of(cls, model: ClusterModel, now: float | None = None) -> ModelSnapshot:
        a = ClusterArrays.from_model(model)
        brokers = a.num_brokers
        leader_ids = np.where(a.leader >= 0, a.broker_ids[np.maximum(a.leader, 0)], -1)
        return cls(
            at=time.time() if now is None else now, broker_ids=a.broker_ids,
            racks=np.array([b.rack or "" for b in model.brokers], dtype=str), alive=a.alive, capacity=a.capacity,
            load=a.broker_load(), replicas=np.bincount(a.replica_broker, minlength=brokers),
            leaders=np.bincount(a.leader[a.leader >= 0], minlength=brokers),
            offline_replicas=np.bincount(a.replica_broker[a.replica_offline], minlength=brokers),
            topics=np.array(a.topics, dtype=str), partition_topic=a.partition_topic,
            partition_number=a.partition_number, partition_load=a.leader_load, partition_leader=leader_ids,
        )


ARRAYS = [name for name in ModelSnapshot.__dataclass_fields__ if name != "at"]
# Left out without partitions: empty arrays of the same types and widths.
NO_PARTITIONS = {"topics": np.zeros(0, str), "partition_topic": np.zeros(0, np.int64),
                 "partition_number": np.zeros(0, np.int64), "partition_load": np.zeros((0, 4)),
                 "partition_leader": np.zeros(0, np.int64)}


class SnapshotLog(StoreTables):
    """Each cluster's latest model snapshot; the schema is created on first use."""

    what = "model snapshots"

    def record(self, cluster: str, snapshot: ModelSnapshot) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{name: getattr(snapshot, name) for name in ARRAYS})
        with self.engine.begin() as conn:
            conn.execute(snapshots.delete().where(snapshots.c.cluster == cluster))
            conn.execute(snapshots.insert().values(cluster=cluster, at=snapshot.at, arrays=buffer.getvalue()))

    def latest(self, cluster: str, partitions: bool = True) -> ModelSnapshot | None:
        """The cluster's snapshot, None before detect has written one; without `partitions`, its partition
        arrays are left empty, not even decompressed (all the cluster page needs is per broker)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(snapshots).where(snapshots.c.cluster == cluster)).first()
        if row is None:
            return None
        with np.load(io.BytesIO(row.arrays), allow_pickle=False) as arrays:
            return ModelSnapshot(at=row.at, **{name: arrays[name] if partitions or name not in NO_PARTITIONS
                                               else NO_PARTITIONS[name] for name in ARRAYS})
