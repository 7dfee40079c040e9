"""A real PostgreSQL server for tests, as a plain process on a free loopback port: started, stopped,
paused and started again on the same data and port (the fault suite stops it under a running sampler).

PostgreSQL refuses to run as root, so as root it runs as the `postgres` user, which may then traverse
(not list) $KAFKA_MEDIC_HOME. The data directory lives there when it is set (CI finds leftover
processes by that path), else in /tmp: pytest's own directories are private.
"""

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


def _pg_binary(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    path = str(found[-1]) if found else shutil.which(name)
    assert path, f"PostgreSQL's {name} is missing: `make system-packages` installs it (Debian package postgresql)"
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """initdb a temporary directory; `start()` runs postgres on it, `stop()` shuts it down (fast, or
    `immediate` as a crash), `pause()`/`resume()` SIGSTOP/SIGCONT it; `close()` also deletes the data."""

    def __init__(self) -> None:
        as_root = os.geteuid() == 0
        # Its own group too: keeping root's would make the directories' group bits, not others', apply.
        self._run_as: dict = {"user": "postgres", "group": "postgres", "extra_groups": []} if as_root else {}
        home = os.environ.get("KAFKA_MEDIC_HOME")
        self.data = Path(tempfile.mkdtemp(prefix="kafka-medic-postgres.", dir=home))
        if as_root:
            entry = pwd.getpwnam("postgres")
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
            if home:
                Path(home).chmod(Path(home).stat().st_mode | stat.S_IXOTH)
        subprocess.run([_pg_binary("initdb"), "-D", str(self.data / "db"), "-U", "medic", "--auth=trust",
                        "--no-sync"], check=True, capture_output=True, **self._run_as)
        self.port = _free_port()
        self.url = f"postgresql://medic@127.0.0.1:{self.port}/postgres"
        self._server: subprocess.Popen | None = None
        self._log = open(self.data / "postgres.log", "ab")  # noqa: SIM115 - closed by close()

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> PostgresServer:
        """Run the server and return once it accepts a connection."""
        self._server = subprocess.Popen(
            [_pg_binary("postgres"), "-D", str(self.data / "db"), "-p", str(self.port), "-c",
             "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "fsync=off"],
            stdout=self._log, stderr=subprocess.STDOUT, **self._run_as)
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(f"host=127.0.0.1 port={self.port} user=medic dbname=postgres").close()
                return self
            except psycopg.OperationalError:
                if self._server.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError((self.data / "postgres.log").read_text()) from None
                time.sleep(0.2)

    def stop(self, immediate: bool = False) -> None:
        """Fast shutdown (SIGINT: sessions are ended, the server exits cleanly); `immediate` (SIGQUIT)
        exits at once as a crash does, recovering at the next start."""
        if self._server is None:
            return
        self.resume()
        self._server.send_signal(signal.SIGQUIT if immediate else signal.SIGINT)
        try:
            self._server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._server.kill()
            self._server.wait()
        self._server = None

    def pause(self) -> None:
        """SIGSTOP the postmaster: connections are accepted by the kernel and never answered."""
        assert self._server is not None
        self._server.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._server is not None:
            self._server.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop()
        self._log.close()
        shutil.rmtree(self.data, ignore_errors=True)
