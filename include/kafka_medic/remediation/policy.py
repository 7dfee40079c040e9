"""A managed cluster's operating policy: the defaults every run of every kind starts from.

The runs nobody starts by hand (the asset-started heal, the nightly rebalance, detector-triggered ones)
must be the safest, so what a person would type into the trigger form lives here, per cluster, in
`clusters.json` under the cluster's "policy":

    {"name": "prod", "conn_id": "kafka_medic_prod",
     "policy": {"throttle": 50, "concurrency": 5, "goals": ["rack_aware", "disk_capacity"],
                "capacity_threshold": 0.8, "balance_band": 0.1,
                "load_windows": 24, "window_minutes": 60, "load_statistic": "p95",
                "rebalance_on_incomplete_load": false, "heal_only": false, "intent_ttl_hours": null,
                "max_attempts": 3, "attempt_period_hours": 24,
                "max_plan_drift": 0.1, "max_plan_age_minutes": 120, "max_replans": 3,
                "notifiers": [{"class": "airflow.providers.smtp.notifications.smtp.SmtpNotifier",
                               "kwargs": {"to": "kafka-ops@example.com"}}]}}

It sits in clusters.json, not in the connection's extras, because it shapes the DAGs when they are
parsed (the forms' defaults) and parsing reads no connection; the connection's `kafka_medic.policy` stays
the approval policy (who must approve what). The forms show these values as their defaults, so a person
sees, and may change, what an unattended run would use; runs without a form (heal) take them as they are.

Every value is checked at load, and a bad one is a one-line MedicError naming the field and what is valid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from kafka_medic.errors import MedicError
from kafka_medic.goals import check_goal_names
from kafka_medic.goals.base import DEFAULT_CAPACITY_THRESHOLDS, Thresholds
from kafka_medic.limits import OutOfLimits, check_int, check_number

AUTO = "auto"  # throttle: each broker's measured headroom instead of a fixed rate
STATISTICS = ("mean", "p95", "max")  # of a partition's load over the windows: plan for the typical or the peak
RESOURCES = tuple(DEFAULT_CAPACITY_THRESHOLDS)
MAX_WINDOWS = 24 * 14  # two weeks of hourly windows
MAX_WINDOW_MINUTES = 24 * 60


@dataclass(frozen=True)
class ClusterPolicy:
    """Parsed and valid; the defaults are what a cluster without a policy gets."""

    throttle: float | str | None = None  # MB/s per broker, AUTO, or None: unthrottled
    concurrency: int | None = None  # replica moves per broker at once; None: from bytes in flight
    goals: tuple[str, ...] = ()  # priority order; empty: the default goals
    capacity_threshold: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_CAPACITY_THRESHOLDS))
    balance_band: float = 0.1  # a broker within mean x (1 +- band) is balanced
    load_windows: int = 24
    window_minutes: int = 60
    load_statistic: str = "mean"
    rebalance_on_incomplete_load: bool = False  # False: a rebalance on partial loads is skipped, saying why
    heal_only: bool = False  # True: a heal moves only what leaves dead brokers and failed disks; rebalances even out
    intent_ttl_hours: float | None = None  # how long decommissioned/demoted brokers stay excluded; None: until re-added
    max_attempts: int | None = None  # remediations started for one anomaly per period, then alerts only; None: no limit
    attempt_period_hours: float = 24.0
    # Plan fidelity (`remediation.fidelity`): right before the first move, a plan older than this, or whose
    # brokers, partitions or any broker's load (as a share of its capacity) changed by more, is re-planned
    # and asked again, at most max_replans times in a row; then the run fails saying why.
    max_plan_drift: float = 0.1
    max_plan_age_minutes: float = 120.0
    max_replans: int = 3
    notifiers: tuple[Mapping[str, Any], ...] = ()  # Airflow notifiers told of outcomes: {"class", "kwargs"}

    def thresholds(self) -> Thresholds:
        """The goals' limits for detect and plan."""
        return Thresholds(capacity=dict(self.capacity_threshold),
                          balance_lower=1 - self.balance_band, balance_upper=1 + self.balance_band)

    def request_defaults(self) -> dict[str, Any]:
        """What a request takes from the policy: the forms' defaults, and the whole of a heal's settings."""
        return {
            "throttle_mb_s": self.throttle if self.throttle != AUTO else None,
            "auto_throttle": self.throttle == AUTO,
            "concurrency": self.concurrency,
            "goals": list(self.goals) or None,
            "capacity_threshold": dict(self.capacity_threshold),
            "balance_band": self.balance_band,
            "heal_only": self.heal_only,
        }

    def as_dict(self) -> dict[str, Any]:
        """The JSON form `parse_policy` reads back (the DAG factory hands it to tasks this way)."""
        data = asdict(self)
        data["goals"] = list(self.goals)
        data["notifiers"] = [dict(n) for n in self.notifiers]
        return data


POLICY_FIELDS = tuple(f.name for f in fields(ClusterPolicy))


def parse_policy(data: Any) -> ClusterPolicy:
    """The policy `data` describes (None or {}: the defaults); MedicError "policy.<field>: ..." on a bad value."""
    if data is None:
        return ClusterPolicy()
    if not isinstance(data, Mapping):
        raise MedicError(f"policy: must be an object with fields {', '.join(POLICY_FIELDS)}, got {data!r}")
    unknown = sorted(set(data) - set(POLICY_FIELDS))
    if unknown:
        raise MedicError(f"policy.{unknown[0]}: unknown field; valid: {', '.join(POLICY_FIELDS)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        try:
            values[name] = _PARSERS[name](value)
        except (OutOfLimits, MedicError) as exc:
            raise MedicError(f"policy.{name}: {exc}") from None
    return ClusterPolicy(**values)


def check_field(name: str, value: Any) -> Any:
    """One policy field's value, parsed, for a form that offers it; MedicError "<name>: ..." when bad."""
    try:
        return _PARSERS[name](value)
    except (OutOfLimits, MedicError) as exc:
        raise MedicError(f"{name}: {exc}") from None


def _throttle(value: Any) -> float | str | None:
    if value is None or value == AUTO:
        return value
    if isinstance(value, str):
        raise OutOfLimits(f"must be a number of MB/s, {AUTO!r} or null, got {value!r}")
    return check_number(value, 0.0, 100_000.0, low_inclusive=False)


def _concurrency(value: Any) -> int | None:
    return None if value is None else check_int(value, 1, 2000)


def _goals(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
        raise OutOfLimits(f"must be a list of goal names in priority order, got {value!r}")
    check_goal_names(value)
    return tuple(value)


def _fraction(value: Any) -> float:
    return check_number(value, 0.0, 1.0, low_inclusive=False)


def _capacity_threshold(value: Any) -> dict[str, float]:
    """One fraction for every resource, or some resources' own (the rest keep their defaults)."""
    if not isinstance(value, Mapping):
        try:
            return dict.fromkeys(RESOURCES, _fraction(value))
        except OutOfLimits as exc:
            raise OutOfLimits(f"{exc}; give a fraction in (0, 1] or an object of {', '.join(RESOURCES)}") from None
    unknown = sorted(set(value) - set(RESOURCES))
    if unknown:
        raise OutOfLimits(f"unknown resource {unknown[0]!r}; valid: {', '.join(RESOURCES)}")
    try:
        return {**DEFAULT_CAPACITY_THRESHOLDS, **{r: _fraction(v) for r, v in value.items()}}
    except OutOfLimits as exc:
        raise OutOfLimits(f"each resource's {exc}") from None


def _statistic(value: Any) -> str:
    if value not in STATISTICS:
        raise OutOfLimits(f"must be one of {', '.join(STATISTICS)}, got {value!r}")
    return value


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise OutOfLimits(f"must be true or false, got {value!r}")
    return value


def _ttl_hours(value: Any) -> float | None:
    return None if value is None else check_number(value, 0.0, 24 * 365.0, low_inclusive=False)


def _notifiers(value: Any) -> tuple[dict[str, Any], ...]:
    """Airflow notifier classes by dotted path and their keyword arguments; loaded when an outcome is sent."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise OutOfLimits(f'must be a list of {{"class": "package.module.Notifier", "kwargs": {{...}}}}, got {value!r}')
    parsed = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) - {"class", "kwargs"}:
            raise OutOfLimits(f"[{i}] must be an object with \"class\" and optional \"kwargs\", got {item!r}")
        path, kwargs = item.get("class"), item.get("kwargs", {})
        if not isinstance(path, str) or not _DOTTED.fullmatch(path):
            raise OutOfLimits(f"[{i}].class must be a dotted class path such as "
                              f"airflow.providers.smtp.notifications.smtp.SmtpNotifier, got {path!r}")
        if not isinstance(kwargs, Mapping):
            raise OutOfLimits(f"[{i}].kwargs must be an object of the notifier's arguments, got {kwargs!r}")
        parsed.append({"class": path, "kwargs": dict(kwargs)})
    return tuple(parsed)


_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
_PARSERS = {
    "throttle": _throttle,
    "concurrency": _concurrency,
    "goals": _goals,
    "capacity_threshold": _capacity_threshold,
    "balance_band": _fraction,
    "load_windows": lambda v: check_int(v, 1, MAX_WINDOWS),
    "window_minutes": lambda v: check_int(v, 1, MAX_WINDOW_MINUTES),
    "load_statistic": _statistic,
    "rebalance_on_incomplete_load": _flag,
    "heal_only": _flag,
    "intent_ttl_hours": _ttl_hours,
    "max_attempts": lambda v: None if v is None else check_int(v, 1, 1000),
    "attempt_period_hours": lambda v: check_number(v, 0.0, 24 * 365.0, low_inclusive=False),
    "notifiers": _notifiers,
    "max_plan_drift": _fraction,
    "max_plan_age_minutes": lambda v: check_number(v, 0.0, 24 * 60 * 30.0, low_inclusive=False),
    "max_replans": lambda v: check_int(v, 0, 100),
}
