"""Fixtures shared by the unit and integration tests."""

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
