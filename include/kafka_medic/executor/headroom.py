"""Throttle rates from measured headroom, as DataDog's autothrottle: capacity minus what clients use now.

A broker serves replication out as a leader and takes it in as a follower, so its leader rate is the
outbound network it has left and its follower rate the inbound network it has left, each a share
(`fraction`) of its capacity minus the traffic the sampler measured most recently: clients' bytes
plus the replication that keeps followers in sync (a follower of a busy partition takes in what its
leader takes in). A floor keeps a busy broker's moves from stalling entirely. The rates are computed
when throttles are set (at the start, and again on resume); replication measured then includes any
move already in flight, so a resumed execution is throttled more carefully, never less.
"""

from __future__ import annotations

import time

from kafka_medic.capacity import Capacities
from kafka_medic.errors import MedicError
from kafka_medic.metrics.store import MetricsStore

KB = 1024  # capacity files give network in KB/s, like the cluster model
MIN_RATE = 1024 * 1024  # bytes/s


def headroom_rates(
    capacities: Capacities, traffic: dict[int, tuple[float, float]], fraction: float, minimum: int = MIN_RATE
) -> dict[int, tuple[int, int]]:
    """broker -> (leader rate, follower rate) in bytes/s from (bytes_in, bytes_out) per second now."""
    rates = {}
    for broker, (bytes_in, bytes_out) in traffic.items():
        cap = capacities.for_broker(broker)
        leader = cap.nw_out * KB * fraction - bytes_out
        follower = cap.nw_in * KB * fraction - bytes_in
        rates[broker] = (max(minimum, int(leader)), max(minimum, int(follower)))
    return rates


def measured_traffic(store: MetricsStore, cluster: str, brokers: list[int], window_s: float = 300.0):
    """broker -> (bytes in, bytes out) per second, replication included, from the latest sample within the window.

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
        last = rows.iloc[-1].fillna(0.0)
        traffic[broker] = (float(last["bytes_in"] + last["replication_bytes_in"]),
                           float(last["bytes_out"] + last["replication_bytes_out"]))
    return traffic
