"""The executor: every write kafka-medic makes to a cluster goes through here.

It carries out a proposal as a careful operator would: a few moves per broker at a time, replication
throttled, progress logged, stoppable at any moment, throttles always put back. The steps are
separate idempotent functions for the Airflow DAG; `execute` chains them for the CLI.
"""

from kafka_medic.executor.batches import Batch, plan_batches
from kafka_medic.executor.journal import Journal
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.run import execute, stop
from kafka_medic.executor.steps import (
    clear_throttles,
    elect_leaders,
    execute_batches,
    finish,
    set_throttles,
    start_execution,
    verify,
)
from kafka_medic.executor.tasks import Task, tasks_for

__all__ = [
    "Batch",
    "ExecutionOptions",
    "Journal",
    "Task",
    "clear_throttles",
    "elect_leaders",
    "execute",
    "execute_batches",
    "finish",
    "plan_batches",
    "set_throttles",
    "start_execution",
    "stop",
    "tasks_for",
    "verify",
]
