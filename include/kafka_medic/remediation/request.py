"""A remediation request: what a run is asked to do, checked against the live cluster before anything is planned.

The trigger form's values arrive as a plain mapping (Airflow validates types and ranges when a run is
triggered); `validate_request` then makes the checks a JSON schema cannot (broker ids that exist, a regex
that compiles in RE2, goals that exist), so a bad form fails the first task with a message naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from kafka_medic.errors import MedicError
from kafka_medic.goals import check_goal_names
from kafka_medic.kafka.state import ClusterState
from kafka_medic.limits import OutOfLimits, topic_regex
from kafka_medic.remediation.kinds import HEAL, KINDS
from kafka_medic.remediation.policy import check_field

if TYPE_CHECKING:
    from kafka_medic.model import ClusterModel, Proposal


@dataclass(frozen=True)
class Request:
    """A validated remediation request: what the rest of the chain reads instead of raw params."""

    kind: str
    goals: list[str] = field(default_factory=list)  # empty: the default goals, in their order
    dry_run: bool = False
    force: bool = False
    excluded_topics: str | None = None
    throttle_mb_s: float | None = None
    auto_throttle: bool = False  # per broker, from measured headroom (needs the sample DAG)
    concurrency: int | None = None  # None: from bytes in flight (ExecutionOptions)
    brokers: list[int] = field(default_factory=list)
    excluded_brokers: list[int] = field(default_factory=list)  # receive nothing in this run
    capacity_threshold: dict[str, float] | None = None  # per resource; None: the goals' defaults
    balance_band: float | None = None  # None: the goals' default
    heal_only: bool = False  # a heal moving only what must leave (the cluster policy's `heal_only`)
    reason: str = ""
    anomalies: list[str] = field(default_factory=list)  # keys of the anomalies that called for it

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Request:
        return cls(**data)


def validate_request(kind: str, params: dict[str, Any], state: ClusterState) -> Request:
    """The request the params describe; MedicError naming the field when a value cannot work on this cluster."""
    excluded = params.get("excluded_topics") or None
    if excluded:
        try:
            topic_regex(excluded)
        except OutOfLimits as exc:
            raise MedicError(f"excluded_topics: {excluded!r} {exc}") from None
    goals = list(params.get("goals") or [])
    try:
        check_goal_names(goals)
    except MedicError as exc:
        raise MedicError(f"goals: {exc}") from None
    brokers = [int(b) for b in params.get("brokers") or []]
    what = KINDS[kind]
    if what.brokers:
        if not brokers:
            raise MedicError(f"brokers: give at least one broker id ({what.brokers})")
        unknown = sorted(set(brokers) - set(state.brokers))
        if unknown:
            raise MedicError(f"brokers: unknown broker {unknown[0]}; the cluster has {sorted(state.brokers)}")
        dead = sorted(set(brokers) - set(state.alive_brokers))
        if dead and not what.empties_brokers:
            raise MedicError(f"brokers: broker {dead[0]} is not alive")
        if what.empties_brokers and not set(state.alive_brokers) - set(brokers):
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
    concurrency = None if params.get("concurrency") is None else int(params["concurrency"])
    if concurrency is not None and concurrency < 1:
        raise MedicError(f"concurrency: must be at least 1, got {concurrency}")
    capacity_threshold = params.get("capacity_threshold")
    if capacity_threshold is not None:
        capacity_threshold = check_field("capacity_threshold", capacity_threshold)
    balance_band = params.get("balance_band")
    if balance_band is not None:
        balance_band = check_field("balance_band", balance_band)
    return Request(
        kind=kind, goals=goals, capacity_threshold=capacity_threshold, balance_band=balance_band,
        dry_run=bool(params.get("dry_run")), force=bool(params.get("force")),
        excluded_topics=excluded, throttle_mb_s=float(throttle) if throttle is not None else None,
        auto_throttle=auto_throttle, heal_only=kind == HEAL and bool(params.get("heal_only")),
        concurrency=concurrency, brokers=brokers, excluded_brokers=excluded_brokers,
        reason=kind + (f" of brokers {brokers}" if brokers else ""),
    )


def mark_brokers(model: ClusterModel, request: Request, remembered: Iterable[int] = ()) -> None:
    """Put the request's brokers into the model the planner reads: to empty (decommission), to spare.

    `remembered` are brokers decommissioned or demoted earlier (`kafka_medic.remediation.intent`): they
    receive nothing either, unless this request names them itself (adding a broker back, demoting it again).
    """
    emptied = request.brokers if KINDS[request.kind].empties_brokers else ()
    spared = set(request.excluded_brokers) | (set(remembered) - set(request.brokers))
    model.mark_brokers(emptied, sorted(spared))


def plan_for(request: Request, model: ClusterModel) -> Proposal:
    """The proposal for the request, by its kind's planner, on a model with the request's brokers marked."""
    return KINDS[request.kind].plan(request, model)
