"""User tasks: a request that takes longer than the client should wait is answered 202 and finished later.

Cruise Control runs every request as a user task: it waits up to a bound for the answer, else it returns 202
with the progress so far, a `User-Task-ID` header and a session cookie; the client repeats the request (same
session, or the header) until it gets the result. `cccli` does exactly that. So here: in-process work (reading
the cluster, planning a dry run) runs in a small thread pool, found again by its id or by (session, request).

A request that triggers a DAG run needs none of this: the DAG run id is its User-Task-ID, and the run itself
is the task (`kafka_medic.airflow.ccapi` lists both kinds in `user_tasks`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kafka_medic.ccapi import JSON_VERSION

ACTIVE, COMPLETED, COMPLETED_WITH_ERROR = "Active", "Completed", "CompletedWithError"
KEEP_TASKS = 200  # finished tasks kept for user_tasks and late pollers; the oldest go first
WORKERS = 2  # planning is CPU-bound: the api-server should keep serving the UI meanwhile


@dataclass
class UserTask:
    id: str
    endpoint: str
    request_url: str
    client: str
    started_ms: int
    future: Future = field(repr=False)
    step: str = "queued"  # what it is doing now, shown in the 202's progress
    delivered: bool = False  # its result was sent: the session's next identical request is a new task

    @property
    def status(self) -> str:
        if not self.future.done():
            return ACTIVE
        return COMPLETED_WITH_ERROR if self.future.exception() is not None else COMPLETED

    def progress(self) -> dict[str, Any]:
        """Cruise Control's ProgressResult: one operation with its current step."""
        elapsed = int(time.time() * 1000) - self.started_ms
        step = {"step": self.step, "description": f"{self.endpoint}: {self.step}", "time-in-ms": elapsed,
                "completionPercentage": 0.0}
        return {"version": JSON_VERSION, "progress": [
            {"version": JSON_VERSION, "operation": self.endpoint, "operationProgress": [step]}]}


class UserTasks:
    """The api-server's in-process user tasks, by id and by (session, request)."""

    def __init__(self, workers: int = WORKERS, keep: int = KEEP_TASKS) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ccapi")
        self._tasks: OrderedDict[str, UserTask] = OrderedDict()
        self._by_request: dict[tuple[str, str], str] = {}
        self._keep = keep
        self._lock = threading.Lock()

    def submit(self, session: str, endpoint: str, request_url: str, client: str,
               work: Callable[[UserTask], Any]) -> UserTask:
        """The session's task for this request: the one not yet answered with its result (a client polling),
        else a new one running `work(task)` (which may set `task.step`)."""
        with self._lock:
            known = self._tasks.get(self._by_request.get((session, request_url), ""))
            if known is not None and not known.delivered:
                return known
            task = UserTask(uuid.uuid4().hex, endpoint, request_url, client, int(time.time() * 1000), Future())
            task.future = self._pool.submit(work, task)
            self._tasks[task.id] = task
            self._by_request[(session, request_url)] = task.id
            while len(self._tasks) > self._keep:
                self._tasks.popitem(last=False)
            return task

    def get(self, task_id: str) -> UserTask | None:
        with self._lock:
            return self._tasks.get(task_id)

    def all(self) -> list[UserTask]:
        with self._lock:
            return list(self._tasks.values())


def wait(task: UserTask, block_s: float) -> bool:
    """Whether the task finished within `block_s` seconds."""
    try:
        task.future.exception(timeout=block_s)
    except TimeoutError:
        return False
    return True
