"""Fixtures shared by the unit and integration tests."""

from __future__ import annotations

import pytest

from .postgres_server import PostgresServer


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server for the session (tests/postgres_server.py), deleted afterwards."""
    with PostgresServer() as server:
        yield server.url
