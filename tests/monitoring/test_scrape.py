"""Scrapes sent between processes as frames derive what the scrapes themselves do."""

from __future__ import annotations

import math
import pickle
from itertools import chain

from collectors.base import Sample, ScrapeResult
from collectors.registry import RegistryCollector
from engine.clock import ManualClock
from engine.cluster import Cluster
from engine.traffic import TrafficModel
from monitoring.catalog import RECORDED
from monitoring.expr import Snapshot
from monitoring.scrape import FrameDecoder, FrameEncoder, Scraper, TargetHealth
from tests.engine.conftest import START, small_config

MINUTES = 40


class RowsOnly(Snapshot):
    """A snapshot whose rates all take the per-series loop of ``Rate.evaluate``."""

    def column(self, name: str) -> None:
        return None


def test_frames_derive_every_series_as_the_per_series_loop_does() -> None:
    config = small_config()
    clock = ManualClock(START)
    traffic = TrafficModel(config)
    per_scrape = Scraper([], window_scrapes=5)
    framed = Scraper([], window_scrapes=5)
    encoder, decoder = FrameEncoder(), FrameDecoder()
    compared = set()
    with Cluster(config, clock) as cluster:
        collectors = [RegistryCollector(name, (lambda n=name: cluster.registries().get(n)),
                                        clock) for name in ("edge", *config.regions)]
        for minute in range(MINUTES):
            if minute == 10:  # series appear mid-window: builder errors, an L2 outage
                cluster.faults.start("builder_errors", "analyst", rate=0.5)
                cluster.faults.start("l2_down", "eu")
            if minute == 20:  # a target vanishes, then comes back
                cluster.faults.start("region_down", "asia")
            if minute == 26:
                cluster.faults.stop_all()
            t0 = START + minute * 60
            for r in traffic.requests_for(t0, t0 + 60):
                clock.advance(max(0.0, r.ts - clock.now()))
                cluster.request(r.region, r.method, r.path, r.body)
            clock.advance(t0 + 60 - clock.now())
            cluster.tick()
            results = [c.collect() for c in collectors]
            want = per_scrape.derive(
                RowsOnly(clock.now(), chain.from_iterable(r.samples for r in results)),
                tuple(TargetHealth.of(r) for r in results), tuple(results))
            frame = pickle.loads(pickle.dumps(encoder.encode(clock.now(), results)))
            got = framed.derive(*decoder.decode(frame, with_results=True))
            assert got.values == want.values, minute
            assert got.health == want.health
            assert [_plain(r) for r in got.results] == [_plain(r) for r in results]
            compared.update(got.values)
    assert compared == set(RECORDED), "every recorded series was derived at least once"


def test_a_frame_carries_stale_markers_rejections_and_a_failed_target() -> None:
    stale = Sample("gone_total", {"region": "us"}, math.nan, 60.0)
    results = (
        ScrapeResult("us", 60.0, True, 0.01,
                     (Sample("up", {"target": "us"}, 1.0, 60.0),
                      Sample("c_total", {"region": "us"}, 3.0, 59.5)),
                     rejected=("bad_family: no TYPE",), stale=(stale,)),
        ScrapeResult("eu", 60.0, False, 0.02, (Sample("up", {"target": "eu"}, 0.0, 60.0),),
                     reason="eu: connection refused"),
    )
    encoder, decoder = FrameEncoder(), FrameDecoder()
    for ts in (60.0, 120.0):  # the second frame sends no new series, only numbers
        frame = encoder.encode(ts, results)
        assert (len(frame.new_series) > 0) == (ts == 60.0)
        snapshot, health, decoded = decoder.decode(frame, with_results=True)
        assert [_plain(r) for r in decoded] == [_plain(r) for r in results]
        assert health == tuple(TargetHealth.of(r) for r in results)
        assert snapshot.series("c_total") == {(("region", "us"),): 3.0}
        assert snapshot.series("gone_total") == {}  # stale markers are no sample


def _plain(result: ScrapeResult) -> tuple[object, ...]:
    def samples(xs: tuple[Sample, ...]) -> list[tuple[object, ...]]:
        return [(s.name, dict(s.labels), "nan" if math.isnan(s.value) else s.value, s.ts)
                for s in xs]
    return (result.target, result.ts, result.up, result.duration_s, result.reason,
            result.rejected, samples(result.samples), samples(result.stale))
