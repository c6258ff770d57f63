"""Shared fixtures: real servers on free loopback ports (see tests/servers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import PostgresServer, RedisServer, free_port

__all__ = ["free_port"]


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server_session() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server_session() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


@pytest.fixture(name="free_port")
def free_port_fixture() -> int:
    """A free loopback port (the plain function is ``tests.servers.free_port``)."""
    return free_port()
