"""Print (and with --kill, kill) the processes a CI run started and left running: each one's command
line or environment names the run's KAFKA_MEDIC_HOME (Airflow keeps it in its environment only).
The CI script and its children share that environment, so the caller's own family is left out; the
killing is done here because a pipeline's other commands would count as leftovers too."""

from __future__ import annotations

import os
import sys

import psutil


def own_family() -> set[int]:
    me = psutil.Process()
    return {me.pid, *(p.pid for p in me.parents()), *(p.pid for p in me.children(recursive=True))}


def started_under(home: str) -> list[psutil.Process]:
    family, found = own_family(), []
    for proc in psutil.process_iter():
        if proc.pid in family:
            continue
        try:
            if any(home in arg for arg in proc.cmdline()) or home in proc.environ().get("KAFKA_MEDIC_HOME", ""):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


if __name__ == "__main__":
    kill = "--kill" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "--kill"]
    for proc in started_under(args[0] if args else os.environ["KAFKA_MEDIC_HOME"]):
        try:
            print(proc.pid, " ".join(proc.cmdline())[:200])
            if kill:
                proc.kill()
        except psutil.Error:
            continue
