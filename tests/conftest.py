"""Shared fixtures: real servers on free loopback ports (see tests/servers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


TESTS = Path(__file__).resolve().parent
# Directories whose files share session fixtures (a real backfill built once): under
# pytest-xdist the whole directory runs on one worker, so the backfill is built once.
SHARED_SESSION_DIRS = ("app/report", "renderers")


def _group(item: pytest.Item) -> str:
    rel = item.path.resolve().relative_to(TESTS).as_posix()
    for shared in SHARED_SESSION_DIRS:
        if rel.startswith(shared + "/"):
            return shared
    return rel


# tryfirst: pytest-xdist reads the group marks in its own hook of this name.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """One xdist group per test file (a module's fixtures are built once), longest first.

    With ``-n auto --dist loadgroup`` (the README's test command) each group runs on one
    worker. Groups holding a ``slow`` test start first, so no worker is left alone with a
    long backfill at the end; order within a group is kept.
    """
    groups = {id(item): _group(item) for item in items}
    slow = {groups[id(item)] for item in items if item.get_closest_marker("slow")}
    for item in items:
        item.add_marker(pytest.mark.xdist_group(groups[id(item)]))
    items.sort(key=lambda item: groups[id(item)] not in slow)
