"""The load model's minimal read (MetricsStore.model_rows) gives the model that reading every stored row gives.

The build reads whole rows only for partitions near a reassignment; of the others it reads each
replica's newest rows and SQL sums of the rows no partition_windows row holds. The reference here
reads every stored row of the range as the whole-row path (`EveryRowStore`: what the build read
before), on the same store; and a store that never aggregated gives the same model too. The rounds
move a replica, grow sizes every round, change a leader inside a window and reassign partitions near
a window's start, long before the windows (within MAX_COOLDOWN_S) and in the window in progress.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pandas as pd
import pytest

from kafka_medic.metrics.load_model import build_load_model
from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import WINDOW_SUMS, MetricsStore, ModelRows

from .test_metrics_load_model_equivalence import T0, as_json, assert_same_model
from .test_metrics_window_aggregates import urls  # noqa: F401  (the fixture: a raw and an aggregated store)

# The windows are [T0, T0 + 240), their cooldown from T0 - 60; NOW is in the window after them, whose
# raw rows the model reads for placement and sizes only.
WINDOW = dict(window_s=60.0, windows=4, min_valid_ratio=0.5, kafka_cluster_id="id-1")
NOW = T0 + 275  # the last round is at T0 + 260


class EveryRowStore(MetricsStore):
    """Hands the model every stored row of the range as whole rows, no sums beyond partition_windows."""

    def model_rows(self, cluster, since, until, windows, kafka_cluster_id=None) -> ModelRows:
        every = self.partition_samples(cluster, since, until, kafka_cluster_id)
        return ModelRows(every, every.iloc[:0], pd.DataFrame({c: pd.Series(dtype="float64") for c in WINDOW_SUMS}))


def placed(topic: str, p: int, ts: float) -> tuple[list[int], int]:
    """(replicas, leader) of a partition at ts: a-1's replica on broker 3 moves to 4 at T0 + 30 (inside a
    window); a-2's leader changes from 3 to 1 at T0 + 100."""
    replicas = [1 + p % 3, 1 + (p + 1) % 3]
    if (topic, p) == ("a", 1) and ts >= T0 + 30:
        replicas = [2, 4]
    leader = replicas[0]
    if (topic, p) == ("a", 2) and ts >= T0 + 100:
        leader = replicas[1]
    return replicas, leader


# Partitions reassigning over [from, to]: a-0 just before the first window (its cooldown reaches
# into it), b-0 five hours before (near for aggregation, beyond the build's cooldown), b-1 in the
# window in progress (after the windows), a-3 from the start of the last window on (its newest valid
# size is in the window before, aggregated with sums before the reassignment).
REASSIGNING = {
    ("a", 0): (T0 - 40, T0 - 10),
    ("b", 0): (T0 - 18000, T0 - 18000),
    ("b", 1): (T0 + 245, T0 + 265),
    ("a", 3): (T0 + 180, NOW),
}


def rounds(store: MetricsStore, after_round=lambda ts: None) -> None:
    """Rounds every 10 s over [T0 - 300, NOW), plus one round at T0 - 18000 (b-0's reassignment)."""
    for ts in [T0 - 18000, *(T0 - 300 + 10 * i for i in range(int((NOW - T0 + 300) / 10)))]:
        rows = []
        for topic, p in [("a", 0), ("a", 1), ("a", 2), ("a", 3), ("b", 0), ("b", 1)]:
            replicas, leader = placed(topic, p, ts)
            since, until = REASSIGNING.get((topic, p), (0.0, -1.0))
            flag = since <= ts <= until
            for broker in replicas:
                lead = broker == leader
                rows.append(PartitionSample(
                    ts=ts, topic=topic, partition=p, broker=broker, source="admin", leader=lead,
                    reassigning=flag, size=1e6 * (p + 1) + 100 * (ts - T0) + broker,  # grows every round
                    bytes_in=1e3 * (p + 1) * (5 if flag else 1) * (1 + (ts % 30) / 100) if lead else None,
                    bytes_out=2e3 * (p + 1) if lead else None,
                    messages_in=10.0 * (p + 1) if lead and ts % 20 else None,  # some rated rows lack messages
                ))  # fmt: skip
        store.add_partition_samples("c", rows, "id-1")
        brokers = [BrokerSample(ts=ts, broker=b, source="admin", cpu=10.0 * b) for b in (1, 2, 3, 4)]
        store.add_broker_samples("c", brokers, "id-1")
        after_round(ts)


@pytest.mark.parametrize("base", [60.0, 30.0])
def test_the_minimal_read_gives_the_model_of_every_row(urls, base):  # noqa: F811
    raw_url, aggregated_url = urls
    with (
        MetricsStore(raw_url) as raw,
        MetricsStore(aggregated_url, aggregate_s=base, aggregate_after_s=0) as store,
    ):
        rounds(raw)
        rounds(store, lambda ts: store.aggregate("c", ts, "id-1"))
        model = as_json(build_load_model(store, "c", now=NOW, **WINDOW))
        from_raw = as_json(build_load_model(raw, "c", now=NOW, **WINDOW))
        read = store.model_rows("c", T0 - 60, NOW, [T0 + 60 * i for i in range(5)], "id-1")  # as the build does
        sums = store.partition_windows("c", T0 - 60, NOW, "id-1")
        summed = set(zip(sums.start, sums.topic, sums.partition, strict=True))
        stored_rows = store.partition_samples("c", T0 - 60, NOW, "id-1")
        near = stored_rows[
            (stored_rows.topic + "/" + stored_rows.partition.astype(str)).isin(["a/0", "a/3", "b/0", "b/1"])
        ]
        counted = near[[(ts // base * base, t, p) not in summed
                        for ts, t, p in zip(near.ts, near.topic, near.partition, strict=True)]]  # fmt: skip
        counted = counted[(counted.ts < T0 + 240) | (counted.ts == T0 + 260) | counted.reassigning]  # see the last test
    with EveryRowStore(aggregated_url) as every:
        reference = as_json(build_load_model(every, "c", now=NOW, **WINDOW))
        stored = len(every.partition_samples("c", T0 - 60, NOW, "id-1"))

    assert model["replicas"]["a/1"] == [2, 4] and model["leaders"]["a/2"] == 1  # the move, the new leader
    assert model["incomplete"] == {p: "reassigning or cooling down in 1 of 4 windows" for p in ("a/0", "a/3")}
    assert model["partition_load"]["a/1"]["disk"] == pytest.approx((2e6 + 100 * 260 + 2) / 2**20)  # newest size
    assert set(read.whole.topic + "/" + read.whole.partition.astype(str)) == {"a/0", "a/3", "b/0", "b/1"}
    # of those near a reassignment, the rows no sums hold: b-1's kept rows before its reassignment are not read
    assert as_tuples(read.whole) == as_tuples(counted) and len(counted) < len(near)
    assert len(read.newest) < stored - len(read.whole)  # of the other partitions, the newest rows of each kind
    assert_same_model(model, reference)
    assert_same_model(model, from_raw)


def newest_of_each_kind(rows: pd.DataFrame) -> set[tuple]:
    """Each replica's newest row, newest leader row and newest leader and follower rows with a size, as
    tuples: what the build needs of the partitions not near a reassignment, found by sorting every row."""
    rows = rows.sort_values("ts")
    replica = ["topic", "partition", "broker", "source"]
    sized = rows["size"].notna()
    kinds = [rows, rows[rows.leader], rows[rows.leader & sized], rows[~rows.leader & sized]]
    return as_tuples(pd.concat([kind.groupby(replica).tail(1) for kind in kinds]))


def as_tuples(rows: pd.DataFrame) -> set[tuple]:
    """The rows as a set of tuples, a missing value as None (NaN is unequal to itself)."""
    return set(rows.astype(object).where(rows.notna(), None).itertuples(index=False, name=None))


def test_the_latest_rows_are_the_newest_that_sorting_every_stored_row_gives(urls):  # noqa: F811
    """The build up to now reads each replica's newest rows from partition_samples_latest and the raw rows
    (of the rows sums count: those near a reassignment come whole): with older rows beside them, but the
    newest of each kind the model takes from what it reads are those of every stored row.
    After the rounds, a bootstrap's history older than all of them is added and aggregated last (it must
    not replace newer latest rows), with a replica only the history has; a read that ends before the
    aggregated span does not use the latest rows; then the windows before the
    history's end are pruned, latest rows included."""
    _, url = urls
    # a-1's replica on broker 3 (moved away at T0 + 30: its newest rows are all aggregated) and one replica
    # only the history has
    history = [PartitionSample(ts=T0 - 30000 + 10 * i, topic=topic, partition=p, broker=broker, source="admin",
                               leader=topic == "old", reassigning=False, size=5.0 + i,
                               bytes_in=1.0 if topic == "old" else None, bytes_out=None, messages_in=None)
               for i in range(6) for topic, p, broker in [("a", 1, 3), ("old", 3, 1)]]  # fmt: skip
    with MetricsStore(url, aggregate_s=30.0, aggregate_after_s=0) as store:
        rounds(store, lambda ts: store.aggregate("c", ts, "id-1"))
        store.add_history("c", "id-1", [("id-1", [], history)], since=T0 - 30000)
        bounds = [T0 + 60 * i for i in range(5)]

        def read_and_every_row(since: float, until: float = NOW) -> tuple[set[tuple], set[tuple]]:
            read = store.model_rows("c", since, until, bounds, "id-1")
            every = store.partition_samples("c", since, until, "id-1")
            assert as_tuples(read.newest) <= as_tuples(every)  # stored rows
            return newest_of_each_kind(pd.concat([read.whole, read.newest])), newest_of_each_kind(every)

        newest, reference = read_and_every_row(T0 - 40000)
        assert newest == reference
        assert ("old", 3, 1) in {row[1:4] for row in newest}  # the history's replica
        newest, reference = read_and_every_row(T0 - 40000, until=T0 - 100)  # not up to now: every row sorted
        assert newest == reference
        assert len(store.model_rows("c", T0 - 40000, T0 - 100, bounds, "id-1").newest) < len(
            store.partition_samples("c", T0 - 40000, NOW, "id-1")) / 4
        assert store.prune(T0 - 29970) > 0  # the history's first window
        newest, reference = read_and_every_row(T0 - 40000)
        assert newest == reference


def test_of_the_window_in_progress_the_build_reads_its_newest_round_and_its_reassigning_rows(urls):  # noqa: F811
    """A build during a base window reads of it one round, not every round so far (up to an hour of them);
    b-1's reassigning rows come too, for the exclusions of the rows after them."""
    _, url = urls
    with MetricsStore(url, aggregate_s=60.0, aggregate_after_s=0) as store:
        rounds(store, lambda ts: store.aggregate("c", ts, "id-1"))
        read = store.model_rows("c", T0 - 60, NOW, [T0 + 60 * i for i in range(5)], "id-1")
        stored = store.partition_samples("c", T0 + 240, NOW, "id-1")
    rows = pd.concat([read.whole, read.newest])
    in_progress = rows[rows.ts >= T0 + 240]
    assert set(stored.ts) == {T0 + 240, T0 + 250, T0 + 260}
    assert set(in_progress.ts[~in_progress.reassigning]) == {T0 + 260}
    assert set(in_progress.ts[in_progress.reassigning & (in_progress.topic == "b")]) == {T0 + 250, T0 + 260}  # b-1's
    assert set(in_progress.ts[in_progress.reassigning]) == {T0 + 240, T0 + 250, T0 + 260}  # a-3's
    assert len(in_progress[in_progress.ts == T0 + 260].drop_duplicates()) == len(stored[stored.ts == T0 + 260])
