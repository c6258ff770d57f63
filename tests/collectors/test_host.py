"""HostCollector on this very process and on a process that is gone."""

from __future__ import annotations

import subprocess
import sys

from collectors.host import HostCollector
from tests.collectors.clock import FixedClock, by_name, meta

NAMES = {
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_threads",
    "host_cpu_percent",
    "host_memory_used_bytes",
    "host_memory_total_bytes",
}


def test_this_process() -> None:
    result = HostCollector("self", FixedClock()).collect()
    assert result.up and meta(result, "up") == 1.0
    values = {name: samples[0].value for name, samples in by_name(result).items()}
    assert values.keys() >= NAMES
    assert values["process_resident_memory_bytes"] > 1_000_000
    assert values["process_threads"] >= 1 and values["process_open_fds"] >= 3
    assert 0 < values["host_memory_used_bytes"] <= values["host_memory_total_bytes"]
    assert 0 <= values["host_cpu_percent"] <= 100


def test_gone_process() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    result = HostCollector("worker", FixedClock(), pid=proc.pid).collect()
    assert not result.up and f"process {proc.pid} not found" in result.reason
