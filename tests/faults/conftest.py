"""The fault suite's shared cluster and its results table.

Every scenario injects a real fault (a killed controller, a full disk, a stopped database, a broker cut
off by its own network namespace) into real components while an acks=all producer writes, and records
what it measured: messages acknowledged and lost, throttles left, the execution's outcome and the time.
The rows are printed as a table at the end of the session (tests/conftest.py; docs/faults.md holds the
table of a run).
Scenarios share one KRaft cluster, started once; each leaves it whole (or says why not) for the next.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import pytest

from kafka_medic.devcluster import DevCluster

from ..integration.conftest import _healthy
from .network import Namespace, namespace

RESULTS: list[FaultResult] = []


@dataclass
class FaultResult:
    """One row of docs/faults.md."""

    scenario: str
    fault: str
    acked: int = 0
    lost: int = 0
    throttles_left: int = 0
    outcome: str = ""
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is a fault test and needs brokers: `-m "not kafka"` (make test-unit) leaves them out."""
    for item in items:
        if "tests/faults/" in str(item.path):
            item.add_marker("faults")
            item.add_marker("kafka")


def pytest_sessionfinish(session) -> None:
    """Under pytest-xdist the rows stay in the worker that ran the scenarios: hand them to the controller
    (tests/conftest.py prints the table there)."""
    if hasattr(session.config, "workeroutput"):
        session.config.workeroutput["fault_results"] = [asdict(r) for r in RESULTS]


@pytest.fixture
def record(request) -> Iterator[FaultResult]:
    """The test's row: it fills in the figures; the time is taken here, the row kept even if it fails."""
    row = FaultResult(scenario=request.node.name, fault="")
    yield row
    row.seconds = time.monotonic() - row.started
    RESULTS.append(row)


@pytest.fixture(scope="session")
def broker_4_namespace() -> Iterator[Namespace]:
    with namespace() as ns:
        yield ns


@pytest.fixture(scope="session")
def fault_cluster(tmp_path_factory, broker_4_namespace) -> Iterator[DevCluster]:
    """KRaft, one controller, brokers 1-4 in racks r1/r2, broker 4 in a network namespace of its own (to
    partition): the suite's own cluster, since the faults damage it."""
    ns = broker_4_namespace
    name = f"faults-{os.getpid()}"
    cluster = DevCluster(name=name, home=tmp_path_factory.mktemp(name), brokers=4, racks=2, mode="kraft",
                         base_port=0, host=ns.host_address, netns={4: (ns.name, ns.address)})
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down()


@pytest.fixture
def whole_cluster(fault_cluster, broker_4_namespace) -> DevCluster:
    """`fault_cluster` joined, every node alive and no throttle, whatever the last scenario left."""
    broker_4_namespace.heal()
    fault_cluster.up()  # restarts a dead controller (and brokers) in place
    return _healthy(fault_cluster)
