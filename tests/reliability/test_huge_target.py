"""A target answering 300,000 series in under 9 MB (inside a 10 MiB body cap): parsing
counts against the scrape timeout, so each scrape fails whole with a reason at its
deadline instead of overrunning the interval, and memory stays flat scrape after scrape."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import psutil
import pytest

from collectors.exposition import ExpositionCollector
from collectors.limits import ScrapeLimits
from monitoring.clock import WallClock
from monitoring.scrape import Scraper
from tests.collectors.loopback import payload_server

SERIES = 300_000
CAP = 10 * 2**20
TIMEOUT_S = 0.5  # far below what parsing this many series takes
SCRAPES = 6


def _body() -> bytes:
    lines = ["# TYPE wide gauge\n"]
    lines += [f'wide{{id="{i:06d}",s="{i % 16}"}} {i % 10}\n' for i in range(SERIES)]
    return "".join(lines).encode()


@pytest.fixture(scope="module")
def wide_target() -> Iterator[tuple[str, int]]:
    body = _body()
    with payload_server() as server:
        server.serve(body, "text/plain; version=0.0.4")
        yield server.url, len(body)


def test_the_body_is_under_the_cap(wide_target):
    _, size = wide_target
    assert size < CAP


def test_parsing_counts_against_the_timeout_and_memory_stays_flat(wide_target):
    url, size = wide_target
    collector = ExpositionCollector("wide", url, WallClock(), timeout_s=TIMEOUT_S,
                                    limits=ScrapeLimits(body_size_limit=CAP))
    scraper = Scraper([collector])
    proc = psutil.Process()
    rss: list[int] = []
    durations: list[float] = []
    try:
        for _ in range(SCRAPES):
            cycle = scraper.cycle(WallClock().now())
            (health,) = cycle.health
            assert not health.up
            assert health.reason is not None
            assert f"timeout after {TIMEOUT_S:g}s (parsing {size} bytes" in health.reason
            assert health.samples == 2  # up and scrape_duration_seconds, nothing half-read
            durations.append(health.duration_s)
            gc.collect()
            rss.append(proc.memory_info().rss)
    finally:
        scraper.close()
    # Stopped at the deadline, give or take one look at the clock (1,024 lines), never
    # the many seconds the whole parse takes.
    assert max(durations) < TIMEOUT_S + 1.0, durations
    # Nothing of a failed scrape is kept: the last scrapes use no more than the first.
    growth = max(rss[2:]) - rss[1]
    assert growth < 64 * 2**20, [r // 2**20 for r in rss]
