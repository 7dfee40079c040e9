"""The trigger form of the remediation DAGs: each kind's form fields (`kafka_medic.remediation.kinds`) as Params.

Airflow validates types and ranges when a run is triggered; the first task then checks the values against
the live cluster (`kafka_medic.remediation.request.validate_request`).
"""

from __future__ import annotations

from airflow.sdk import Param

from kafka_medic.remediation.kinds import KINDS, form_fields
from kafka_medic.remediation.policy import ClusterPolicy

MAINTENANCE_CHOICES = ("unchanged", "on", "off")


def form(kind: str, policy: ClusterPolicy | None = None) -> dict[str, Param]:
    """Params of a manually triggered DAG of this kind (heal takes its work from the anomaly); the cluster
    policy's values are the defaults, which a scheduled run (no form) then uses as they are."""
    defaults = (policy or ClusterPolicy()).request_defaults()
    return {f.name: Param(defaults.get(f.name, f.default), title=f.title, description=f.description, **f.schema)
            for f in form_fields(KINDS[kind])}


def maintenance_form() -> dict[str, Param]:
    return {
        "maintenance": Param("unchanged", title="Maintenance", enum=list(MAINTENANCE_CHOICES),
                             description="on: scheduled, asset- and detector-started runs skip until off"),
        "reason": Param("", title="Reason", type="string", description="shown in every run maintenance skips"),
        "readd_brokers": Param([], title="Re-add brokers", type="array", items={"type": "integer"},
                               description="brokers remembered as decommissioned or demoted that plans may use again"),
    }
