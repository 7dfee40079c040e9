"""The maintenance DAG's task: the cluster's maintenance switch and its remembered brokers, from a form.

The same store the CLI's `kafka-medic maintenance` and `kafka-medic brokers readd` write
(`kafka_medic.remediation.intent`), so either way every worker sees it at the next task.
"""

from __future__ import annotations

import logging
from typing import Any

from kafka_medic.remediation.intent import IntentStore

log = logging.getLogger(__name__)


def apply(cluster: str, conn_id: str, params: dict[str, Any], dag_run) -> dict:
    """Switch maintenance as the form says, re-add its brokers; the switch and the remembered brokers after."""
    by = f"{dag_run.dag_id}/{dag_run.run_id}"
    with IntentStore() as intents:
        if params.get("maintenance") in ("on", "off"):
            intents.set_maintenance(cluster, params["maintenance"] == "on", params.get("reason") or "", by)
            log.info("maintenance of %s switched %s", cluster, params["maintenance"])
        readd = [int(b) for b in params.get("readd_brokers") or []]
        if readd:
            had = intents.readd(cluster, readd)
            log.info("re-added brokers %s (remembered: %s)", readd, had or "none of them")
        switch, remembered = intents.maintenance(cluster), intents.active(cluster)
    for intent in remembered:
        log.info("broker %d remembered as %s since %s (by %s)", intent.broker, intent.intent, intent.since, intent.by)
    log.info("maintenance: %s", f"on since {switch.since} ({switch.reason})" if switch else "off")
    return {"maintenance": switch.as_dict() if switch else None, "brokers": [i.as_dict() for i in remembered]}
