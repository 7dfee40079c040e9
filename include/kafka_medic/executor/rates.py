"""The replication rates an execution puts on brokers: fixed, or each broker's measured headroom,
recomputed while the moves run (auto throttle; the arithmetic is in `headroom`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from kafka_medic.capacity import load_capacities
from kafka_medic.errors import MedicError
from kafka_medic.executor import journal as j
from kafka_medic.executor.journal import Journal, TaskRecord
from kafka_medic.executor.options import ExecutionOptions
from kafka_medic.executor.submit import with_admin
from kafka_medic.executor.tasks import REPLICA, Task
from kafka_medic.executor.throttles import BROKER, set_broker_rates
from kafka_medic.kafka.config import ClusterConfig
from kafka_medic.kafka.state import THROTTLE_RATE_CONFIGS

if TYPE_CHECKING:
    from kafka_medic.executor.execution import Execution


# Kafka holds a throttled copy to its rate only over its quota span (replication.quota.window.num 11 x
# window.size.seconds 1 by default): within it the copy comes in fetches that can read several times the
# rate over a few seconds. Averaged over twice the span, the copy is counted near its rate, not taken for
# other traffic that would push the throttle down.
COPY_AVERAGE_MIN_S = 22.0


def throttled_brokers(records: list[TaskRecord], alive: set[int]) -> list[int]:
    """The live brokers the replica moves still to do involve: the ones to throttle."""
    to_do = (j.PENDING, j.HELD, j.SUBMITTING, j.SUBMITTED)
    remaining = [r.task for r in records if r.task.kind == REPLICA and r.state in to_do]
    return sorted({b for t in remaining for b in (*t.old_replicas, *t.new_replicas)} & alive)


def throttle_rates(execution: Execution, options: ExecutionOptions, brokers: list[int]) -> dict[int, tuple[int, int]]:
    """Fixed rates, or headroom from the samples in the store the journal lives in (the metrics store)."""
    if options.throttle is not None:
        return {b: (int(options.throttle), int(options.throttle)) for b in brokers}
    return _headroom(execution.config, options, brokers, execution.journal.url)[0]


def retune_throttles(execution: Execution, options: ExecutionOptions, records: list[TaskRecord],
                     copying: list[Task], alive: set[int]) -> None:
    """Auto throttle: the rates again from the latest samples, put on the brokers where they changed enough.

    `copying`: the moves in flight now or at the last retune (a move that has just finished is still in
    the samples).
    """
    from kafka_medic.executor.headroom import changed_rates, describe_change

    current = applied_rates(execution.journal, execution.id)
    brokers = throttled_brokers(records, alive)
    # What our own moves may be copying: a source sends at most its leader rate, a destination takes in
    # at most its follower rate.
    ours = {b: (current[b][0] if any(b in t.old_replicas for t in copying) else 0,
                current[b][1] if any(b in t.added for t in copying) else 0) for b in brokers if b in current}
    try:
        rates, traffic = _headroom(execution.config, options, brokers, execution.journal.url, ours,
                                   max(options.auto_throttle_interval_s, COPY_AVERAGE_MIN_S))
    except MedicError as exc:
        execution.log(f"WARNING throttle rates kept as they are: {exc}")
        return
    changes = changed_rates({b: current[b] for b in brokers if b in current}, rates)
    if not changes:
        return
    outside = with_admin(execution.config,
                         lambda admin: set_broker_rates(admin, execution.journal, execution.id, changes, current))
    for broker, pair in changes.items():
        if broker in outside:
            execution.log(f"throttle: broker {broker} left as it is: its rates were changed outside kafka-medic")
        else:
            execution.log(describe_change(broker, current.get(broker), pair, traffic[broker]))


def _headroom(config: ClusterConfig, options: ExecutionOptions, brokers: list[int], store_url: str,
              ours: Mapping[int, tuple[float, float]] | None = None, average_s: float = 0.0):
    """(broker -> auto-throttle rates, broker -> the traffic measured) from the latest samples."""
    from kafka_medic.executor.headroom import headroom_rates, measured_traffic
    from kafka_medic.metrics.store import MetricsStore

    with MetricsStore(store_url) as store:
        traffic = measured_traffic(store, config.name, brokers, average_s=average_s)
    capacities = load_capacities(options.capacity_file)
    return headroom_rates(capacities, traffic, options.auto_throttle_fraction, ours=ours), traffic


def applied_rates(journal: Journal, execution_id: str) -> dict[int, tuple[int, int]]:
    """broker -> (leader, follower) rate this execution has put on it."""
    leader, follower = THROTTLE_RATE_CONFIGS
    applied = {(r.name, r.config): int(r.applied) for r in journal.throttles(execution_id)
               if r.resource == BROKER and not r.cleared and r.applied is not None}
    return {int(name): (applied[(name, leader)], applied[(name, follower)])
            for name, config in applied if config == leader and (name, follower) in applied}
