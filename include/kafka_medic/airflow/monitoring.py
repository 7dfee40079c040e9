"""The scheduled DAGs' callables: sample load into the metrics store, detect anomalies and publish them.

Detection records every run in the detector's AnomalyLog, which deduplicates: an anomaly is alerted
once it has lasted its kind's alert threshold, and handed to its remediation DAG once, as an Airflow
Asset event whose extra carries the anomalies. Heal events go out as soon as the anomaly is seen (the
heal DAG's grace sensor waits the act threshold, and skips if the broker comes back); rebalance events
only once a goal violation has lasted its act threshold.

The metrics store and the detector (pandas) are imported inside the callables, to keep DAG parsing fast.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowSkipException

from kafka_medic.airflow.approval import slack_notifier
from kafka_medic.airflow.status import observed_model
from kafka_medic.airflow.steps import settings
from kafka_medic.errors import MedicError

if TYPE_CHECKING:
    from kafka_medic.metrics.sampling import RoundReport

log = logging.getLogger(__name__)
SAMPLE_INTERVAL_S = 15.0
RETENTION_S = 24 * 3600.0


def anomaly_asset(cluster: str, action: str) -> Asset:
    """The asset whose events start `action` (heal, rebalance) on `cluster`."""
    return Asset(name=f"kafka_medic__{cluster}__{action}", uri=f"kafka-medic://{cluster}/anomalies/{action}")


def sample(cluster: str, conn_id: str, every_minutes: int) -> dict[str, float]:
    """Sample every SAMPLE_INTERVAL_S until the next run is due, so the store has no gaps.

    Each round's time is logged as it ends; the return value (the task's XCom) holds the run's figures,
    so a round that grows towards the interval on a big cluster shows in the UI before samples go missing.
    """
    from kafka_medic.metrics.samplers import make_samplers
    from kafka_medic.metrics.sampling import round_figures, sample_loop
    from kafka_medic.metrics.store import MetricsStore

    s = settings(cluster, conn_id)
    samplers = make_samplers(s.config, jmx_urls=s.jmx_urls, prometheus=s.prometheus)
    rounds = max(1, int(every_minutes * 60 / SAMPLE_INTERVAL_S) - 2)
    stored: list[RoundReport] = []

    def ended(report: RoundReport) -> None:
        stored.append(report)
        log.info("%s", report.line())

    with MetricsStore() as store:
        sample_loop(store, cluster, samplers, SAMPLE_INTERVAL_S, rounds, RETENTION_S, ended)
    for report in stored:
        for source, error in report.errors.items():
            log.warning("%s sampler failed: %s", source, error)
    log.info("%d rounds, %d broker and %d partition samples", len(stored),
             sum(r.broker_samples for r in stored), sum(r.partition_samples for r in stored))
    return round_figures(stored)


def detect(cluster: str, conn_id: str, policy: dict) -> dict[str, list[dict]]:
    """Put back throttles left on brokers now back; find (with the policy's goals, thresholds and load
    windows), record and alert. Returns action -> anomalies (dicts) to hand to that action's DAG now."""
    from kafka_medic.detector import HEAL, AnomalyLog, find_anomalies, parse_rules
    from kafka_medic.executor import Journal
    from kafka_medic.executor.execution import clear_left_throttles
    from kafka_medic.goals import DEFAULT_GOALS
    from kafka_medic.kafka.reader import read_cluster_state
    from kafka_medic.remediation.policy import parse_policy

    s = settings(cluster, conn_id)
    rules = parse_rules(s.remediation)
    limits = parse_policy(policy)
    state = read_cluster_state(s.config)
    try:
        with Journal() as journal:
            clear_left_throttles(s.config, journal, state, log.info)
    except MedicError as exc:  # tidying up must not stop detection: the next run tries again
        log.warning("could not put back the throttles earlier executions left: %s", exc)
    found = find_anomalies(state, goals=list(limits.goals) or DEFAULT_GOALS, model=observed_model(s, state, limits),
                           thresholds=limits.thresholds(), cluster=cluster)
    with AnomalyLog() as anomalies:
        new, ongoing, resolved = anomalies.record(cluster, found)
        for a in new:
            log.info("new %s: %s", a.key, a.summary)
        for a in resolved:
            log.info("resolved %s (lasted %.0fs)", a.key, anomalies.duration(cluster, a.key) or 0)
        log.info("%d new, %d ongoing, %d resolved anomalies", len(new), len(ongoing), len(resolved))
        alert(cluster, anomalies, rules)
        # The heal DAG's grace sensor waits out the act threshold itself, so heal events go out at once.
        publish_rules = {k: replace(r, act_after_s=0) if r.action == HEAL else r for k, r in rules.items()}
        due = anomalies.due_actions(cluster, publish_rules)
    return {action: [a.to_dict() for a in found] for action, found in due.items()}


def alert(cluster: str, anomalies, rules) -> None:
    due = anomalies.due_alerts(cluster, rules)
    if not due:
        return
    for a in due:
        log.warning("ALERT %s: %s", a.key, a.summary)
    notifier = slack_notifier()
    if notifier is not None:
        notifier.post_anomalies(cluster, due, rules)
    anomalies.mark_alerted(cluster, [a.key for a in due])


def publish(cluster: str, action: str, due: dict[str, list[dict]], outlet_events) -> list[str]:
    """Emit the asset event that starts `action` for its due anomalies (skipped when there are none).

    In maintenance it skips saying so, and leaves the anomalies un-acted-on: once maintenance is off,
    the next detect run starts the remediation they still call for. So it does for the anomalies whose
    kind has self-healing switched off, starting the action for the others."""
    from kafka_medic.detector import AnomalyLog
    from kafka_medic.remediation.intent import IntentStore

    anomalies = due.get(action) or []
    if not anomalies:
        raise AirflowSkipException(f"no anomaly calls for {action}")
    with IntentStore() as intents:
        switch = intents.maintenance(cluster)
        off = intents.self_healing_off(cluster)
    if switch is not None:
        raise AirflowSkipException(f"{action} for {', '.join(a['key'] for a in anomalies)} not started: "
                                   f"{switch.skip_reason(cluster)}")
    held = [a for a in anomalies if a["kind"] in off]
    for a in held:
        log.info("%s for %s not started: %s", action, a["key"], off[a["kind"]].skip_reason())
    anomalies = [a for a in anomalies if a["kind"] not in off]
    if not anomalies:
        reasons = "; ".join(sorted({off[a["kind"]].skip_reason() for a in held}))
        raise AirflowSkipException(f"{action} for {', '.join(a['key'] for a in held)} not started: {reasons}")
    outlet_events[anomaly_asset(cluster, action)].extra = {"anomalies": anomalies}

    keys = [a["key"] for a in anomalies]
    with AnomalyLog() as log_:
        log_.mark_acted(cluster, keys)
    log.info("%s requested for %s", action, ", ".join(keys))
    return keys
