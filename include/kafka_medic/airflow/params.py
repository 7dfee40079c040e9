"""The trigger form of the remediation DAGs, and the checks Airflow's JSON schema cannot make.

Airflow validates types and ranges when a run is triggered; `validate_request` then checks the values
against the live cluster (broker ids that exist, a regex that compiles, goals that exist) before
anything is planned, so a bad form fails the first task with a message saying which field is wrong.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param

from kafka_medic.errors import MedicError
from kafka_medic.goals import DEFAULT_GOALS
from kafka_medic.kafka.state import ClusterState

if TYPE_CHECKING:
    from kafka_medic.model import ClusterModel

# DAG kinds that act on named brokers, and what the brokers are for.
BROKER_KINDS = {
    "add_brokers": "brokers just added: replicas move only onto these",
    "decommission": "brokers to empty before they are removed",
    "demote": "brokers to take leadership off (for maintenance)",
}


@dataclass(frozen=True)
class Request:
    """A validated remediation request: what the rest of the chain reads instead of raw params."""

    kind: str
    goals: list[str] = field(default_factory=list)  # empty: every goal, in the default order
    dry_run: bool = False
    force: bool = False
    excluded_topics: str | None = None
    throttle_mb_s: float | None = None
    auto_throttle: bool = False  # per broker, from measured headroom (needs the sample DAG)
    concurrency: int = 5
    brokers: list[int] = field(default_factory=list)
    excluded_brokers: list[int] = field(default_factory=list)  # receive nothing in this run
    reason: str = ""
    anomalies: list[str] = field(default_factory=list)  # keys of the anomalies that called for it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Request:
        return cls(**data)


def form(kind: str) -> dict[str, Param]:
    """Params of a manually triggered DAG of this kind (heal takes its work from the anomaly)."""
    params = {
        "dry_run": Param(False, type="boolean", title="Dry run",
                         description="plan and show the proposal, move nothing"),
        "excluded_topics": Param(None, type=["null", "string"], title="Excluded topics",
                                 description="regex (full match) of topics never moved, except off dead brokers"),
        "throttle_mb_s": Param(None, type=["null", "number"], exclusiveMinimum=0, title="Throttle (MB/s)",
                               description="replication throttle per broker; empty: no throttle"),
        "auto_throttle": Param(False, type="boolean", title="Auto throttle",
                               description="instead of a fixed throttle: each broker's measured network headroom "
                                           "(capacity x 0.8 minus its traffic), recomputed every minute; needs "
                                           "the sample DAG's metrics"),
        "concurrency": Param(5, type="integer", minimum=1, maximum=100, title="Concurrency",
                             description="concurrent replica moves per broker"),
    }
    if kind in ("rebalance", "add_brokers", "decommission"):
        params["goals"] = Param(None, type=["null", "array"], items={"type": "string", "enum": list(DEFAULT_GOALS)},
                                title="Goals", description="in priority order; empty: all goals")
    if kind == "rebalance":
        params["force"] = Param(False, type="boolean", title="Force",
                                description="plan even when no goal is violated")
        params["excluded_brokers"] = Param(None, type=["null", "array"], items={"type": "integer"},
                                           title="Excluded brokers",
                                           description="brokers that receive no replica and no leadership in "
                                                       "this rebalance (e.g. due for maintenance)")
    if kind in BROKER_KINDS:
        params["brokers"] = Param([], type="array", items={"type": "integer"}, minItems=1,
                                  title="Brokers", description=BROKER_KINDS[kind])
    return params


def validate_request(kind: str, params: dict[str, Any], state: ClusterState) -> Request:
    """The request the params describe; MedicError naming the field when a value cannot work on this cluster."""
    excluded = params.get("excluded_topics") or None
    if excluded:
        try:
            re.compile(excluded)
        except re.error as exc:
            raise MedicError(f"excluded_topics: {excluded!r} is not a valid regex: {exc}") from None
    goals = list(params.get("goals") or [])
    unknown_goals = [g for g in goals if g not in DEFAULT_GOALS]
    if unknown_goals:
        raise MedicError(f"goals: unknown goal {unknown_goals[0]!r}; known: {', '.join(DEFAULT_GOALS)}")
    brokers = [int(b) for b in params.get("brokers") or []]
    if kind in BROKER_KINDS:
        if not brokers:
            raise MedicError(f"brokers: give at least one broker id ({BROKER_KINDS[kind]})")
        unknown = sorted(set(brokers) - set(state.brokers))
        if unknown:
            raise MedicError(f"brokers: unknown broker {unknown[0]}; the cluster has {sorted(state.brokers)}")
        dead = sorted(set(brokers) - set(state.alive_brokers))
        if dead and kind != "decommission":
            raise MedicError(f"brokers: broker {dead[0]} is not alive")
        if kind == "decommission" and not set(state.alive_brokers) - set(brokers):
            raise MedicError("brokers: decommissioning them all would leave no broker")
    excluded_brokers = [int(b) for b in params.get("excluded_brokers") or []]
    unknown = sorted(set(excluded_brokers) - set(state.brokers))
    if unknown:
        raise MedicError(f"excluded_brokers: unknown broker {unknown[0]}; the cluster has {sorted(state.brokers)}")
    if excluded_brokers and not set(state.alive_brokers) - set(excluded_brokers):
        raise MedicError("excluded_brokers: excluding every live broker would leave none to move to")
    throttle = params.get("throttle_mb_s")
    if throttle is not None and float(throttle) <= 0:
        raise MedicError(f"throttle_mb_s: must be positive, got {throttle}")
    auto_throttle = bool(params.get("auto_throttle"))
    if auto_throttle and throttle is not None:
        raise MedicError(f"throttle_mb_s: {throttle} and auto_throttle both given; choose one")
    concurrency = int(params.get("concurrency") or 5)
    if concurrency < 1:
        raise MedicError(f"concurrency: must be at least 1, got {concurrency}")
    return Request(
        kind=kind, goals=goals, dry_run=bool(params.get("dry_run")), force=bool(params.get("force")),
        excluded_topics=excluded, throttle_mb_s=float(throttle) if throttle is not None else None,
        auto_throttle=auto_throttle,
        concurrency=concurrency, brokers=brokers, excluded_brokers=excluded_brokers,
        reason=kind + (f" of brokers {brokers}" if brokers else ""),
    )


def mark_brokers(model: ClusterModel, request: Request) -> None:
    """Put the request's brokers into the model the planner reads: to empty (decommission), to spare."""
    model.mark_brokers(request.brokers if request.kind == "decommission" else (), request.excluded_brokers)
