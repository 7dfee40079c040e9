"""Synthetic, skewed cluster models for tests and benchmarks, reproducible from a seed.

The skew is the kind real clusters drift into: topics created when the cluster was smaller (so they
live on the older brokers only), hot topics and hot partitions (log-normal throughput), per-topic
retention (disk is not proportional to traffic), leadership drifted away from preferred replicas,
brokers with different disk sizes placed as if they were equal, dead brokers still holding replicas, and new
brokers that hold nothing yet. Replicas are placed the way Kafka places a new topic (rack-alternating
round robin with a random start and shift), so every partition starts rack-aware.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kafka_medic.model.cluster import RESOURCES, Broker, ClusterModel, Partition

# Base capacities of a standard broker: 4 TB disk, 1 Gbit/s each way, 100 % cpu.
BASE_CAPACITY = {"disk": 4_000_000.0, "nw_in": 125_000.0, "nw_out": 125_000.0, "cpu": 100.0}
SIZES = np.array([1.0, 1.5, 2.0])  # disk sizes; one instance type, so network and cpu are equal
SIZE_ODDS = np.array([0.5, 0.3, 0.2])


@dataclass(frozen=True)
class Scenario:
    brokers: int = 10
    partitions: int = 1000
    replication_factor: int = 3
    racks: int = 3  # 0: brokers have no rack
    dead: int = 0
    new: int = 0  # empty brokers, added last
    decommission: int = 0
    excluded: int = 0
    heterogeneous: bool = True
    # mean utilisation of the brokers that keep data, per resource (disk, nw_in, nw_out, cpu)
    utilisation: tuple[float, float, float, float] = (0.45, 0.35, 0.12, 0.30)
    drifted_leaders: float = 0.1  # share of partitions not led by their preferred replica
    oldest_topics: float = 0.85  # a topic lives on the first 85-100% of the brokers (the cluster grew)
    follower_cpu_ratio: float = 0.3
    partitions_per_topic: int = 0  # 0: mostly small topics and a few large ones; N: every topic has N


def synthetic_model(
    scenario: Scenario | None = None, seed: int = 0, cluster: str = "synthetic"
) -> ClusterModel:
    s = scenario or Scenario()
    rng = np.random.default_rng(seed)
    old = s.brokers - s.new
    if old < s.replication_factor:
        raise ValueError(f"need at least {s.replication_factor} brokers that hold data, got {old}")
    ids = np.arange(1, s.brokers + 1)
    rack = (ids - 1) % s.racks if s.racks else None
    # one size per round of racks, so every rack has the same capacity (as clusters are provisioned)
    rounds = -(-s.brokers // max(s.racks, 1))
    size = rng.choice(SIZES, size=rounds, p=SIZE_ODDS) if s.heterogeneous else np.ones(rounds)
    size = np.repeat(size, max(s.racks, 1))[: s.brokers]
    special = rng.permutation(old)
    dead = set(special[: s.dead].tolist())
    decommission = set(special[s.dead : s.dead + s.decommission].tolist())
    excluded = set(special[s.dead + s.decommission : s.dead + s.decommission + s.excluded].tolist())

    topic_sizes = _topic_sizes(rng, s.partitions, s.partitions_per_topic)
    replicas, topic_of = _place(rng, s, topic_sizes, rack, old)
    load = _loads(rng, topic_of, len(topic_sizes))
    drifted = rng.random(s.partitions) < s.drifted_leaders
    leader_pos = np.where(drifted, rng.integers(0, s.replication_factor, s.partitions), 0)

    holds = np.array([i not in dead and i not in decommission for i in range(s.brokers)])
    scale = np.where(np.array(RESOURCES) == "disk", size[:, None], 1.0)
    capacity = np.array([BASE_CAPACITY[r] for r in RESOURCES]) * scale
    _scale(load, capacity[holds].sum(axis=0), s)

    brokers = [
        Broker(
            id=int(ids[b]),
            rack=f"rack-{rack[b]}" if rack is not None else None,
            alive=b not in dead,
            capacity={r: float(capacity[b, i]) for i, r in enumerate(RESOURCES)},
            excluded=b in excluded,
            decommission=b in decommission,
        )
        for b in range(s.brokers)
    ]
    partitions = []
    number_in_topic = _numbers(topic_of)
    for p in range(s.partitions):
        members = [int(ids[b]) for b in replicas[p]]
        alive = [m for m in members if m - 1 not in dead]
        leader = (
            members[leader_pos[p]]
            if members[leader_pos[p]] - 1 not in dead
            else (alive[0] if alive else None)
        )
        partitions.append(
            Partition(
                topic=f"topic-{topic_of[p]:04d}",
                partition=int(number_in_topic[p]),
                replicas=members,
                leader=leader,
                load={r: round(float(load[p, i]), 3) for i, r in enumerate(RESOURCES)},
            )
        )
    return ClusterModel(cluster, brokers, partitions, "2026-01-01T00:00:00Z", s.follower_cpu_ratio)


def _topic_sizes(rng: np.random.Generator, partitions: int, per_topic: int) -> np.ndarray:
    """Partition counts per topic: mostly small topics, a few large ones (about 100 partitions mean);
    or `per_topic` each, as in clusters of many small services' topics."""
    if per_topic:
        rest = [partitions % per_topic] if partitions % per_topic else []
        return np.array([per_topic] * (partitions // per_topic) + rest)
    sizes = []
    left = partitions
    while left > 0:
        n = int(min(left, max(1, round(rng.lognormal(3.5, 1.0)))))
        sizes.append(n)
        left -= n
    return np.array(sizes)


def _place(
    rng: np.random.Generator, s: Scenario, topic_sizes: np.ndarray, rack: np.ndarray | None, old: int
) -> tuple[np.ndarray, np.ndarray]:
    """Kafka's placement for each topic, over the brokers that existed when the topic was created."""
    rf = s.replication_factor
    replicas = np.empty((s.partitions, rf), dtype=np.int64)
    topic_of = np.repeat(np.arange(len(topic_sizes)), topic_sizes)
    racks = len(np.unique(rack)) if rack is not None else rf
    start = 0
    for size in topic_sizes:
        pool = max(rf, int(old * rng.uniform(s.oldest_topics, 1.0)))
        order = _rack_alternating(np.arange(pool), rack)
        first = rng.integers(0, pool)
        shift = rng.integers(0, max(pool - 1, 1))
        for j in range(size):
            lead = (first + j) % pool
            chosen = [int(order[lead])]
            k = 0
            while len(chosen) < rf:  # Kafka's shifted round robin, skipping racks already used
                candidate = int(order[(lead + 1 + (shift + j // pool + k) % (pool - 1)) % pool])
                k += 1
                used = {rack[c] for c in chosen} if rack is not None else set()
                crowded = rack is not None and rack[candidate] in used and len(used) < min(rf, racks)
                if candidate not in chosen and (not crowded or k > 2 * pool):
                    chosen.append(candidate)
            replicas[start + j] = chosen
        start += size
    return replicas, topic_of


def _rack_alternating(brokers: np.ndarray, rack: np.ndarray | None) -> np.ndarray:
    """Brokers ordered r0, r1, r2, r0, r1, ... so that neighbours sit in different racks."""
    if rack is None:
        return brokers
    by_rack = [brokers[rack[brokers] == r] for r in np.unique(rack[brokers])]
    depth = max(len(b) for b in by_rack)
    return np.array([b[i] for i in range(depth) for b in by_rack if i < len(b)])


def _loads(rng: np.random.Generator, topic_of: np.ndarray, topics: int) -> np.ndarray:
    """Leader load per partition before scaling: hot topics, hot keys, per-topic retention and fan-out."""
    topic_rate = rng.lognormal(0.0, 1.0, topics)
    retention = rng.lognormal(0.0, 1.0, topics)  # hours to weeks
    fanout = rng.integers(1, 4, topics).astype(float)
    nw_in = topic_rate[topic_of] * rng.lognormal(0.0, 0.5, len(topic_of))
    nw_out = nw_in * fanout[topic_of]
    disk = nw_in * retention[topic_of]
    cpu = (0.6 * nw_in + 0.4 * nw_out) * rng.lognormal(0.0, 0.4, topics)[topic_of]  # message sizes differ
    return np.stack([disk, nw_in, nw_out, cpu], axis=1)


def _scale(load: np.ndarray, capacity: np.ndarray, s: Scenario) -> None:
    """Scale loads in place so the cluster-wide utilisation matches `s.utilisation`."""
    rf = s.replication_factor
    cluster_load = np.array(
        [
            load[:, 0].sum() * rf,
            load[:, 1].sum() * rf,
            load[:, 2].sum(),
            load[:, 3].sum() * (1 + (rf - 1) * s.follower_cpu_ratio),
        ]
    )
    load *= np.asarray(s.utilisation) * capacity / cluster_load


def _numbers(topic_of: np.ndarray) -> np.ndarray:
    """Partition number within its topic."""
    first = np.searchsorted(topic_of, topic_of)
    return np.arange(len(topic_of)) - first
