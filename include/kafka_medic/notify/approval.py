"""Which Airflow approval a Slack button answers: the task instance whose HITL detail gets the response.

It travels in the button's `value`, so the interactivity endpoint needs no state of its own; the
Slack request signature is what makes it trustworthy.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from kafka_medic.errors import MedicError

APPROVE, REJECT = "approve", "reject"
# The Airflow connection with the Slack settings, read by the approval gate and the interactivity endpoint.
SLACK_CONN_ID = "kafka_medic_slack"


@dataclass(frozen=True)
class ApprovalRef:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    def to_value(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_value(cls, value: str) -> ApprovalRef:
        try:
            data = json.loads(value)
            ref = cls(dag_id=str(data["dag_id"]), run_id=str(data["run_id"]), task_id=str(data["task_id"]),
                      map_index=int(data.get("map_index", -1)))
            if not -1 <= ref.map_index < 2**31:  # Airflow's map_index column is a 32-bit integer
                raise ValueError(f"map_index {ref.map_index} is not -1 or a 32-bit task index")
            return ref
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
            raise MedicError(f"button value is not an approval reference: {exc}") from exc
