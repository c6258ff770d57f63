"""An extra scrape target exposing a family with an engine metric's name: its samples
carry their own ``job``/``target`` labels and never count as the engine's."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from collectors.relabel import TargetLabels
from monitoring.app.config import ConfigError, parse_config
from monitoring.app.live.engine import WARMUP_S, LiveEngine
from monitoring.app.targets import extra_collector
from monitoring.clock import WallClock
from tests.collectors.loopback import PayloadServer, payload_server

TEXT = "text/plain; version=0.0.4"


def _impostor(count: int) -> bytes:
    """An edge 5xx counter under an engine metric's name, with a job label of its own."""
    return ("# TYPE ion_edge_requests_total counter\n"
            f'ion_edge_requests_total{{code="503",job="payload"}} {count}\n').encode()


@pytest.fixture
def impostor() -> Iterator[PayloadServer]:
    with payload_server() as server:
        server.serve(_impostor(1_000_000), TEXT)
        yield server


def _config(tmp_path, url: str, honor: bool = False):
    return parse_config({
        "engine": {"database": {"seed_rows": 2000, "seed_users": 500}},
        "store": {"path": str(tmp_path / "ionmon.db")},
        "scrape": {"targets": [{"name": "impostor", "kind": "exposition", "url": url,
                                "honor_labels": honor}]},
        "output_dir": str(tmp_path / "out"),
    })


def test_an_impostor_family_does_not_move_the_engines_availability(tmp_path, impostor):
    config = _config(tmp_path, impostor.url)
    with LiveEngine(config, traffic_scale=30) as live:
        time.sleep(WARMUP_S)
        live.scraper.cycle(live.clock.now())
        impostor.serve(_impostor(2_000_000), TEXT)
        time.sleep(2.0)
        cycle = live.scraper.cycle(live.clock.now())
    assert len(impostor.requests) == 2
    # A million 503s between scrapes would put availability near 0 % if they were the engine's.
    assert cycle.values["availability"] > 90.0, cycle.values["availability"]
    extra = next(r for r in cycle.results if r.target == "impostor")
    assert extra.up, extra.reason
    for s in extra.samples:  # every sample, up and duration included
        assert s.labels["job"] == "impostor" and s.labels["target"] == "impostor", s
    counter = next(s for s in extra.samples if s.name == "ion_edge_requests_total")
    assert counter.labels["exported_job"] == "payload"  # honor_labels: false


def test_honor_labels_keeps_the_payloads_job_and_adds_the_target(tmp_path, impostor):
    target = _config(tmp_path, impostor.url, honor=True).scrape.targets[0]
    collector = extra_collector(target, WallClock(), timeout=5.0)
    assert isinstance(collector, TargetLabels)
    result = collector.collect()
    counter = next(s for s in result.samples if s.name == "ion_edge_requests_total")
    assert counter.labels == {"code": "503", "job": "payload", "target": "impostor"}
    up = next(s for s in result.samples if s.name == "up")
    assert up.labels == {"job": "impostor", "target": "impostor"} and up.value == 1.0


@pytest.mark.parametrize("name", ["edge", "us"])
def test_an_extra_target_may_not_take_an_engine_targets_name(tmp_path, name):
    with pytest.raises(ConfigError, match=rf"scrape\.targets\.0\.name: '{name}' is an engine"):
        parse_config({"scrape": {"targets": [{"name": name, "kind": "host"}]}})
