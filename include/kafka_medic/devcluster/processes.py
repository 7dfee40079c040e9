"""Starting, recognising and stopping the JVMs of a dev cluster.

Nodes run in their own session so Ctrl-C in the shell that started them does not reach them.
A pid alone is not trusted: we also compare the process start time recorded at launch, so a pid
recycled by the OS after a crash is never taken for (or killed as) one of our nodes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path

import psutil

from kafka_medic.errors import MedicError


def java_executable() -> str:
    """`$JAVA_HOME/bin/java` if set, else `java` from PATH."""
    if java_home := os.environ.get("JAVA_HOME"):
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file():
            return str(candidate)
    java = shutil.which("java")
    if java is None:
        raise MedicError("java is not on PATH (and JAVA_HOME is unset); Kafka needs Java 17 or newer")
    return java


def spawn(argv: list[str], output: Path) -> subprocess.Popen:
    """Start `argv` detached from our terminal's session, stdout and stderr appended to `output`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    with open(output, "ab") as out:
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def started_at(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def find_process(pid: int | None, created: float | None) -> psutil.Process | None:
    """The live process with this pid and start time; None if it exited, is a zombie or is another one."""
    if pid is None:
        return None
    try:
        proc = psutil.Process(pid)
        same = created is None or abs(proc.create_time() - created) < 0.01
    except psutil.Error:
        return None
    return proc if same and _running(proc) else None


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Live processes whose command line contains `text` (a cluster's home: unique to it)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.pid != os.getpid() and any(text in arg for arg in cmdline):
            found.append(proc)
    return found


def stop(procs: list[psutil.Process], grace_s: float) -> None:
    """SIGTERM, give them `grace_s` seconds to shut down cleanly, then SIGKILL; return once all are gone."""
    for proc in procs:
        _signal(proc, kill=False)
    kill(_wait_gone(procs, grace_s))


def kill(procs: list[psutil.Process]) -> None:
    """SIGKILL and wait until the processes are gone."""
    for proc in procs:
        _signal(proc, kill=True)
    if alive := _wait_gone(procs, 10):
        raise MedicError(f"processes {[p.pid for p in alive]} survived SIGKILL")


def _wait_gone(procs: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Poll until none is running; returns those still running at the deadline."""
    deadline = time.monotonic() + timeout_s
    while (alive := [p for p in procs if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def _running(proc: psutil.Process) -> bool:
    """A zombie counts as gone: it holds no ports or files, only an exit code for its parent to read.

    The parent may be another process (the one that ran `up`), so we reap only our own children.
    """
    try:
        if proc.status() != psutil.STATUS_ZOMBIE:
            return proc.is_running()
        with contextlib.suppress(psutil.TimeoutExpired, ChildProcessError):
            proc.wait(0)
        return False
    except psutil.NoSuchProcess:
        return False


def _signal(proc: psutil.Process, kill: bool) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.kill() if kill else proc.terminate()
