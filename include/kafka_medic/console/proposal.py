"""The console's proposal page: a plan's per-broker load before and after, and its moves with their reasons.

A plan is the optimizer's proposal, whose stats hold what the page shows: `brokers` (each broker's capacity
and load before and after) and `move_reasons` (why each move, aligned with the moves). One that was executed
(or is executing) is in the executor's journal; one still waiting for approval is only the DAG run's plan
XCom (the route reads it by run id), so the approval step can link to the page before anything moves.
The moves are filtered by a topic regex (RE2, matched once per topic) and
paginated, so a plan of 100,000 moves renders one page of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kafka_medic.limits import topic_regex
from kafka_medic.model import Move, Proposal

PER_PAGE = 100


@dataclass(frozen=True)
class MoveRow:
    move: Move
    reason: str


@dataclass(frozen=True)
class ProposalView:
    id: str  # the execution's id, or the DAG run's whose plan awaits approval
    status: str  # the execution's status, or the approval's state
    proposal: Proposal
    brokers: list[dict[str, Any]]  # the plan's stats["brokers"]: id, state, capacity, before, after
    topic: str
    page: int
    matching: int
    moves: list[MoveRow]

    @property
    def pages(self) -> int:
        return max(1, -(-self.matching // PER_PAGE))


def proposal_view(ident: str, status: str, proposal: Proposal, topic: str = "", page: int = 1) -> ProposalView:
    """Page `page` of the plan's moves whose topic fully matches `topic` ("" for all); a bad regex raises
    `limits.InvalidRegex`."""
    reasons = proposal.stats.get("move_reasons") or []
    indices: list[int] | range = range(len(proposal.moves))
    if topic:
        pattern = topic_regex(topic)
        matched = {t for t in {m.topic for m in proposal.moves} if pattern.fullmatch(t)}
        indices = [i for i in indices if proposal.moves[i].topic in matched]
    shown = list(indices)[(page - 1) * PER_PAGE: page * PER_PAGE]
    rows = [MoveRow(proposal.moves[i], (reasons[i] if i < len(reasons) else None) or "-") for i in shown]
    brokers = list(proposal.stats.get("brokers") or [])
    return ProposalView(ident, status, proposal, brokers, topic, page, len(indices), rows)
