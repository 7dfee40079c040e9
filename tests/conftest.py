"""Fixtures shared by the unit and integration tests."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from .postgres_server import PostgresServer


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server for the session (tests/postgres_server.py), deleted afterwards."""
    with PostgresServer() as server:
        yield server.url


@pytest.fixture
def fresh_postgres_url(postgres_url):
    """An empty database of the test's own on the session's server: a store's tables and schema revision
    start from nothing whatever other tests left in theirs."""
    name = f"t{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{postgres_url.rsplit('/', 1)[0]}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """An empty store: a SQLite file, then a PostgreSQL database of the test's own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """A pytest-xdist worker is done: keep the fault suite's rows it ran (tests/faults/conftest.py)."""
    from .faults.conftest import RESULTS, FaultResult

    RESULTS.extend(FaultResult(**row) for row in node.workeroutput.get("fault_results", []))


def pytest_terminal_summary(terminalreporter) -> None:
    """The fault suite's table (docs/faults.md), whichever process ran its scenarios."""
    from .faults.conftest import RESULTS

    if not RESULTS:
        return
    terminalreporter.section("fault suite")
    terminalreporter.write_line("| scenario | fault | messages acked | lost | throttles left | outcome | time |")
    terminalreporter.write_line("|---|---|---|---|---|---|---|")
    for r in RESULTS:
        terminalreporter.write_line(f"| {r.scenario} | {r.fault} | {r.acked} | {r.lost} | {r.throttles_left} | "
                                    f"{r.outcome} | {r.seconds:.0f} s |")
