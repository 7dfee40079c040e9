"""From stored samples to the per-partition leader load of the cluster model, with honest completeness.

Completeness (Cruise Control's notion, made explicit):
  - a partition is *valid in a window* when the window holds at least `min_samples` leader samples
    with rates that were not excluded (reassigning or cooling down, see windows.py);
  - a window is *valid* when at least `min_valid_ratio` of the partitions are valid in it;
  - `valid_partition_ratio` is the share of partitions valid in every window.
  Planning needs every window valid and valid_partition_ratio >= min_valid_ratio; `require_complete`
  says otherwise and names the partitions that fall short and why. Partitions whose every replica is
  on a dead broker cannot be sampled: they keep their last known load and do not count against it.

Load of a partition (the leader's, in the spec's units):
  - disk: the leader's latest size up to now (the window in progress included), MB (2**20 bytes);
  - nw_in, nw_out: mean over the valid windows of each window's mean rate, KB/s (2**10 bytes);
  - cpu: broker CPU apportioned to the partitions it leads. For broker b with measured CPU c_b,
    led partitions L_b and followed partitions F_b (r = follower_cpu_ratio):

        leader_fraction_b = B_L / (B_L + r * B_F)   B_L = sum over L_b of (in + out), B_F = sum over F_b of in
        share_p           = 1/2 * (in_p + out_p) / B_L + 1/2 * msgs_p / M_L    M_L = sum over L_b of msgs
        cpu_p             = c_b * leader_fraction_b * share_p

    Bytes stand for the network and disk work of a partition, messages for its request work (the
    brokers do not report requests per partition). The follower term keeps the CPU that the spec's
    followers carry (cpu_p * r) from being counted twice. A share whose denominator is zero is spread
    evenly over L_b.
A partition with no valid window keeps its last known load from before the windows (for a dead
broker's partitions) or zero, and is listed in `incomplete`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import pandas as pd

from kafka_medic.errors import MedicError
from kafka_medic.metrics.sample import BROKER_METRICS
from kafka_medic.metrics.store import MetricsStore
from kafka_medic.metrics.windows import PARTITION_KEY, excluded_by_reassignment, window_bounds, window_index
from kafka_medic.units import KB, MB

RATES = ["bytes_in", "bytes_out", "messages_in"]
ZERO = {"disk": 0.0, "nw_in": 0.0, "nw_out": 0.0, "cpu": 0.0}
MAX_NAMED = 20  # incomplete partitions named in an error message

PartitionId = tuple[str, int]


@dataclass(frozen=True)
class BrokerStatus:
    """`state` is "alive", "dead" (a sampler found it missing) or "no fresh samples"."""

    state: str
    last_sample: float | None
    measured: dict[str, float | None]

    @property
    def alive(self) -> bool:
        return self.state == "alive"


@dataclass
class LoadModel:
    cluster: str
    now: float
    window_s: float
    windows: int
    min_valid_ratio: float
    valid_windows: int
    valid_partition_ratio: float
    partition_load: dict[PartitionId, dict[str, float]]
    leaders: dict[PartitionId, int]
    replicas: dict[PartitionId, list[int]]
    brokers: dict[int, BrokerStatus]
    broker_load: dict[int, dict[str, float]]
    incomplete: dict[PartitionId, str] = field(default_factory=dict)
    offline: set[PartitionId] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        return self.valid_windows >= self.windows and self.valid_partition_ratio >= self.min_valid_ratio

    def require_complete(self) -> None:
        """Raise a MedicError saying why the load is not good enough to plan with."""
        if self.complete:
            return
        reasons = []
        if self.valid_windows < self.windows:
            reasons.append(f"{self.valid_windows} of {self.windows} windows of {self.window_s:g}s are valid")
        if self.valid_partition_ratio < self.min_valid_ratio:
            reasons.append(
                f"{self.valid_partition_ratio:.1%} of partitions have valid samples in every window, "
                f"need {self.min_valid_ratio:.1%}"
            )
        named = sorted(self.incomplete.items())
        listed = "; ".join(f"{t}-{p}: {why}" for (t, p), why in named[:MAX_NAMED])
        more = f"; and {len(named) - MAX_NAMED} more" if len(named) > MAX_NAMED else ""
        raise MedicError(
            f"load model of cluster {self.cluster!r} is not complete enough to plan: {' and '.join(reasons)}"
            + (f" (incomplete: {listed}{more})" if named else " (no partition has fresh samples)")
        )


def build_load_model(
    store: MetricsStore,
    cluster: str,
    now: float | None = None,
    window_s: float = 300.0,
    windows: int = 5,
    min_valid_ratio: float = 0.95,
    cooldown_s: float | None = None,
    min_samples: int = 1,
    follower_cpu_ratio: float = 0.3,
    lookback_s: float = 86400.0,
) -> LoadModel:
    """The load of `cluster` from the `windows` complete windows of `window_s` seconds before `now`.

    cooldown_s defaults to one window; lookback_s bounds how old a last known load may be.
    """
    now = time.time() if now is None else now
    cooldown_s = window_s if cooldown_s is None else cooldown_s
    start, end = window_bounds(now, window_s, windows)
    samples = store.partition_samples(cluster, start - cooldown_s, now)
    earlier = store.latest_partition_samples(cluster, now - lookback_s, start - cooldown_s)
    answered = store.latest_broker_samples(cluster, now - lookback_s, start)
    brokers = _broker_status(store.broker_samples(cluster, start, now), answered, now, window_s)
    placement = pd.concat([earlier, samples], ignore_index=True)
    recent = samples = samples.assign(excluded=excluded_by_reassignment(samples, cooldown_s))
    samples = samples[(samples.ts >= start) & (samples.ts < end)].assign(
        window=lambda f: window_index(f.ts, start, window_s)
    )
    leaders, replicas = _placement(placement)
    for broker in {b for rs in replicas.values() for b in rs} - brokers.keys():
        brokers[broker] = BrokerStatus("no fresh samples", None, dict.fromkeys(BROKER_METRICS))
    alive = {b for b, s in brokers.items() if s.alive}
    sampled = set(samples.groupby(PARTITION_KEY).groups) if not samples.empty else set()
    offline = {p for p, rs in replicas.items() if p not in sampled and not alive & set(rs)}

    valid = samples[samples.leader & ~samples.excluded & samples.bytes_in.notna()]
    per_window = valid.groupby([*PARTITION_KEY, "window"])[RATES].agg(["mean", "count"])
    counts = per_window.xs("count", axis=1, level=1)["bytes_in"]
    valid_cells = set(counts[counts >= min_samples].index)
    considered = [p for p in replicas if p not in offline]
    valid_windows = sum(
        1
        for w in range(windows)
        if considered and sum((*p, w) in valid_cells for p in considered) / len(considered) >= min_valid_ratio
    )
    incomplete = _incomplete(considered, samples, valid_cells, windows)
    ratio = 1 - len(incomplete) / len(considered) if considered else 0.0

    means = per_window.xs("mean", axis=1, level=1).loc[lambda f: f.index.isin(valid_cells)]
    loads = _rates_and_disk(list(replicas), means.groupby(level=PARTITION_KEY).mean(), recent, earlier)
    _apportion_cpu(loads, leaders, replicas, brokers, follower_cpu_ratio)
    return LoadModel(
        cluster=cluster,
        now=now,
        window_s=window_s,
        windows=windows,
        min_valid_ratio=min_valid_ratio,
        valid_windows=valid_windows,
        valid_partition_ratio=ratio,
        partition_load=loads,
        leaders=leaders,
        replicas=replicas,
        brokers=dict(sorted(brokers.items())),
        broker_load=_broker_load(loads, leaders, replicas, brokers, follower_cpu_ratio),
        incomplete=incomplete,
        offline=offline,
    )


def _broker_status(samples: pd.DataFrame, earlier: pd.DataFrame, now: float, window_s: float):
    """Dead when the latest round says so; "no fresh samples" when no answer is younger than one window.

    `earlier` holds each broker's last answer before the windows: a broker silent for all of them
    keeps the time and the values of that answer (its last known load).
    """
    status = {}
    for broker in sorted(set(samples.broker) | set(earlier.broker)):
        rows, before = samples[samples.broker == broker], earlier[earlier.broker == broker]
        answered = rows[rows.alive]
        if answered.empty:
            answered = before
        last = float(answered.ts.max()) if not answered.empty else None
        if not rows.empty and not rows[rows.ts == rows.ts.max()].alive.all():
            state = "dead"
        elif last is None or now - last > window_s:
            state = "no fresh samples"
        else:
            state = "alive"
        measured = {m: _mean(answered[m]) for m in BROKER_METRICS}
        status[int(broker)] = BrokerStatus(state, last, measured)
    return status


def _placement(samples: pd.DataFrame) -> tuple[dict[PartitionId, int], dict[PartitionId, list[int]]]:
    """Replicas each broker reported in its latest round; the leader reported at the latest time."""
    if samples.empty:
        return {}, {}
    rounds = samples.groupby(["broker", "source"])["ts"].transform("max")
    current = samples.loc[samples.ts == rounds, [*PARTITION_KEY, "broker"]].drop_duplicates()
    replicas: dict[PartitionId, list[int]] = {}
    for t, p, b in current.sort_values([*PARTITION_KEY, "broker"]).itertuples(index=False):
        replicas.setdefault((t, int(p)), []).append(int(b))
    led = samples[samples.leader].sort_values("ts").groupby(PARTITION_KEY).tail(1)
    leaders = {(t, int(p)): int(b) for t, p, b in zip(led.topic, led.partition, led.broker, strict=True)}
    return leaders, replicas


def _incomplete(partitions: list[PartitionId], samples: pd.DataFrame, valid_cells: set, windows: int):
    """Why each partition lacks a valid sample in some window: counts of windows per reason."""
    flags = (
        samples.assign(
            reassigning=samples.excluded,
            no_rates=samples.leader & ~samples.excluded & samples.bytes_in.isna(),
        )
        .groupby([*PARTITION_KEY, "window"])[["reassigning", "no_rates", "leader"]]
        .any()
    )
    reasons = {}
    for p in partitions:
        missing = [(*p, w) for w in range(windows) if (*p, w) not in valid_cells]
        if not missing:
            continue
        seen = flags.reindex(missing, fill_value=False)
        counts = {
            "reassigning or cooling down": int(seen.reassigning.sum()),
            "no rates yet": int(seen.no_rates.sum()),
            "no leader samples": int((~seen.leader).sum()),
        }
        reasons[p] = ", ".join(f"{why} in {n}" for why, n in counts.items() if n) + f" of {windows} windows"
    return reasons


def _rates_and_disk(partitions, rates: pd.DataFrame, samples: pd.DataFrame, earlier: pd.DataFrame):
    """Rates from the valid windows, else the last known ones; disk from the best latest size we have,
    up to now (a level, unlike a rate, is best when newest)."""
    known = earlier[earlier.leader & earlier.bytes_in.notna()].sort_values("ts")
    known = known.groupby(PARTITION_KEY)[RATES].last()
    rates = pd.concat([rates, known[~known.index.isin(rates.index)]]).fillna(0.0)  # unmeasured: zero
    # Size candidates in order of preference: valid leader rows, any leader row, any replica, then earlier.
    candidates = pd.concat(
        [
            samples.assign(rank=2 - samples.leader - (samples.leader & ~samples.excluded)),
            earlier.assign(rank=4 - earlier.leader),
        ]
    ).dropna(subset=["size"])
    best = candidates.sort_values(["rank", "ts"], ascending=[True, False]).groupby(PARTITION_KEY).head(1)
    sizes = {(t, int(p)): v for t, p, v in zip(best.topic, best.partition, best["size"], strict=True)}
    by_partition = rates.to_dict("index")
    loads = {}
    for p in partitions:
        load = dict(ZERO, disk=sizes.get(p, 0.0) / MB)
        if p in by_partition:
            row = by_partition[p]
            load.update(nw_in=row["bytes_in"] / KB, nw_out=row["bytes_out"] / KB)
            load["messages_in"] = row["messages_in"]
        loads[p] = {k: float(v) for k, v in load.items()}
    return loads


def _apportion_cpu(loads, leaders, replicas, brokers, ratio) -> None:
    """cpu_p = c_b * leader_fraction_b * share_p (module docstring); drops the helper messages_in."""
    by_leader: dict[int, list[PartitionId]] = {}
    for p, b in leaders.items():
        by_leader.setdefault(b, []).append(p)
    for b, led in by_leader.items():
        cpu = brokers[b].measured.get("cpu") if b in brokers else None
        followed = [p for p, rs in replicas.items() if b in rs and leaders.get(p) != b]
        bytes_led = [loads[p]["nw_in"] + loads[p]["nw_out"] for p in led]
        msgs_led = [loads[p].get("messages_in", 0.0) for p in led]
        b_l, m_l = sum(bytes_led), sum(msgs_led)
        b_f = sum(loads[p]["nw_in"] for p in followed)
        fraction = b_l / (b_l + ratio * b_f) if b_l + ratio * b_f > 0 else 1.0
        even = 1 / len(led)
        for p, by, ms in zip(led, bytes_led, msgs_led, strict=True):
            share = 0.5 * (by / b_l if b_l > 0 else even) + 0.5 * (ms / m_l if m_l > 0 else even)
            loads[p]["cpu"] = (cpu or 0.0) * fraction * share
    for load in loads.values():
        load.pop("messages_in", None)


def _broker_load(loads, leaders, replicas, brokers, ratio) -> dict[int, dict[str, float]]:
    """Each broker's load by the spec's rules: leaders carry `load`, followers disk, nw_in and cpu * ratio."""
    totals = {b: dict(ZERO) for b in brokers}
    for p, rs in replicas.items():
        for b in rs:
            load, total = loads[p], totals.setdefault(b, dict(ZERO))
            total["disk"] += load["disk"]
            total["nw_in"] += load["nw_in"]
            if leaders.get(p) == b:
                total["nw_out"] += load["nw_out"]
                total["cpu"] += load["cpu"]
            else:
                total["cpu"] += load["cpu"] * ratio
    return dict(sorted(totals.items()))


def _mean(values: pd.Series) -> float | None:
    value = values.mean()
    return None if math.isnan(value) else float(value)
