"""Sending a run's outcome (`kafka_medic.notify.outcomes`) to Slack and to the policy's Airflow notifiers.

In Slack it goes into the thread of the run's approval message when there was one (the approve task's
`slack_message` XCom), so the proposal, the decision and what came of it read as one conversation; a run
approved by policy, or never asked, posts to the channel. Each notifier the cluster's policy names
(`notifiers`: an Airflow notifier class by dotted path and its keyword arguments, e.g. the SMTP
provider's SmtpNotifier) is built and called with the task's context plus `kafka_medic_outcome` (the
message's fields, for templated subjects and bodies). Telling people never fails the run: a sender that
fails is logged as a warning and the others are still tried.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kafka_medic.airflow import ids
from kafka_medic.airflow.approval import slack_notifier
from kafka_medic.errors import MedicError
from kafka_medic.notify.outcomes import OutcomeMessage

log = logging.getLogger(__name__)


def send(message: OutcomeMessage, policy_notifiers: Iterable[Mapping[str, Any]], context: dict[str, Any] | None = None,
         thread: dict[str, str] | None = None) -> list[str]:
    """Tell Slack (in `thread`: {"channel", "ts"}) and every policy notifier; returns where it went."""
    told = []
    log.warning("%s", message.text)
    slack = slack_notifier()
    if slack is not None:
        extra = {"thread_ts": thread["ts"]} if thread and thread.get("ts") else {}
        try:
            slack.post({**message.slack(), **extra}, channel=(thread or {}).get("channel"))
            told.append("slack")
        except MedicError as exc:
            log.warning("outcome not sent to Slack: %s", exc)
    if policy_notifiers and context is None:
        from airflow.sdk import get_current_context

        context = dict(get_current_context())
    for spec in policy_notifiers:
        try:
            notifier = _notifier(spec)
            notifier({**(context or {}), "kafka_medic_outcome": message.as_dict()})
            told.append(spec["class"])
        except Exception as exc:  # noqa: BLE001 (any provider's failure: logged, the others still told)
            log.warning("outcome not sent through notifier %s: %s", spec["class"], f"{type(exc).__name__}: {exc}")
    return told


def approval_thread(ti) -> dict[str, str] | None:
    """The approval's Slack message of this run, when the approve task posted one."""
    return ti.xcom_pull(task_ids=ids.APPROVE, key=ids.SLACK_MESSAGE) or None


def _notifier(spec: Mapping[str, Any]):
    module, _, name = spec["class"].rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise MedicError(f"policy.notifiers: cannot load {spec['class']}: {exc}") from exc
    return cls(**spec.get("kwargs", {}))
