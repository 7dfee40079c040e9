"""Which DAG file builds which clusters: the clusters of clusters.json are sharded over SHARDS thin files.

One file holding every cluster's DAGs grew past the dag-processor's per-file timeouts at ~110 clusters
(bench/README.md, "DAG-file parsing"): parse and serialization are linear in the clusters, most of it
Airflow copying and validating the remediation forms' Params per task. Sharded, each file carries about
1/SHARDS of the clusters, stays far from the timeouts, and the dag-processor's parsing processes share
the files. A cluster's shard is a stable hash of its name, so its DAGs stay in one file across parses
and deployments, whatever clusters are added or removed beside it.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

from airflow.sdk import DAG

from kafka_medic.airflow.clusters import load_clusters
from kafka_medic.airflow.factory import build_dags

SHARDS = 8  # dags/kafka_medic_dags_0.py .. _7.py


def shard_of(cluster: str) -> int:
    """The DAG file of a cluster: a hash of its name that is the same in every process (unlike hash())."""
    return zlib.crc32(cluster.encode()) % SHARDS


def shard_dags(dag_file: str | os.PathLike) -> dict[str, DAG]:
    """The DAGs of the clusters in the shard `dag_file` names (`kafka_medic_dags_<shard>.py`), by DAG id."""
    path = Path(dag_file)
    shard = int(path.stem.rsplit("_", 1)[1])
    clusters = load_clusters(path.with_name("clusters.json"))
    return build_dags([cluster for cluster in clusters if shard_of(cluster.name) == shard])
