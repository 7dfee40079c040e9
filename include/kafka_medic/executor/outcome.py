"""How an executor step, or a whole execution, ended.

A `str` enum: its values are the strings the journal's rows, the reports, Airflow's XComs, the CLI's
output and its JSON have always carried, so they compare equal to those strings and serialise as them.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """`execute_batches` ends DONE (every move finished: leaders next), STOPPED or FAILED; an execution
    ends SUCCEEDED, STOPPED or FAILED (its status in the journal and in its report)."""

    DONE = "done"
    SUCCEEDED = "succeeded"
    STOPPED = "stopped"
    FAILED = "failed"
