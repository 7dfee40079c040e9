"""The stop DAG's task: stop the cluster's running execution from Airflow, as `kafka-medic stop` and the
console's Stop do (`executor.run.stop`: the executor rolls back the moves in flight and clears the throttles,
or this task does when no executor is alive).

It takes no pool slot: the cluster's one-slot pool is held by the very execution it stops.
"""

from __future__ import annotations

import logging

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from kafka_medic.airflow.hook import KafkaMedicHook
from kafka_medic.errors import MedicError

log = logging.getLogger(__name__)
STOP_WAIT_S = 180.0  # the executor notices a stop at its next poll, rolls back and clears throttles


def stop(cluster: str, conn_id: str) -> dict:
    """The stopped execution's report; skipped (with the reason) when nothing is running."""
    from kafka_medic.executor.journal import Journal
    from kafka_medic.executor.report import report_lines
    from kafka_medic.executor.run import stop as stop_running

    config = KafkaMedicHook(conn_id, cluster).get_settings().config
    with Journal() as journal:
        if not any(name == cluster for name, _ in journal.running()):
            raise AirflowSkipException(f"no execution is running on cluster {cluster!r}")
        try:
            report = stop_running(config, journal, wait_s=STOP_WAIT_S, log=log.info)
        except MedicError as exc:
            raise AirflowFailException(str(exc)) from exc
    for line in report_lines(report) if report else []:
        log.info("%s", line)
    return report
