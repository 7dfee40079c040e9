"""What a sampler reports: one timestamped observation per broker and per partition replica.

Rates are per second over the interval that ends at `ts` (a sampler measures them from two
readings of a counter), so every source, whether Admin API, JMX exporter or Prometheus, stores the
same quantities and the window aggregation never needs to know where a value came from.
"""

from __future__ import annotations

from dataclasses import dataclass

# Per-broker quantities: bytes and requests per second, idle ratio 0-1, CPU percent of the broker 0-100.
BROKER_METRICS = (
    "bytes_in",
    "bytes_out",
    "replication_bytes_in",
    "replication_bytes_out",
    "produce_requests",
    "fetch_requests",
    "request_handler_idle",
    "cpu",
)
# Per-partition-replica quantities: `size` in bytes on that replica; rates per second (leader rows only).
PARTITION_METRICS = ("size", "bytes_in", "bytes_out", "messages_in")


@dataclass(frozen=True)
class BrokerSample:
    """`alive=False` records that a broker known from replica lists did not answer."""

    ts: float
    broker: int
    source: str
    alive: bool = True
    bytes_in: float | None = None
    bytes_out: float | None = None
    replication_bytes_in: float | None = None
    replication_bytes_out: float | None = None
    produce_requests: float | None = None
    fetch_requests: float | None = None
    request_handler_idle: float | None = None
    cpu: float | None = None


@dataclass(frozen=True)
class PartitionSample:
    """One replica of one partition on `broker`; `reassigning` marks samples that load estimates skip."""

    ts: float
    topic: str
    partition: int
    broker: int
    source: str
    leader: bool = False
    reassigning: bool = False
    size: float | None = None
    bytes_in: float | None = None
    bytes_out: float | None = None
    messages_in: float | None = None
