"""The trigger form of the remediation DAGs: each kind's form fields (`kafka_medic.remediation.kinds`) as Params.

Airflow validates types and ranges when a run is triggered; the first task then checks the values against
the live cluster (`kafka_medic.remediation.request.validate_request`).
"""

from __future__ import annotations

from airflow.sdk import Param

from kafka_medic.remediation.kinds import KINDS, form_fields


def form(kind: str) -> dict[str, Param]:
    """Params of a manually triggered DAG of this kind (heal takes its work from the anomaly)."""
    return {f.name: Param(f.default, title=f.title, description=f.description, **f.schema)
            for f in form_fields(KINDS[kind])}
