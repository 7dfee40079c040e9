"""The live cluster model: placement and sizes as read from the cluster, network and CPU loads from the
metrics store, capacities from a capacity file.

The CLI (`snapshot`, `plan`, `check`) and the DAGs (snapshot, detect) build it here, so a plan made from
a shell and one made by Airflow start from the same model; a web console would build it here too.
The caller reads the cluster state (it usually needs it for more than the model) and decides what an
incomplete load model means to it: a warning, a log line, or an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kafka_medic.capacity import load_capacities
from kafka_medic.kafka.snapshot import CapacityLookup, state_to_model
from kafka_medic.kafka.state import ClusterState
from kafka_medic.metrics.load_model import LoadModel, build_load_model
from kafka_medic.metrics.store import MetricsStore
from kafka_medic.model import ClusterModel


@dataclass(frozen=True)
class LoadWindows:
    """Which samples the loads come from: `windows` complete windows of `window_s` seconds, valid when at
    least `min_valid_ratio` of the partitions have loads in every one; `statistic` (mean, p95, max) of a
    partition's window means is the rate planned for."""

    window_s: float = 300.0
    windows: int = 5
    min_valid_ratio: float = 0.95
    statistic: str = "mean"


def build_live_model(
    state: ClusterState,
    cluster: str,
    store_url: str | None = None,
    windows: LoadWindows = LoadWindows(),
    capacity_file: str | Path | None = None,
    require_complete: bool = False,
) -> tuple[ClusterModel, LoadModel]:
    """The model of `state` with loads from the store at `store_url` (default: the configured store), and
    the load model they came from (to say how complete it is); `require_complete` raises a MedicError
    saying why when the loads are not complete enough to plan with.

    Without a capacity file, disk capacity is each broker's log-dir total, network and CPU the defaults
    of `kafka_medic.kafka.snapshot`.
    """
    with MetricsStore(store_url) as store:
        loads = build_load_model(
            store, cluster, window_s=windows.window_s, windows=windows.windows,
            min_valid_ratio=windows.min_valid_ratio, kafka_cluster_id=state.cluster_id, statistic=windows.statistic,
        )
    if require_complete:
        loads.require_complete()
    model = state_to_model(state, cluster=cluster, capacity=_capacity(capacity_file), loads=loads.partition_load)
    return model, loads


def _capacity(capacity_file: str | Path | None) -> CapacityLookup | None:
    if not capacity_file:
        return None
    capacities = load_capacities(capacity_file)
    return lambda broker_id: capacities.for_broker(broker_id).as_dict()
