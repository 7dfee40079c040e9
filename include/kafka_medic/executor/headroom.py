"""Throttle rates from measured headroom, as DataDog's autothrottle: capacity minus what clients use now.

A broker serves replication out as a leader and takes it in as a follower, so its leader rate is the
outbound network it has left and its follower rate the inbound network it has left, each a share
(`fraction`) of its capacity minus the traffic the sampler measured most recently: clients' bytes
plus the replication that keeps followers in sync (a follower of a busy partition takes in what its
leader takes in). A floor keeps a busy broker's moves from stalling entirely.

The rates are computed when throttles are set (at the start, and on resume: replication measured then
includes any move in flight, so a resumed execution is throttled more carefully, never less) and again
every `auto_throttle_interval_s` while moves run. Then the execution's own copying is part of the
measured replication: up to the rate it is throttled to is taken out again, or the throttle would
shrink a little more at each recompute for traffic that is only its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import NamedTuple

from kafka_medic.capacity import Capacities
from kafka_medic.errors import MedicError
from kafka_medic.metrics.store import MetricsStore
from kafka_medic.units import KB, MB

MIN_RATE = MB  # bytes/s
SIGNIFICANT_CHANGE = 0.1  # rates that change less than this share are left as they are (no config churn)


class Traffic(NamedTuple):
    """A broker's bytes per second now: clients' and replication, in and out."""

    clients_in: float
    clients_out: float
    replication_in: float
    replication_out: float


def headroom_rates(
    capacities: Capacities, traffic: dict[int, Traffic], fraction: float, minimum: int = MIN_RATE,
    ours: Mapping[int, tuple[float, float]] | None = None,
) -> dict[int, tuple[int, int]]:
    """broker -> (leader rate, follower rate) in bytes/s.

    `ours`: broker -> (leader, follower) rate the execution's moves in flight may be copying at now,
    taken out of the measured replication (never out of the clients' traffic).
    """
    rates = {}
    for broker, t in traffic.items():
        own_out, own_in = (ours or {}).get(broker, (0.0, 0.0))
        cap = capacities.for_broker(broker)
        leader = cap.nw_out * KB * fraction - t.clients_out - max(0.0, t.replication_out - own_out)
        follower = cap.nw_in * KB * fraction - t.clients_in - max(0.0, t.replication_in - own_in)
        rates[broker] = (max(minimum, int(leader)), max(minimum, int(follower)))
    return rates


def changed_rates(current: dict[int, tuple[int, int]], new: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """The brokers whose new rates differ from the current ones by more than SIGNIFICANT_CHANGE, or have none."""
    def differs(old: int, rate: int) -> bool:
        return abs(rate - old) > SIGNIFICANT_CHANGE * old
    return {b: pair for b, pair in new.items()
            if b not in current or any(differs(o, n) for o, n in zip(current[b], pair, strict=True))}


def describe_change(broker: int, old: tuple[int, int] | None, new: tuple[int, int], traffic: Traffic) -> str:
    """One log line: the broker's rates before and after, and the traffic measured that decided them."""
    before = f"{old[0] / MB:.1f}/{old[1] / MB:.1f}" if old else "none"
    return (f"throttle: broker {broker} leader/follower {before} -> {new[0] / MB:.1f}/{new[1] / MB:.1f} MB/s "
            f"(in/out MB/s: clients {traffic.clients_in / MB:.2f}/{traffic.clients_out / MB:.2f}, "
            f"replication {traffic.replication_in / MB:.2f}/{traffic.replication_out / MB:.2f})")


def measured_traffic(store: MetricsStore, cluster: str, brokers: list[int], window_s: float = 300.0,
                     average_s: float = 0.0):
    """broker -> Traffic: the latest sample within the window, or the mean of the samples taken in the
    `average_s` before it (a throttled copy runs in bursts of a few seconds, so one short sample can
    show it at zero or at twice its rate).

    A broker without samples is an error: guessing its headroom could throttle it above what it can take.
    """
    now = time.time()
    frame = store.broker_samples(cluster, now - window_s, now + 1)
    traffic = {}
    for broker in brokers:
        rows = frame[(frame["broker"] == broker) & frame["alive"]].dropna(subset=["bytes_in", "bytes_out"])
        if rows.empty:
            raise MedicError(
                f"no traffic samples for broker {broker} of cluster {cluster!r} in the last {window_s:.0f}s: "
                "run the sampler, or give a fixed throttle (--throttle MB/s)"
            )
        recent = rows[rows["ts"] >= rows["ts"].iloc[-1] - average_s].fillna(0.0)
        traffic[broker] = Traffic(*(float(recent[c].mean()) for c in
                                    ("bytes_in", "bytes_out", "replication_bytes_in", "replication_bytes_out")))
    return traffic
