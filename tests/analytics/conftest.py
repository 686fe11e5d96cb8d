"""What the event log's tests share: a real PostgreSQL for the tests that run on both databases."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.helpers.postgres import PostgresServer, start_postgres


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """One throw-away PostgreSQL cluster per test module (each test makes its own database in it)."""
    server = start_postgres()
    yield server
    server.remove()
