"""The remediation kinds, one entry each: everything that differs between heal, rebalance and the rest.

The DAG factory builds a DAG per kind from its triggers, the trigger form (`kafka_medic.airflow.params`)
turns its fields into Airflow Params, validation (`kafka_medic.remediation.request`) checks its brokers,
the plan task calls its planner, and the approval policy keys on its action. So a new kind is one entry
in KINDS (and its planner function); the DAG ids, task ids and the rest of the chain come with it.

Fields are JSON Schema, what Airflow's Param takes and what a web form can render without Airflow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kafka_medic.goals import goal_names

if TYPE_CHECKING:
    from kafka_medic.model import ClusterModel, Proposal
    from kafka_medic.optimizer import PlanOptions
    from kafka_medic.remediation.request import Request

HEAL, REBALANCE = "heal", "rebalance"  # the kinds the detector starts (its rules name them)
# How a kind's runs start. SCHEDULE: on the cluster's cron (`rebalance_cron` in clusters.json).
# DETECTOR: by the detect DAG's asset event, when an anomaly calls for the kind.
# MANUAL: by a person with the trigger form, checked against the cluster first; a kind without it takes
# its request from the detector's anomalies once they outlast their grace period (heal).
SCHEDULE, DETECTOR, MANUAL = "schedule", "detector", "manual"


@dataclass(frozen=True)
class Field:
    """One field of the trigger form: its value's JSON Schema (type, items, minimum...) and words for people."""

    name: str
    default: Any
    title: str
    description: str
    schema: Mapping[str, Any]


@dataclass(frozen=True)
class Kind:
    """One kind of remediation; its name is the last part of its DAG ids and the request's `kind`."""

    name: str
    doc: str  # one line for people: the DAG's description
    triggers: tuple[str, ...]  # SCHEDULE, DETECTOR, MANUAL
    plan: Callable[[Request, ClusterModel], Proposal]  # the proposal for a request (the model has its marks)
    fields: tuple[Field, ...] = ()  # form fields besides COMMON_FIELDS and the brokers field
    brokers: str | None = None  # what the form's brokers are for; None: the form has no brokers field
    empties_brokers: bool = False  # its brokers are marked to empty: they may be dead, and some must remain
    only_when_violated: bool = False  # the run skips when no goal is violated, unless the request forces it
    leadership_only: bool = False  # hands leadership around, never moves data (the policy holds it to that)
    needs_complete_load: bool = False  # skips on partial loads unless the cluster policy allows them
    remembers: str | None = None  # the intent (`kafka_medic.remediation.intent`) a finished run records for its brokers

    @property
    def policy_action(self) -> str:
        """The approval policy's key for this kind (`kafka_medic.notify.policy`): a policy names the kind."""
        return self.name


def _field(name: str, default: Any, title: str, description: str, **schema: Any) -> Field:
    return Field(name, default, title, description, schema)


# Every form has these, in this order (the order the form shows them).
COMMON_FIELDS = (
    _field("dry_run", False, "Dry run", "plan and show the proposal, move nothing", type="boolean"),
    _field("excluded_topics", None, "Excluded topics",
           "regex (full match) of topics never moved, except off dead brokers", type=["null", "string"]),
    _field("throttle_mb_s", None, "Throttle (MB/s)", "replication throttle per broker; empty: no throttle",
           type=["null", "number"], exclusiveMinimum=0),
    _field("auto_throttle", False, "Auto throttle",
           "instead of a fixed throttle: each broker's measured network headroom (capacity x 0.8 minus its "
           "traffic), recomputed every minute; needs the sample DAG's metrics", type="boolean"),
    _field("concurrency", None, "Concurrency",
           "fixed concurrent replica moves per broker; empty: from bytes in flight (each destination takes "
           "up to 10 s of copying at its throttle)", type=["null", "integer"], minimum=1, maximum=2000),
)
GOALS = _field("goals", None, "Goals", "in priority order; empty: the default goals",
               type=["null", "array"], items={"type": "string", "enum": list(goal_names())})
CAPACITY_THRESHOLD = _field("capacity_threshold", None, "Capacity threshold",
                            "highest utilisation the capacity goals allow, per resource (disk, nw_in, nw_out, cpu: "
                            "fractions); empty: the cluster policy's", type=["null", "object"])
BALANCE_BAND = _field("balance_band", None, "Balance band",
                      "a broker within the mean x (1 +- band) is balanced (fraction); empty: the cluster policy's",
                      type=["null", "number"], exclusiveMinimum=0, maximum=1)
FORCE = _field("force", False, "Force", "plan even when no goal is violated", type="boolean")
EXCLUDED_BROKERS = _field("excluded_brokers", None, "Excluded brokers",
                          "brokers that receive no replica and no leadership in this rebalance "
                          "(e.g. due for maintenance); brokers decommissioned or demoted earlier are excluded "
                          "anyway until re-added", type=["null", "array"], items={"type": "integer"})
PLANNING = (GOALS, CAPACITY_THRESHOLD, BALANCE_BAND)


def form_fields(kind: Kind) -> list[Field]:
    """The kind's trigger form, in display order: the common fields, its own, then its brokers."""
    fields = [*COMMON_FIELDS, *kind.fields]
    if kind.brokers:
        fields.append(_field("brokers", [], "Brokers", kind.brokers,
                             type="array", items={"type": "integer"}, minItems=1))
    return fields


def _options(request: Request) -> PlanOptions:
    from kafka_medic.goals import Thresholds
    from kafka_medic.optimizer import PlanOptions

    thresholds = Thresholds()
    if request.capacity_threshold is not None:
        thresholds = replace(thresholds, capacity=dict(request.capacity_threshold))
    if request.balance_band is not None:
        thresholds = replace(thresholds, balance_lower=1 - request.balance_band, balance_upper=1 + request.balance_band)
    return PlanOptions(goals=request.goals or None, excluded_topics=request.excluded_topics, thresholds=thresholds,
                       heal_only=request.heal_only)


def _meet_goals(request: Request, model: ClusterModel) -> Proposal:
    """The request's goals (all of them when it names none); dead and emptied brokers end empty."""
    from kafka_medic.optimizer import plan

    return plan(model, _options(request))


def _fill_brokers(request: Request, model: ClusterModel) -> Proposal:
    """The goals, with replicas and leadership moving only onto the request's (new) brokers."""
    from kafka_medic.optimizer import plan

    options = _options(request)
    options.only_move_to = request.brokers
    return plan(model, options)


def _demote(request: Request, model: ClusterModel) -> Proposal:
    from kafka_medic.optimizer.leadership import demote

    return demote(model, request.brokers)


def _elect_preferred_leaders(request: Request, model: ClusterModel) -> Proposal:
    from kafka_medic.optimizer import plan

    options = _options(request)
    options.goals = ["preferred_leader_election"]
    return plan(model, options)


# In the approval policy's order (its error messages list the actions so).
KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind(HEAL, "Moves replicas off dead brokers and failed disks once the failure outlasts its grace period.",
         triggers=(DETECTOR,), plan=_meet_goals),
    Kind(REBALANCE, "Rebalances replicas and leadership to meet the goals (skips when none is violated unless "
                    "forced).", triggers=(SCHEDULE, DETECTOR, MANUAL), plan=_meet_goals,
         fields=(*PLANNING, FORCE, EXCLUDED_BROKERS), only_when_violated=True, needs_complete_load=True),
    Kind("decommission", "Empties brokers so they can be removed.", triggers=(MANUAL,), plan=_meet_goals,
         fields=PLANNING, brokers="brokers to empty before they are removed", empties_brokers=True,
         remembers="decommissioned"),
    Kind("add_brokers", "Moves replicas onto newly added brokers.", triggers=(MANUAL,), plan=_fill_brokers,
         fields=PLANNING, brokers="brokers just added: replicas move only onto these"),
    Kind("demote", "Takes leadership off brokers for maintenance.", triggers=(MANUAL,), plan=_demote,
         brokers="brokers to take leadership off (for maintenance)", leadership_only=True, remembers="demoted"),
    Kind("preferred_leader_election", "Hands leadership back to each partition's preferred replica.",
         triggers=(MANUAL,), plan=_elect_preferred_leaders, leadership_only=True),
)}


def triggered_by(trigger: str) -> tuple[Kind, ...]:
    """The kinds whose runs `trigger` starts (SCHEDULE, DETECTOR or MANUAL), in registry order."""
    return tuple(kind for kind in KINDS.values() if trigger in kind.triggers)
