"""Series that vanish from a target get Prometheus's stale marker, never a rate."""

from __future__ import annotations

import math

from collectors.exposition import ExpositionCollector
from collectors.staleness import STALE_NAN, is_stale
from monitoring.expr import Rate, Selector, Snapshot
from monitoring.scrape import Scraper
from tests.collectors.clock import FixedClock
from tests.collectors.loopback import payload_server

TEXT = "text/plain; version=0.0.4"


def test_stale_marker_is_the_prometheus_nan() -> None:
    assert math.isnan(STALE_NAN) and is_stale(STALE_NAN)
    assert not is_stale(math.nan) and not is_stale(1.0)


def test_a_vanished_series_is_marked_stale_and_gets_no_rate() -> None:
    clock = FixedClock(0.0)
    with payload_server() as server:
        scraper = Scraper([ExpositionCollector("svc", server.url, clock)])
        server.serve(b'c_total{r="a"} 10\nc_total{r="b"} 10\n', TEXT)
        first = scraper.cycle(0.0)
        assert first.results[0].stale == ()
        clock.ts = 60.0
        server.serve(b'c_total{r="a"} 70\n', TEXT)
        second = scraper.cycle(60.0)
        (marker,) = second.results[0].stale
        assert (marker.name, dict(marker.labels), marker.ts) == ("c_total", {"r": "b"}, 60.0)
        assert is_stale(marker.value)
        # The markers stay out of the samples, so the derivation never reads one.
        assert all(not is_stale(s.value) for s in second.results[0].samples)
        prev = Snapshot(0.0, first.results[0].samples)
        cur = Snapshot(60.0, second.results[0].samples)
        assert Rate(Selector("c_total")).evaluate(prev, cur) == {(("r", "a"),): 1.0}
        # A failed scrape marks every series of the last good one stale.
        clock.ts = 120.0
        server.serve(b"not an exposition {\n", TEXT)
        third = scraper.cycle(120.0)
        assert not third.results[0].up
        assert {s.name for s in third.results[0].stale} == {"c_total"}
        assert [dict(s.labels) for s in third.results[0].stale if s.name == "c_total"] \
            == [{"r": "a"}]
        scraper.close()
