"""Goals by name: the sixteen of the default list, in the spec's priority order (hard first), three
more built in that a goal list must name, and goals installed by other packages.

The three opt-in goals are Cruise Control's hard goals that the spec's sixteen lack:
`rack_aware_distribution`, `min_topic_leaders_per_broker` and `broker_set_aware`. They stay out of the
default list so a default plan is what it was: the first is stricter than `rack_aware` (it would move
more on models with fewer racks than replicas), and the other two do nothing without a regex
(`Thresholds.min_leaders_topics`) or the model's `broker_sets`; an operator who sets those lists them.

A package adds goals through the entry point group `kafka_medic.goals` (entry point name: the goal's
`name`; value: its `Goal` subclass, as in `my_package.goals:MyGoal`). They are looked up only when a
goal list names a goal that is not built in (nor for the default list), and their names listed only
for the DAG forms' choice of goals. A plugin may not take a built-in goal's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kafka_medic.errors import MedicError
from kafka_medic.goals.base import Goal, Thresholds
from kafka_medic.goals.broker_set import BrokerSetAwareGoal
from kafka_medic.goals.capacity import (
    CpuCapacityGoal,
    DiskCapacityGoal,
    NetworkInboundCapacityGoal,
    NetworkOutboundCapacityGoal,
    PotentialNetworkOutboundGoal,
    ReplicaCapacityGoal,
)
from kafka_medic.goals.distribution import (
    CpuUsageDistributionGoal,
    DiskUsageDistributionGoal,
    NetworkInboundUsageDistributionGoal,
    NetworkOutboundUsageDistributionGoal,
    ReplicaDistributionGoal,
)
from kafka_medic.goals.leader import (
    LeaderBytesInDistributionGoal,
    LeaderReplicaDistributionGoal,
    PreferredLeaderElectionGoal,
)
from kafka_medic.goals.rack import RackAwareGoal
from kafka_medic.goals.rack_distribution import RackAwareDistributionGoal
from kafka_medic.goals.topic import TopicReplicaDistributionGoal
from kafka_medic.goals.topic_leaders import MinTopicLeadersPerBrokerGoal

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "kafka_medic.goals"

DEFAULT_CLASSES: tuple[type[Goal], ...] = (
    RackAwareGoal,
    ReplicaCapacityGoal,
    DiskCapacityGoal,
    NetworkInboundCapacityGoal,
    NetworkOutboundCapacityGoal,
    CpuCapacityGoal,
    ReplicaDistributionGoal,
    PotentialNetworkOutboundGoal,
    DiskUsageDistributionGoal,
    NetworkInboundUsageDistributionGoal,
    NetworkOutboundUsageDistributionGoal,
    CpuUsageDistributionGoal,
    TopicReplicaDistributionGoal,
    LeaderReplicaDistributionGoal,
    LeaderBytesInDistributionGoal,
    PreferredLeaderElectionGoal,
)
OPT_IN_CLASSES: tuple[type[Goal], ...] = (
    RackAwareDistributionGoal,
    MinTopicLeadersPerBrokerGoal,
    BrokerSetAwareGoal,
)
GOAL_CLASSES: dict[str, type[Goal]] = {cls.name: cls for cls in (*DEFAULT_CLASSES, *OPT_IN_CLASSES)}
DEFAULT_GOALS: tuple[str, ...] = tuple(cls.name for cls in DEFAULT_CLASSES)
HARD_GOALS: tuple[str, ...] = tuple(cls.name for cls in DEFAULT_CLASSES if cls.hard)  # of the default list


def make_goals(names: Sequence[str] | None = None, thresholds: Thresholds | None = None) -> list[Goal]:
    """Goal objects in the given priority order (default: the spec's)."""
    names = list(DEFAULT_GOALS if names is None else names)
    plugins = check_goal_names(names)
    classes = {**GOAL_CLASSES, **{n: load_goal(plugins[n]) for n in names if n in plugins}}
    thresholds = thresholds or Thresholds()
    return [classes[n](thresholds) for n in names]


def check_goal_names(names: Sequence[str]) -> dict[str, EntryPoint]:
    """A one-line MedicError for an unknown or repeated name in a goal list (the CLI's, a form's, plan's);
    returns the plugins it names, not loaded. Entry points are read only when a name is not built in."""
    extra = [n for n in names if n not in GOAL_CLASSES]
    plugins = plugin_goals() if extra else {}
    unknown = [n for n in extra if n not in plugins]
    if unknown:
        raise MedicError(f"unknown goal {unknown[0]!r}; known goals: {', '.join([*GOAL_CLASSES, *plugins])}")
    duplicate = next((n for n in names if list(names).count(n) > 1), None)
    if duplicate:
        raise MedicError(f"goal {duplicate!r} is listed twice")
    return {n: plugins[n] for n in extra}


def goal_names() -> tuple[str, ...]:
    """Every name a goal list may hold: the built-in goals (default order, then the opt-in ones), then
    the installed plugins' (for the DAG forms). Listing never fails, so one broken plugin cannot stop the
    DAG file from loading: a plugin that clashes or fails to load is refused when a goal list names it."""
    from importlib.metadata import entry_points

    plugins = [entry.name for entry in entry_points(group=ENTRY_POINT_GROUP) if entry.name not in GOAL_CLASSES]
    return (*GOAL_CLASSES, *dict.fromkeys(plugins))


def plugin_goals() -> dict[str, EntryPoint]:
    """The installed packages' goals by name, not loaded yet."""
    from importlib.metadata import entry_points  # imported only here: it adds tens of ms to start-up

    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in GOAL_CLASSES:
            raise MedicError(f"goal plugin {entry.name!r} ({entry.value}) takes the name of a built-in goal")
        if entry.name in found:
            raise MedicError(
                f"goal plugin {entry.name!r} is installed twice: {found[entry.name].value} and {entry.value}"
            )
        found[entry.name] = entry
    return found


def load_goal(entry: EntryPoint) -> type[Goal]:
    """The Goal subclass an entry point names; a one-line MedicError when it is not one."""
    where = f"goal plugin {entry.name!r} ({entry.value})"
    try:
        goal = entry.load()
    except Exception as exc:  # any error of third-party code at import is the plugin's, not ours
        reason = (str(exc).splitlines() or [""])[0]
        raise MedicError(f"{where} failed to load: {type(exc).__name__}: {reason}") from exc
    if not (isinstance(goal, type) and issubclass(goal, Goal)):
        raise MedicError(f"{where} is not a subclass of kafka_medic.goals.Goal")
    if getattr(goal, "name", None) != entry.name:
        raise MedicError(f"{where} is a goal named {getattr(goal, 'name', None)!r}; give both the same name")
    return goal
