"""The metrics store on SQLite and on a real PostgreSQL 15 server started for the test session."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from kafka_medic.metrics.sample import BrokerSample, PartitionSample
from kafka_medic.metrics.store import MetricsStore
from kafka_medic.storage import default_store_url


def _pg_binary(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    path = str(found[-1]) if found else shutil.which(name)
    if not path:
        pytest.skip(f"PostgreSQL's {name} is not installed (Debian package postgresql)")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """initdb a temporary directory and run postgres on a free loopback port as a plain process.

    PostgreSQL refuses to run as root, so as root it runs as the `postgres` user, which may then
    traverse (not list) $KAFKA_MEDIC_HOME. The data directory lives there when it is set (CI finds
    leftover processes by that path), else in /tmp: pytest's own directories are private.
    """
    as_root = os.geteuid() == 0
    # Its own group too: keeping root's would make the directories' group bits, not others', apply.
    run_as = {"user": "postgres", "group": "postgres", "extra_groups": []} if as_root else {}
    home = os.environ.get("KAFKA_MEDIC_HOME")
    data = Path(tempfile.mkdtemp(prefix="kafka-medic-postgres.", dir=home))
    if as_root:
        entry = pwd.getpwnam("postgres")
        os.chown(data, entry.pw_uid, entry.pw_gid)
        if home:
            Path(home).chmod(Path(home).stat().st_mode | stat.S_IXOTH)
    subprocess.run(
        [_pg_binary("initdb"), "-D", str(data / "db"), "-U", "medic", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
        **run_as,
    )
    port = _free_port()
    log = open(data / "postgres.log", "wb")  # noqa: SIM115 - closed after the server stops
    server = subprocess.Popen(
        [
            _pg_binary("postgres"),
            "-D",
            str(data / "db"),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "fsync=off",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        **run_as,
    )
    url = f"postgresql://medic@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(f"host=127.0.0.1 port={port} user=medic dbname=postgres").close()
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((data / "postgres.log").read_text()) from None
                time.sleep(0.2)
        yield url
    finally:
        server.send_signal(signal.SIGINT)  # fast shutdown
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'metrics.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS broker_samples, partition_samples, clusters")
    with MetricsStore(url, batch_size=7) as store:
        yield store


def _partition_rows(ts: float, broker: int = 1, topics=("orders",), partitions: int = 3):
    return [
        PartitionSample(
            ts=ts,
            topic=t,
            partition=p,
            broker=broker,
            source="admin",
            leader=True,
            size=1000.0 * p,
            bytes_in=10.0,
            bytes_out=20.0,
            messages_in=1.0,
        )
        for t in topics
        for p in range(partitions)
    ]


def test_time_range_per_cluster(store):
    for ts in (100.0, 160.0, 220.0):
        assert store.add_partition_samples("a", _partition_rows(ts)) == 3
        store.add_partition_samples("b", _partition_rows(ts, broker=2))
        store.add_broker_samples("a", [BrokerSample(ts=ts, broker=1, source="jmx", cpu=12.5, bytes_in=30.0)])

    frame = store.partition_samples("a", since=100.0, until=220.0)
    assert sorted(frame.ts.unique()) == [100.0, 160.0]
    assert set(frame.broker) == {1}
    assert frame.loc[frame.partition == 2, "size"].tolist() == [2000.0, 2000.0]
    assert frame.bytes_in.dtype == "float64"
    brokers = store.broker_samples("a", 0, 1000)
    assert brokers.cpu.tolist() == [12.5] * 3
    assert brokers.bytes_out.isna().all()
    assert brokers.alive.tolist() == [True] * 3
    assert store.clusters() == ["a", "b"]
    assert store.partition_samples("unknown", 0, 1000).empty


def test_batched_insert_of_many_rows(store):
    rows = _partition_rows(1.0, topics=[f"t{i}" for i in range(20)], partitions=10)
    assert store.add_partition_samples("a", rows) == 200
    assert len(store.partition_samples("a", 0, 2)) == 200


def test_latest_sample_per_replica(store):
    store.add_partition_samples("a", _partition_rows(100.0, broker=1) + _partition_rows(100.0, broker=2))
    store.add_partition_samples("a", _partition_rows(200.0, broker=2))
    store.add_partition_samples("a", _partition_rows(300.0, broker=2))
    latest = store.latest_partition_samples("a", since=0, until=300.0)
    assert sorted(zip(latest.broker, latest.ts, strict=True)) == [(1, 100.0)] * 3 + [(2, 200.0)] * 3


def test_prune_keeps_recent_samples_of_every_cluster(store):
    for cluster in ("a", "b"):
        for ts in (100.0, 200.0, 300.0):
            store.add_partition_samples(cluster, _partition_rows(ts))
            store.add_broker_samples(cluster, [BrokerSample(ts=ts, broker=1, source="jmx", alive=False)])
    assert store.prune(before=250.0) == 2 * (2 * 3 + 2)
    for cluster in ("a", "b"):
        assert store.partition_samples(cluster, 0, 1000).ts.unique().tolist() == [300.0]
        assert store.broker_samples(cluster, 0, 1000).alive.tolist() == [False]


def test_default_url_is_sqlite_in_medic_home(monkeypatch, tmp_path):
    monkeypatch.delenv("KAFKA_MEDIC_STORE_URL", raising=False)
    monkeypatch.setenv("KAFKA_MEDIC_HOME", str(tmp_path / "home"))
    assert default_store_url() == f"sqlite:///{tmp_path}/home/metrics.db"
    with MetricsStore() as store:
        store.add_broker_samples("dev", [BrokerSample(ts=1.0, broker=1, source="jmx")])
    assert (tmp_path / "home" / "metrics.db").exists()
    monkeypatch.setenv("KAFKA_MEDIC_STORE_URL", "sqlite:///elsewhere.db")
    assert default_store_url() == "sqlite:///elsewhere.db"
