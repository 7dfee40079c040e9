"""What people are told when an unattended run ends badly or finishes: failed, stalled, finished, held back.

The runs nobody watches (the asset-started heal, the nightly rebalance) are the ones whose end someone
must hear about; the approval message said what was proposed, this says what happened. One message per
event, plain text first (Slack's notification text, an e-mail subject) with the figures after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafka_medic.units import MB

FAILED, STALLED, FINISHED, HELD_BACK = "failed", "stalled", "finished", "held back"
ICONS = {FAILED: ":x:", STALLED: ":warning:", FINISHED: ":white_check_mark:", HELD_BACK: ":no_entry:"}


@dataclass(frozen=True)
class OutcomeMessage:
    """One event of one run: `event` (FAILED, STALLED, FINISHED, HELD_BACK), its headline and its figures."""

    cluster: str
    action: str
    event: str
    headline: str
    figures: dict[str, Any] = field(default_factory=dict)
    run: str = ""

    @property
    def text(self) -> str:
        """One line: what Slack shows in a notification and a mail subject can hold."""
        return f"{ICONS[self.event]} {self.action} on {self.cluster} {self.event}: {self.headline}"

    def lines(self) -> list[str]:
        """The text, then each figure on a line of its own, then the run."""
        return [self.text, *(f"{k}: {v}" for k, v in self.figures.items()), *([f"run: {self.run}"] if self.run else [])]

    def slack(self) -> dict[str, Any]:
        """chat.postMessage's text and blocks (thread_ts is the sender's)."""
        return {"text": self.text,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(self.lines())}}]}

    def as_dict(self) -> dict[str, Any]:
        return {"cluster": self.cluster, "action": self.action, "event": self.event, "headline": self.headline,
                "figures": self.figures, "run": self.run, "text": self.text}


def finished(cluster: str, action: str, report: dict, proposal_stats: dict, run: str = "") -> OutcomeMessage:
    """An execution that ended (succeeded or not): moved count, bytes, time, balancedness before and after."""
    moved, planned = len(report.get("done", [])), len(report.get("done", [])) + len(report.get("undone", []))
    figures = {
        "moved": f"{moved} of {planned}",
        "data moved": f"{report.get('bytes_moved', 0) / MB:.1f} MB",
        "time": f"{report.get('duration_s', 0):.0f}s",
    }
    if "balancedness_before" in proposal_stats:
        figures["balancedness"] = (f"{proposal_stats['balancedness_before']:.1f} -> "
                                   f"{proposal_stats.get('balancedness_after', 0):.1f}")
    status = report.get("status", "")
    if status == "succeeded":
        return OutcomeMessage(cluster, action, FINISHED, f"{moved} moves done", figures, run)
    return OutcomeMessage(cluster, action, FAILED, f"execution {status}: {report.get('message') or 'see the run'}",
                          figures, run)


def failed(cluster: str, action: str, reason: str, run: str = "") -> OutcomeMessage:
    """A run that failed before executing (a plan that could not be made, a task that failed)."""
    return OutcomeMessage(cluster, action, FAILED, reason, {}, run)


def stalled(cluster: str, action: str, alert: str, run: str = "") -> OutcomeMessage:
    """A move (or several) without progress, as the executor's ALERT line says."""
    return OutcomeMessage(cluster, action, STALLED, alert, {}, run)


def held_back(cluster: str, action: str, reason: str, run: str = "") -> OutcomeMessage:
    """A remediation the policy's max_attempts stopped: from here on the anomaly is only alerted."""
    return OutcomeMessage(cluster, action, HELD_BACK, reason, {}, run)
