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
  - disk: the leader's latest size up to now (the window in progress's newest round included), MB (2**20 bytes);
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

A window's counts and means come from the store's sums where it aggregated a base window
(MetricsStore.aggregate), from sums the store computes in SQL for rows it did not aggregate, and
from whole rows for partitions near a reassignment, whose exclusions the cooldown decides here
(MetricsStore.model_rows; of the other partitions only each replica's newest rows are read, for
placement, leaders and sizes): the same rows either way, so the same model
(tests/unit/test_metrics_window_aggregates.py, tests/unit/test_metrics_model_rows.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kafka_medic.errors import MedicError
from kafka_medic.metrics.sample import BROKER_METRICS
from kafka_medic.metrics.store import MetricsStore
from kafka_medic.metrics.windows import (
    PARTITION_KEY,
    aggregation_conflict,
    excluded_by_reassignment,
    window_bounds,
    window_index,
)
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
    kafka_cluster_id: str | None = None,
    statistic: str = "mean",
) -> LoadModel:
    """The load of `cluster` from the `windows` complete windows of `window_s` seconds before `now`.

    cooldown_s defaults to one window; lookback_s bounds how old a last known load may be;
    kafka_cluster_id picks the incarnation of the name (default: the newest, see MetricsStore); statistic
    ("mean", "p95" or "max") is taken over each partition's window means, to plan for the peak. Every step
    works on whole frames (partitions numbered 0..n-1 in (topic, partition) order, windows as columns
    of n x windows matrices): a per-partition Python loop took minutes at 20,000 partitions.
    """
    now = time.time() if now is None else now
    cooldown_s = window_s if cooldown_s is None else cooldown_s
    start, end = window_bounds(now, window_s, windows)
    which = kafka_cluster_id
    aggregated = store.aggregated(cluster, which)
    conflict = aggregation_conflict(aggregated, start, window_s, windows, cooldown_s)
    if conflict:
        raise MedicError(f"cannot build the load model of cluster {cluster!r}: {conflict}")
    bounds = [start + i * window_s for i in range(windows + 1)]
    stored = store.model_rows(cluster, start - cooldown_s, now, bounds, which)
    samples = stored.whole.assign(excluded=excluded_by_reassignment(stored.whole, cooldown_s))
    recent = pd.concat([samples, _excluded_as_whole(stored.newest, stored.whole, cooldown_s)], ignore_index=True)
    recent = _newest_round_in_progress(recent, end)
    earlier = store.latest_partition_samples(cluster, now - lookback_s, start - cooldown_s, which)
    answered = store.latest_broker_samples(cluster, now - lookback_s, start, which)
    brokers = _broker_status(store.broker_samples(cluster, start, now, which), answered, now, window_s)
    placement = _Placement.of(_stacked(earlier, recent))
    samples = samples[(samples.ts >= start) & (samples.ts < end)]
    cells = placement.number(samples) * windows + window_index(samples.ts, start, window_s).to_numpy()
    samples, cells = samples[cells >= 0], cells[cells >= 0]
    for broker in set(placement.replicas.broker.tolist()) - brokers.keys():
        brokers[broker] = BrokerStatus("no fresh samples", None, dict.fromkeys(BROKER_METRICS))
    n = len(placement.keys)
    sums = _Sums.of(_stacked(store.partition_windows(cluster, start, end, which), stored.sums),
                    placement, start, window_s, windows)  # fmt: skip
    summed = sums.covers(samples, cells // windows, aggregated)
    alive = placement.replicas.broker.isin([b for b, s in brokers.items() if s.alive]).to_numpy()
    reachable = np.bincount(placement.replicas.pid.to_numpy()[alive], minlength=n) > 0
    offline = (np.bincount(np.concatenate([cells, sums.cells]) // windows, minlength=n) == 0) & ~reachable

    valid = (samples.leader & ~samples.excluded & samples.bytes_in.notna()).to_numpy() & ~summed
    totals = sums.plus(samples[valid], cells[valid], n * windows)
    valid_cells = np.flatnonzero(totals.pop("present") & (totals["bytes_in_samples"] >= min_samples))
    in_window = np.zeros((n, windows), dtype=bool)  # partition x window: valid
    in_window.flat[valid_cells] = True
    considered = ~offline
    shares = in_window[considered].sum(axis=0) / max(int(considered.sum()), 1)
    valid_windows = int((shares >= min_valid_ratio).sum()) if considered.any() else 0

    def seen(flag: pd.Series, counted: np.ndarray) -> np.ndarray:
        """partition x window: a row with `flag`, raw or in the aggregates (whose `counted` > 0)."""
        cell = np.zeros(n * windows, dtype=bool)
        cell[cells[flag.to_numpy()]] = True
        cell[sums.cells[counted > 0]] = True
        return cell.reshape(n, windows)

    none = np.zeros(len(sums.cells))
    unrated = seen(samples.leader & ~samples.excluded & samples.bytes_in.isna(), sums.frame.unrated_samples.to_numpy())
    reasons = {
        "reassigning or cooling down": seen(samples.excluded, none),
        "no rates yet": unrated,
        "no leader samples": ~seen(samples.leader, sums.frame.leader_samples.to_numpy()),
    }
    incomplete = _incomplete(placement, reasons, in_window, considered, windows)
    ratio = 1 - len(incomplete) / int(considered.sum()) if considered.any() else 0.0

    with np.errstate(divide="ignore", invalid="ignore"):  # a rate without samples in a valid cell: NaN, left out
        means = pd.DataFrame({r: totals[r][valid_cells] / totals[f"{r}_samples"][valid_cells] for r in RATES})
    del totals
    rates = _rates(placement, _over_windows(means.groupby(valid_cells // windows), statistic), earlier)
    disk = _sizes(placement, recent, earlier) / MB
    lead = placement.leader_array()
    cpu = _apportion_cpu(rates, placement, lead, brokers, follower_cpu_ratio)
    loads = pd.DataFrame({"disk": disk, "nw_in": rates.bytes_in / KB, "nw_out": rates.bytes_out / KB, "cpu": cpu})
    return LoadModel(
        cluster=cluster,
        now=now,
        window_s=window_s,
        windows=windows,
        min_valid_ratio=min_valid_ratio,
        valid_windows=valid_windows,
        valid_partition_ratio=ratio,
        partition_load=dict(zip(placement.keys, loads.to_dict("records"), strict=True)),
        leaders={placement.keys[p]: b for p, b in enumerate(lead.tolist()) if b >= 0},
        replicas=placement.replica_lists(),
        brokers=dict(sorted(brokers.items())),
        broker_load=_broker_load(loads, placement, lead, brokers, follower_cpu_ratio),
        incomplete=incomplete,
        offline={placement.keys[p] for p in np.flatnonzero(offline).tolist()},
    )


def _excluded_as_whole(newest: pd.DataFrame, whole: pd.DataFrame, cooldown_s: float) -> pd.DataFrame:
    """`newest` with `excluded`: by the reassigning rows among `whole` for the partitions that have whole rows
    (a newest row may be one of theirs, or a kept row cooling down after them), false for the others."""
    near = pd.MultiIndex.from_frame(newest[PARTITION_KEY]).isin(pd.MultiIndex.from_frame(whole[PARTITION_KEY]))
    excluded = np.zeros(len(newest), dtype=bool)
    if near.any():
        rows = pd.concat([newest[near], whole], ignore_index=True)
        excluded[near] = excluded_by_reassignment(rows, cooldown_s).to_numpy()[: int(near.sum())]
    return newest.assign(excluded=excluded)


def _newest_round_in_progress(rows: pd.DataFrame, end: float) -> pd.DataFrame:
    """`rows` with, of the window in progress (from `end`), only its newest round and its reassigning rows.

    What the store reads of that window (MetricsStore.model_rows): up to an hour of rounds otherwise, 18M
    rows at 300k replicas. So placement, leaders and sizes up to now come from the newest round, and a
    replica missing from it (its broker stopped answering) keeps its newest rows from before the window.
    """
    later = (rows.ts >= end).to_numpy()
    if not later.any():
        return rows
    return rows[~later | (rows.ts == rows.ts[later].max()).to_numpy() | rows.reassigning.to_numpy()]


def _over_windows(per_partition, statistic: str) -> pd.DataFrame:
    """One rate per partition from its valid windows' means: their mean, 95th percentile or maximum."""
    if statistic == "p95":
        return per_partition.quantile(0.95)
    if statistic == "max":
        return per_partition.max()
    if statistic != "mean":
        raise MedicError(f"load statistic {statistic!r}: give mean, p95 or max")
    return per_partition.mean()


def _broker_status(samples: pd.DataFrame, earlier: pd.DataFrame, now: float, window_s: float):
    """Dead when the latest round says so; "no fresh samples" when no answer is younger than one window.

    `earlier` holds each broker's last answer before the windows: a broker silent for all of them
    keeps the time and the values of that answer (its last known load). Grouped once over all brokers:
    a loop per broker took over a second at 1,000 brokers and a day of rounds.
    """
    alive = samples[samples.alive]
    answered = pd.concat([alive, earlier[~earlier.broker.isin(alive.broker)]])
    by_broker = answered.groupby("broker")
    last, means = by_broker.ts.max(), by_broker[list(BROKER_METRICS)].mean()
    newest = samples[samples.ts == samples.groupby("broker").ts.transform("max")]
    dead = set(newest.broker[~newest.alive.astype(bool)].tolist())
    measured = means.astype(object).where(means.notna(), None).to_dict("index")
    status = {}
    for broker in sorted(set(samples.broker.tolist()) | set(earlier.broker.tolist())):
        seen = float(last[broker]) if broker in last.index else None
        if broker in dead:
            state = "dead"
        elif seen is None or now - seen > window_s:
            state = "no fresh samples"
        else:
            state = "alive"
        values = measured.get(broker, {})
        status[int(broker)] = BrokerStatus(state, seen, {m: _number(values.get(m)) for m in BROKER_METRICS})
    return status


@dataclass(frozen=True)
class _Placement:
    """The partitions of the model and where they are: the replicas each broker reported in its latest
    round, and the leader reported at the latest time. Partitions are numbered by their position in
    `keys`; a partition seen only in older rounds (a deleted topic, an older incarnation) is left out."""

    keys: list[PartitionId]
    index: pd.MultiIndex
    replicas: pd.DataFrame  # pid, broker: sorted by pid then broker
    leaders: pd.Series  # broker by (topic, partition), partitions of any round

    @classmethod
    def of(cls, samples: pd.DataFrame) -> _Placement:
        if samples.empty:
            empty = pd.DataFrame({"pid": np.zeros(0, dtype="int64"), "broker": np.zeros(0, dtype="int64")})
            return cls([], pd.MultiIndex.from_arrays([[], []], names=PARTITION_KEY), empty, pd.Series())
        rounds = samples.groupby(["broker", "source"])["ts"].transform("max")
        current = samples.loc[samples.ts == rounds, [*PARTITION_KEY, "broker"]].drop_duplicates()
        current = current.sort_values([*PARTITION_KEY, "broker"])
        topic, partition = current.topic.to_numpy(), current.partition.to_numpy()
        first = np.ones(len(current), dtype=bool)
        first[1:] = (topic[1:] != topic[:-1]) | (partition[1:] != partition[:-1])
        index = pd.MultiIndex.from_arrays([topic[first], partition[first]], names=PARTITION_KEY)
        keys = list(zip(topic[first].tolist(), partition[first].tolist(), strict=True))
        replicas = pd.DataFrame({"pid": np.cumsum(first) - 1, "broker": current.broker.to_numpy()})
        led = samples[samples.leader].sort_values("ts").groupby(PARTITION_KEY).tail(1)
        return cls(keys, index, replicas, led.set_index(PARTITION_KEY).broker)

    def number(self, frame: pd.DataFrame) -> np.ndarray:
        """The partition number of each row of `frame`; -1 for a partition not in the model."""
        if frame.empty or not self.keys:
            return np.full(len(frame), -1, dtype="int64")
        return self.index.get_indexer(pd.MultiIndex.from_arrays([frame.topic, frame.partition]))

    def leader_array(self) -> np.ndarray:
        """Each partition's leader, -1 when no leader was ever reported."""
        lead = np.full(len(self.keys), -1, dtype="int64")
        if len(self.leaders):
            pid = self.index.get_indexer(self.leaders.index)
            lead[pid[pid >= 0]] = self.leaders.to_numpy()[pid >= 0]
        return lead

    def replica_lists(self) -> dict[PartitionId, list[int]]:
        pid, brokers = self.replicas.pid.to_numpy(), self.replicas.broker.to_numpy()
        bounds = np.flatnonzero(np.diff(pid)) + 1
        return dict(zip(self.keys, (b.tolist() for b in np.split(brokers, bounds)), strict=False))


@dataclass(frozen=True)
class _Sums:
    """The store's sums of closed base windows (see MetricsStore.aggregate) of the model's partitions,
    with the cell (partition number * windows + window) each falls in."""

    frame: pd.DataFrame  # MetricsStore.partition_windows columns
    pids: np.ndarray
    cells: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame, placement: _Placement, start: float, window_s: float, windows: int) -> _Sums:
        pid = placement.number(frame)
        if (pid < 0).any():  # partitions not in the model; filtering copies, so only then
            frame, pid = frame[pid >= 0].reset_index(drop=True), pid[pid >= 0]
        return cls(frame, pid, pid * windows + window_index(frame.start, start, window_s).to_numpy())

    def covers(self, samples: pd.DataFrame, pids: np.ndarray, aggregated) -> np.ndarray:
        """Rows of `samples` (of partitions `pids`) in a base window with sums: rows it kept, counted there.
        A row in an aggregated window without sums is one of a partition near a reassignment: counted."""
        if aggregated is None or self.frame.empty or samples.empty:
            return np.zeros(len(samples), dtype=bool)
        base, since, until = aggregated
        row_bucket = np.floor(samples.ts.to_numpy() / base).astype("int64")
        first = int(row_bucket.min())
        summed = np.zeros((int(max(pids.max(), self.pids.max())) + 1, int(row_bucket.max()) - first + 1), dtype=bool)
        bucket = np.round(self.frame.start.to_numpy() / base).astype("int64") - first
        inside = (bucket >= 0) & (bucket < summed.shape[1])
        summed[self.pids[inside], bucket[inside]] = True
        in_range = ((samples.ts >= since) & (samples.ts < until)).to_numpy()
        return in_range & summed[pids, row_bucket - first]

    def plus(self, rows: pd.DataFrame, cells: np.ndarray, size: int) -> dict[str, np.ndarray]:
        """Per cell, of `size` cells: sums of RATES and their counts (`<rate>_samples`), raw rows and sums
        together, and whether the cell has either (`present`). Dense arrays by cell number: a group-by over
        the 2.4M cells of a 24-window build at 100k partitions took a second and 400 MB."""
        counts = {"bytes_in": "samples", "bytes_out": "bytes_out_samples", "messages_in": "messages_in_samples"}

        def total(of_rows: np.ndarray, of_sums: pd.Series) -> np.ndarray:
            summed = np.bincount(self.cells, weights=np.nan_to_num(of_sums.to_numpy(dtype="float64")), minlength=size)
            return summed + np.bincount(cells, weights=of_rows, minlength=size)

        totals = {"present": (np.bincount(self.cells, minlength=size) + np.bincount(cells, minlength=size)) > 0}
        for rate, count in counts.items():  # a missing rate or sum adds nothing, as in a pandas sum
            measured = rows[rate].to_numpy(dtype="float64")
            totals[rate] = total(np.nan_to_num(measured), self.frame[f"{rate}_sum"])
            totals[f"{rate}_samples"] = total(~np.isnan(measured), self.frame[count])
        return totals


def _stacked(*frames: pd.DataFrame) -> pd.DataFrame:
    """The frames one after another; not copied when only one has rows (a copy of 2.4M sums is 200 MB)."""
    filled = [frame for frame in frames if len(frame)]
    return pd.concat(filled, ignore_index=True) if len(filled) > 1 else (filled or frames)[0]


def _incomplete(
    placement: _Placement, reasons: dict[str, np.ndarray], valid: np.ndarray, considered, windows: int
) -> dict[PartitionId, str]:
    """Why each partition lacks a valid sample in some window: counts of windows per reason (`reasons`:
    partition x window matrices, true where that reason was seen)."""
    missing = ~valid
    counts = pd.DataFrame({why: (seen & missing).sum(axis=1) for why, seen in reasons.items()})
    counts = counts[considered & missing.any(axis=1)]
    texts = {
        combo: ", ".join(f"{why} in {k}" for why, k in zip(counts.columns, combo, strict=True) if k)
        + f" of {windows} windows"
        for combo in set(counts.itertuples(index=False, name=None))
    }
    return {
        placement.keys[p]: texts[combo]
        for p, combo in zip(counts.index.tolist(), counts.itertuples(index=False, name=None), strict=True)
    }


def _rates(placement: _Placement, measured: pd.DataFrame, earlier: pd.DataFrame) -> pd.DataFrame:
    """Rates from the valid windows (`measured`, by partition number), else the last known ones, else
    zero (unmeasured)."""
    known = earlier[earlier.leader & earlier.bytes_in.notna()].sort_values("ts")
    known = known.groupby(PARTITION_KEY)[RATES].last()
    pid = placement.number(known.reset_index())
    known = known.set_axis(pid)[(pid >= 0) & ~np.isin(pid, measured.index)]
    rates = pd.concat([measured, known]).reindex(range(len(placement.keys)))
    return rates.fillna(0.0)


def _sizes(placement: _Placement, samples: pd.DataFrame, earlier: pd.DataFrame) -> np.ndarray:
    """Bytes on disk from the best latest size we have, up to now (a level, unlike a rate, is best when
    newest): valid leader rows, any leader row, any replica, then earlier rounds; zero if none."""
    candidates = pd.concat(
        [
            samples.assign(rank=2 - samples.leader - (samples.leader & ~samples.excluded)),
            earlier.assign(rank=4 - earlier.leader),
        ]
    ).dropna(subset=["size"])
    best = candidates.sort_values(["rank", "ts"], ascending=[True, False]).groupby(PARTITION_KEY).head(1)
    sizes = np.zeros(len(placement.keys))
    pid = placement.number(best)
    sizes[pid[pid >= 0]] = best["size"].to_numpy()[pid >= 0]
    return sizes


def _apportion_cpu(rates: pd.DataFrame, placement: _Placement, lead: np.ndarray, brokers, ratio) -> np.ndarray:
    """cpu_p = c_b * leader_fraction_b * share_p (module docstring), per partition number; zero unled."""
    nw_in, nw_out = rates.bytes_in.to_numpy() / KB, rates.bytes_out.to_numpy() / KB
    msgs = rates.messages_in.to_numpy()
    led = lead >= 0
    by_leader = pd.DataFrame({"b": lead[led], "bytes": (nw_in + nw_out)[led], "msgs": msgs[led]}).groupby("b")
    totals = by_leader.agg(b_l=("bytes", "sum"), m_l=("msgs", "sum"), n=("bytes", "size"))
    pid, broker = placement.replicas.pid.to_numpy(), placement.replicas.broker.to_numpy()
    following = lead[pid] != broker
    b_f = pd.Series(nw_in[pid[following]]).groupby(broker[following]).sum()
    totals["b_f"] = b_f.reindex(totals.index, fill_value=0.0)
    totals["cpu"] = [(brokers[b].measured.get("cpu") if b in brokers else None) or 0.0 for b in totals.index]
    denominator = totals.b_l + ratio * totals.b_f
    totals["fraction"] = (totals.b_l / denominator.where(denominator > 0)).fillna(1.0)
    per = totals.loc[lead[led]]
    b_l, m_l, even = per.b_l.to_numpy(), per.m_l.to_numpy(), 1 / per.n.to_numpy()
    by_bytes = np.divide((nw_in + nw_out)[led], b_l, out=even.copy(), where=b_l > 0)
    by_msgs = np.divide(msgs[led], m_l, out=even.copy(), where=m_l > 0)
    cpu = np.zeros(len(lead))
    cpu[led] = per.cpu.to_numpy() * per.fraction.to_numpy() * (0.5 * by_bytes + 0.5 * by_msgs)
    return cpu


def _broker_load(loads: pd.DataFrame, placement: _Placement, lead, brokers, ratio) -> dict[int, dict[str, float]]:
    """Each broker's load by the spec's rules: leaders carry `load`, followers disk, nw_in and cpu * ratio."""
    pid, broker = placement.replicas.pid.to_numpy(), placement.replicas.broker.to_numpy()
    leads = lead[pid] == broker
    rows = loads.iloc[pid].reset_index(drop=True)
    rows["nw_out"] = rows.nw_out.where(leads, 0.0)
    rows["cpu"] = rows.cpu.where(leads, rows.cpu * ratio)
    totals = rows.groupby(broker).sum().to_dict("index")
    every = sorted(brokers.keys() | totals.keys())
    return {int(b): {k: float(v) for k, v in totals.get(b, ZERO).items()} for b in every}


def _number(value) -> float | None:
    return None if value is None else float(value)
