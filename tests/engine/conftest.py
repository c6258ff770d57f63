"""Engine fixtures: a virtual clock and a small cluster (fast to seed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from engine.clock import ManualClock
from engine.cluster import Cluster
from engine.config import DatabaseConfig, EngineConfig

START = 1_700_006_400.0


def small_config(**overrides: Any) -> EngineConfig:
    return EngineConfig(database=DatabaseConfig(seed_rows=2_000, seed_users=500), **overrides)


def body(**payload: Any) -> bytes:
    return json.dumps(payload).encode()


def sample(cluster: Cluster, target: str, name: str, **labels: str) -> float:
    value = cluster.registries()[target].get_sample_value(name, {"region": target, **labels}
                                                          if target != "edge" else labels)
    return 0.0 if value is None else value


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def cluster(clock: ManualClock) -> Iterator[Cluster]:
    with Cluster(small_config(), clock) as c:
        yield c
