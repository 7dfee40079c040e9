"""The executor: every write kafka-medic makes to a cluster goes through here.

It carries out a proposal as a careful operator would: a few moves per broker at a time, replication
throttled, progress logged, stoppable at any moment, throttles always put back. The steps are
methods of an `Execution`, each idempotent, for the Airflow DAG's tasks; `execute` chains them for the CLI.
"""

from kafka_medic.executor.batches import Batch, plan_batches
from kafka_medic.executor.execution import Execution
from kafka_medic.executor.journal import Journal
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.outcome import Outcome
from kafka_medic.executor.run import execute, stop
from kafka_medic.executor.tasks import Task, tasks_for

__all__ = [
    "Batch",
    "Execution",
    "ExecutionOptions",
    "Journal",
    "Outcome",
    "Task",
    "execute",
    "plan_batches",
    "stop",
    "tasks_for",
]
