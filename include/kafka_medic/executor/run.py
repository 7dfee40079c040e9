"""The entry points on a whole execution: run it, stop the one running on a cluster, or change its options.

`execute` chains the steps and always ends with the teardown (clear throttles, finish); an error
or Ctrl-C on the way stops the execution cleanly (rolls back what is in flight) rather than leaving
unthrottled moves behind. Only a hard kill skips that, and then re-running resumes.

`change_options` (the CLI's `execution set`, the console's form, the Cruise Control API's `admin`) only
writes the journal: the running executor reads its options back at every poll and puts a new throttle
on the brokers itself, so a change reaches the cluster within one poll interval whichever process runs it.
"""

from __future__ import annotations

import dataclasses
import time

from kafka_medic.errors import MedicError
from kafka_medic.executor import journal as j
from kafka_medic.executor.execution import Execution, Log, lock_key, read_for
from kafka_medic.executor.journal import Journal
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.outcome import Outcome
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.model import Proposal
from kafka_medic.units import MB


def execute(config: ClusterConfig, proposal: Proposal, options: ExecutionOptions, journal: Journal | None = None,
            log: Log = print) -> dict:
    """Carry out a proposal from start to end (or resume it after a crash) and return the final report."""
    journal = journal or Journal()
    state = read_for(config, proposal)  # one read serves the start, the throttles and the first poll
    execution = Execution.start(config, proposal, options, journal, log, state)
    settled = None  # read once the moves are done: serves the elections, the teardown and the report
    try:
        execution.set_throttles(state)
        if execution.execute_batches(state) == Outcome.DONE:
            settled = execution.settled_state()
            if execution.elect_leaders(settled).asked:
                settled = None  # leaders changed since: the report reads them again
    except (Exception, KeyboardInterrupt) as exc:
        settled = None  # the abort may change what it showed
        interrupted = isinstance(exc, KeyboardInterrupt)
        if interrupted:
            journal.request_stop(execution.id)
        with execution.claimed():
            execution.abort("interrupted" if interrupted else f"executor error: {exc}")
    finally:
        execution.clear_throttles(settled)
    return execution.finish(settled)


def stop(config: ClusterConfig, journal: Journal | None = None, wait_s: float = 120.0, log: Log = print) -> dict:
    """Stop the cluster's execution: ask its executor, or do the stop here when no executor is alive."""
    journal = journal or Journal()
    holder = journal.lock_holder(lock_key(config), config.name)
    if holder is None:
        raise MedicError(f"no execution is running on cluster {config.name!r}")
    journal.request_stop(holder.id)
    log(f"stop requested for {holder.describe()}")
    timeout = holder.options.heartbeat_timeout_s
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        record = journal.get(holder.id)
        if record.status != j.RUNNING:
            return record.report or {}
        if record.abandoned(timeout):
            break
        time.sleep(1)
    else:
        raise MedicError(f"{holder.describe()} did not stop within {wait_s:.0f}s")
    log("no executor is running it: rolling back and clearing throttles here")
    execution = Execution(config, journal, holder.id, log)
    with execution.claimed():
        execution.abort("stop requested")
    execution.clear_throttles()
    return execution.finish()


def change_options(cluster: str, throttle: float | None = None, concurrency: int | None = None,
                   execution_id: str | None = None, journal: Journal | None = None,
                   log: Log = print) -> ExecutionOptions:
    """Give the running execution of `cluster` (or `execution_id`) a new fixed throttle (bytes/s) and/or
    concurrency (moves per broker); returns its options as now recorded. A fixed throttle replaces auto."""
    if throttle is None and concurrency is None:
        raise MedicError("give a throttle, a concurrency or both")
    if concurrency is not None and concurrency < 1:
        raise MedicError(f"concurrency must be at least 1 move per broker, got {concurrency}")
    journal = journal or Journal()
    record = journal.get(execution_id) if execution_id else _running(journal, cluster)
    if record.cluster != cluster:
        raise MedicError(f"execution {record.id!r} is on cluster {record.cluster!r}, not {cluster!r}")
    if record.status != j.RUNNING:
        raise MedicError(f"{record.describe()} has already finished: {record.status}")
    changes: dict = {}
    if throttle is not None:
        changes |= {"throttle": throttle, "auto_throttle": False}
    if concurrency is not None:
        changes["concurrency"] = concurrency
    options = dataclasses.replace(record.options, **changes)  # checked as any options are
    journal.set_options(record.id, options)
    shown = [f"throttle {throttle / MB:g} MB/s" if throttle is not None else "",
             f"concurrency {concurrency} per broker" if concurrency is not None else ""]
    log(f"{record.describe()}: {', '.join(s for s in shown if s)} from its next poll")
    return options


def _running(journal: Journal, cluster: str) -> j.ExecutionRecord:
    ids = [execution_id for name, execution_id in journal.running() if name == cluster]
    if not ids:
        raise MedicError(f"no execution is running on cluster {cluster!r}")
    return journal.get(ids[0])
