"""The heal DAG's first task: wait until the failure has outlasted its grace period, or skip if it is gone.

Deferrable, so a broker down for five minutes holds no worker slot: between checks the task waits in
Airflow's triggerer. A broker restarted within the grace period (a routine restart, a crash the service
manager fixed) ends the run as skipped and nothing moves, as Cruise Control's self-healing threshold does.
It also ends the anomaly's episode in the anomaly log: otherwise a broker that dies again before the next
detect run would continue the old, already-acted-on episode, and no heal would ever start for it.

A heal skips while the cluster is in maintenance, however it was started; its request carries the cluster
policy's throttle, concurrency, goals and thresholds, as a heal has no form.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator

from kafka_medic.airflow.steps import pause_in_maintenance, settings, skip
from kafka_medic.remediation.policy import ClusterPolicy, parse_policy
from kafka_medic.remediation.request import validate_request

RECHECK_S = 15.0


class FailureGraceSensor(BaseOperator):
    """Returns the heal request once every still-present anomaly has lasted its kind's act threshold."""

    def __init__(self, *, cluster: str, conn_id: str, policy: dict, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cluster = cluster
        self.conn_id = conn_id
        self.policy = policy

    def execute(self, context) -> dict:
        pause_in_maintenance(self.cluster, context["ti"], context["dag_run"], by_hand_goes_ahead=False)
        return self.check(context)

    def check(self, context, event: Any = None, checked_since: dict[str, float] | None = None) -> dict:
        from kafka_medic.detector import HEAL, AnomalyLog, find_anomalies, parse_rules
        from kafka_medic.kafka.reader import read_cluster_state

        s = settings(self.cluster, self.conn_id)
        rules = parse_rules(s.remediation)
        now = time.time()
        state = read_cluster_state(s.config)
        current = {a.key: a for a in find_anomalies(state, cluster=self.cluster) if rules[a.kind].action == HEAL}
        with AnomalyLog() as anomalies:
            logged = {a.key: a.first_seen for a in anomalies.active(self.cluster)}
        reported_by_detect = self_healing(self.cluster, triggering_anomalies(context), context["ti"])
        reported = reported_by_detect or list(current.values())
        started = failure_starts(logged, reported, checked_since or {}, now)
        if not reported:
            skip(context["ti"], "nothing to heal: no broker or disk failure now")
        gone = [a.key for a in reported if a.key not in current]
        still = [current[a.key] for a in reported if a.key in current]
        with AnomalyLog() as anomalies:  # a broker that dies again before detect runs is a new failure
            anomalies.resolve(self.cluster, gone, now)
        if not still:
            lasted = ", ".join(f"{key} after {now - started[key]:.0f}s" for key in gone)
            skip(context["ti"], f"recovered within the grace period ({lasted}): nothing to heal")
        for key in gone:
            self.log.info("%s recovered within its grace period", key)
        due_at = max(started[a.key] + rules[a.kind].act_after_s for a in still)
        if now < due_at:
            self.log.info("%s still present; healing in %.0fs unless it recovers",
                          ", ".join(a.key for a in still), due_at - now)
            moment = datetime.fromtimestamp(min(due_at, now + RECHECK_S), UTC)
            self.defer(trigger=DateTimeTrigger(moment=moment), method_name="check",
                       kwargs={"checked_since": {a.key: started[a.key] for a in still}},
                       timeout=timedelta(seconds=due_at - now + 3600))
        still = within_attempts(self.cluster, still, parse_policy(self.policy), context, asked=bool(reported_by_detect))
        reason = "; ".join(f"{a.summary} (for {now - started[a.key]:.0f}s)" for a in still)
        self.log.info("healing: %s", reason)
        brokers = sorted({b for a in still for b in a.brokers})
        request = validate_request(HEAL, parse_policy(self.policy).request_defaults(), state)
        return replace(request, brokers=brokers, reason=reason, anomalies=[a.key for a in still]).as_dict()


def failure_starts(logged: dict[str, float], reported: list, checked_since: dict[str, float],
                   now: float) -> dict[str, float]:
    """When each reported failure began: the earliest of its anomaly-log episode, the report that started the
    run and this sensor's own earlier checks (carried across deferrals). Without the last, a heal started by
    hand for a failure no detect run has logged yet would restart its grace period at every check and never
    heal."""
    return {a.key: min(logged.get(a.key, now), a.first_seen, checked_since.get(a.key, now)) for a in reported}


def self_healing(cluster: str, reported: list, ti) -> list:
    """The detector's anomalies whose kind may still heal itself: self-healing switched off after the detect
    run asked for this heal skips it, saying why (a heal started by hand reports none, and goes ahead)."""
    from kafka_medic.remediation.intent import IntentStore

    if not reported:
        return reported
    with IntentStore() as intents:
        off = intents.self_healing_off(cluster)
    kept = [a for a in reported if a.kind not in off]
    if not kept:
        skip(ti, "; ".join(sorted({off[a.kind].skip_reason() for a in reported})) + ": nothing to heal")
    return kept


def within_attempts(cluster: str, still: list, policy: ClusterPolicy, context, asked: bool) -> list:
    """The anomalies this heal may still remediate under the policy's max_attempts per period; the attempt is
    recorded for them. Those past it are alerted (Slack, the policy's notifiers), recorded as held back in the
    anomaly log, and left out; when none is left the run skips saying why. A heal started by hand (`asked`
    False) goes ahead, as with self-healing switched off: a person chose to try again."""
    from kafka_medic.airflow import outcomes
    from kafka_medic.detector import HEAL, AnomalyLog
    from kafka_medic.notify.outcomes import held_back

    dag_run = context.get("dag_run")
    run = f"{dag_run.dag_id}/{dag_run.run_id}" if dag_run is not None else "unknown run"
    period_s, why = policy.attempt_period_hours * 3600, ""
    with AnomalyLog() as anomalies:
        tried = anomalies.attempts(cluster, [a.key for a in still], time.time() - period_s)
        limit = policy.max_attempts if asked and policy.max_attempts is not None else None
        spent = [a for a in still if limit is not None and tried.get(a.key, 0) >= limit]
        going = [a for a in still if a not in spent]
        if spent:
            why = (f"{', '.join(a.key for a in spent)}: {policy.max_attempts} remediation attempts in "
                   f"{policy.attempt_period_hours:g} h already (policy max_attempts), alerting only")
            anomalies.record_attempts(cluster, [a.key for a in spent], HEAL, run, held_back=why)
            outcomes.send(held_back(cluster, HEAL, why, run), policy.notifiers, dict(context))
        anomalies.record_attempts(cluster, [a.key for a in going], HEAL, run)
    if not going:
        skip(context["ti"], why)
    return going


def triggering_anomalies(context) -> list:
    """The anomalies the detect DAG put in the asset events that started this run (none when manual)."""
    from kafka_medic.detector import Anomaly

    anomalies: dict[str, Anomaly] = {}
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:
            for data in (event.extra or {}).get("anomalies", []):
                anomaly = Anomaly.from_dict(data)
                anomalies.setdefault(anomaly.key, anomaly)
    return list(anomalies.values())
