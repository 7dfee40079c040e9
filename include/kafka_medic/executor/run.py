"""The CLI's entry points: run a whole execution, or stop the one running on a cluster.

`execute` chains the steps and always ends with the teardown (clear throttles, finish); an error
or Ctrl-C on the way stops the execution cleanly (rolls back what is in flight) rather than leaving
unthrottled moves behind. Only a hard kill skips that, and then re-running resumes.
"""

from __future__ import annotations

import time

from kafka_medic.errors import MedicError
from kafka_medic.executor import journal as j
from kafka_medic.executor.execution import Execution, Log, lock_key, read_for
from kafka_medic.executor.journal import Journal
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.outcome import Outcome
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.model import Proposal


def execute(config: ClusterConfig, proposal: Proposal, options: ExecutionOptions, journal: Journal | None = None,
            log: Log = print) -> dict:
    """Carry out a proposal from start to end (or resume it after a crash) and return the final report."""
    journal = journal or Journal()
    state = read_for(config, proposal)  # one read serves the start, the throttles and the first poll
    execution = Execution.start(config, proposal, options, journal, log, state)
    try:
        execution.set_throttles(state)
        if execution.execute_batches(state) == Outcome.DONE:
            execution.elect_leaders()
    except (Exception, KeyboardInterrupt) as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        if interrupted:
            journal.request_stop(execution.id)
        with execution.claimed():
            execution.abort("interrupted" if interrupted else f"executor error: {exc}")
    finally:
        execution.clear_throttles()
    return execution.finish()


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
