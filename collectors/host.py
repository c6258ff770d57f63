"""A process and its host via psutil (CPU, memory, file descriptors, threads)."""

from __future__ import annotations

import os
import time

import psutil

from collectors.base import Sample, ScrapeResult
from collectors.scrape import Clock, finish


class HostCollector:
    """``pid`` defaults to the current process."""

    def __init__(self, target: str, clock: Clock, pid: int | None = None) -> None:
        self.target = target
        self.clock = clock
        self.pid = os.getpid() if pid is None else pid
        # cpu_percent(None) compares with the previous call; prime it so the first
        # collection reports the time since construction rather than a fixed 0.
        psutil.cpu_percent(interval=None)

    def collect(self) -> ScrapeResult:
        ts = self.clock.now()
        started = time.perf_counter()
        try:
            proc = psutil.Process(self.pid)
            with proc.oneshot():
                cpu = proc.cpu_times()
                rss = proc.memory_info().rss
                fds = proc.num_fds()
                threads = proc.num_threads()
        except psutil.NoSuchProcess:
            reason = f"{self.target}: process {self.pid} not found"
            return finish(self.target, ts, started, reason=reason)
        except psutil.Error as exc:
            reason = f"{self.target}: reading process {self.pid} failed: {exc}"
            return finish(self.target, ts, started, reason=reason)
        mem = psutil.virtual_memory()
        values = {
            "process_cpu_seconds_total": cpu.user + cpu.system,
            "process_resident_memory_bytes": rss,
            "process_open_fds": fds,
            "process_threads": threads,
            "host_cpu_percent": psutil.cpu_percent(interval=None),
            "host_memory_used_bytes": mem.used,
            "host_memory_total_bytes": mem.total,
        }
        samples = [Sample(name, {}, float(v), ts) for name, v in values.items()]
        return finish(self.target, ts, started, samples)
