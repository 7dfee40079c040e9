"""The managed clusters: one JSON file lists them, and DAGs are generated for each.

The file is read when DAG files are parsed, so it holds only what shapes the DAGs (names, the Airflow
connection, schedules, approval timeout, and the operating policy the forms default to and unattended runs
use: `kafka_medic.remediation.policy`); how to reach a cluster and its secrets stay in the connection.

    {"clusters": [{"name": "dev", "conn_id": "kafka_medic_dev", "rebalance_cron": "0 2 * * *",
                   "policy": {"throttle": 50, "load_windows": 24, "window_minutes": 60}}]}

A bad policy spoils only its own cluster: it gets a single failing `policy_error` DAG that says why,
and the other clusters keep their DAGs.

`$KAFKA_MEDIC_CLUSTERS` names another file (tests and the demo use their own).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from kafka_medic.errors import MedicError
from kafka_medic.remediation.policy import ClusterPolicy, parse_policy

CLUSTERS_ENV = "KAFKA_MEDIC_CLUSTERS"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


@dataclass(frozen=True)
class ManagedCluster:
    name: str  # part of every DAG id: kafka_medic__<name>__<kind>
    conn_id: str  # an Airflow connection of type `kafka`
    sample_every_minutes: int = 2
    detect_every_minutes: int = 1
    rebalance_cron: str | None = "0 2 * * *"  # nightly rebalance; None: manual and goal-violation triggers only
    approval_timeout_minutes: int = 60  # no answer by then counts as a rejection
    policy: ClusterPolicy = field(default_factory=ClusterPolicy)
    policy_error: str | None = None  # set by load_clusters instead of `policy` when the file's policy is bad

    def __post_init__(self) -> None:
        if not NAME.fullmatch(self.name):
            raise MedicError(f"cluster name {self.name!r} must match {NAME.pattern} (it is part of DAG ids)")

    @property
    def pool(self) -> str:
        """The one-slot Airflow pool that keeps two executions on this cluster from overlapping."""
        return f"kafka_medic__{self.name}"

    def dag_id(self, kind: str) -> str:
        return f"kafka_medic__{self.name}__{kind}"


def load_clusters(default: str | os.PathLike) -> list[ManagedCluster]:
    """The clusters in `$KAFKA_MEDIC_CLUSTERS`, else in `default`; unknown keys and duplicates are errors."""
    path = Path(os.environ.get(CLUSTERS_ENV) or default)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MedicError(f"cannot read the cluster list {path}: {exc}") from exc
    known = {f.name for f in fields(ManagedCluster)} - {"policy_error"}
    clusters = []
    for entry in data.get("clusters", []):
        unknown = sorted(set(entry) - known)
        if unknown:
            raise MedicError(f"{path}: unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        settings = dict(entry)
        try:
            settings["policy"] = parse_policy(settings.get("policy"))
        except MedicError as exc:
            settings["policy"] = ClusterPolicy()
            settings["policy_error"] = f"{path}: cluster {entry.get('name')!r}: {exc}"
        clusters.append(ManagedCluster(**settings))
    names = [c.name for c in clusters]
    if len(set(names)) != len(names):
        raise MedicError(f"{path}: cluster names must be unique, got {names}")
    return clusters
