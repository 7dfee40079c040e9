"""The detector's status row: figures from a real state, live model and load model; latest flag and pruning."""

from __future__ import annotations

import json

import sqlalchemy as sa

from kafka_medic.detector.status import ClusterStatus, StatusLog, cluster_status, status
from kafka_medic.goals import DEFAULT_GOALS, check
from kafka_medic.live_model import build_live_model
from kafka_medic.optimizer.balancedness import balancedness

from .test_live_model import CAPACITY, WINDOWS, cluster_state, fill_store

RESOURCES = ("disk", "nw_in", "nw_out", "cpu")


def a_status(cluster: str, at: float, balance: float = 90.0) -> ClusterStatus:
    return ClusterStatus(
        cluster=cluster, at=at, brokers_alive=3, brokers_dead=1, under_replicated=2, offline=1, balancedness=balance,
        max_pct=dict.fromkeys(RESOURCES, 80.0), mean_pct=dict.fromkeys(RESOURCES, 40.0),
        windows=5, valid_windows=4, valid_partition_ratio=0.75,
    )


def test_the_status_holds_the_states_counts_the_models_spread_and_the_loads_completeness(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    fill_store(url, 400)
    capacity = tmp_path / "capacity.json"
    capacity.write_text(json.dumps({"default": CAPACITY}))
    state = cluster_state()
    model, loads = build_live_model(state, "c", url, WINDOWS, capacity)

    s = cluster_status("c", state, model, loads, now=1000.0)

    counts = (s.brokers_alive, s.brokers_dead, s.under_replicated, s.offline)
    assert (s.cluster, s.at, counts) == ("c", 1000.0, (2, 1, 0, 0))
    assert (s.windows, s.valid_windows, s.valid_partition_ratio) == (3, 3, 1.0)
    assert s.balancedness == balancedness(check(model, DEFAULT_GOALS))
    # 3 MB on brokers 1 and 2 (1000 MB each); the dead broker 3 keeps no data and does not count.
    assert (s.max_pct["disk"], s.mean_pct["disk"]) == (0.3, 0.3)
    # The leader (broker 1) carries the partition's 2 KB/s in of 5000 KB/s; broker 2 follows it.
    assert s.max_pct["nw_in"] == 0.04 and s.mean_pct["nw_in"] == 0.04


def test_the_latest_row_per_cluster_is_flagged_and_rows_past_the_kept_age_are_pruned(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with StatusLog(url) as log:
        for at in (0.0, 100.0, 200.0):
            log.record(a_status("a", at, balance=at / 10), keep_s=150.0)
        log.record(a_status("b", 50.0), keep_s=150.0)
        assert log.latest() == [a_status("a", 200.0, balance=20.0), a_status("b", 50.0)]
        with log.engine.connect() as conn:
            kept = conn.execute(sa.select(status.c.cluster, status.c.at, status.c.latest).order_by(status.c.id)).all()
    assert [tuple(row) for row in kept] == [("a", 100.0, False), ("a", 200.0, True), ("b", 50.0, True)]


def test_two_latest_rows_of_one_cluster_from_racing_writers_read_as_the_newest(tmp_path):
    with StatusLog(f"sqlite:///{tmp_path / 'store.db'}") as log:
        log.record(a_status("a", 100.0))
        with log.engine.begin() as conn:  # a second writer's row that did not see the first
            row = {c.name: v for c, v in zip(status.c, conn.execute(sa.select(status)).one(), strict=True)}
            conn.execute(status.insert().values({**row, "id": None, "at": 90.0}))
        assert [s.at for s in log.latest()] == [100.0]
