"""The soak in short: hours of virtual serve time with faults on a schedule, and nothing
lost (the full run is ``python bench/bench_soak.py --minutes 10``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "bench_soak", Path(__file__).resolve().parents[2] / "bench" / "bench_soak.py")
assert _spec is not None and _spec.loader is not None
bench_soak = importlib.util.module_from_spec(_spec)
sys.modules["bench_soak"] = bench_soak  # its dataclasses look themselves up there
_spec.loader.exec_module(bench_soak)


@pytest.mark.slow
def test_short_soak_loses_nothing(tmp_path):
    r = bench_soak.run_soak(wall_s=45, work=tmp_path, max_virtual_s=8 * 3600)
    assert r.virtual_s >= 4 * 3600, r  # at least a few hours of virtual time
    assert r.samples_lost == 0 and r.points_written > 0, r
    assert r.scrapes_ok == r.scrapes_scheduled and r.job_failures == 0, r
    assert r.faults_injected >= 4 and r.alerts_expected >= 4, r
    assert r.alerts_fired == r.alerts_expected == r.alerts_resolved, r
    assert r.notifications_delivered == r.alerts_fired + r.alerts_resolved, r
    assert r.rss_growth_mb < 64, r
