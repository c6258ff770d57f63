"""The backfill's engine process ends with the backfill, however the backfill ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

END = "2026-11-16"  # a Monday: the backfill covers the days before it


def test_the_engine_process_exits_when_the_backfill_is_killed(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"store": {"path": str(tmp_path / "ionmon.db")},
                                      "backfill": {"days": 2}}))
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitoring", "--config", str(config), "backfill",
         "--end", END, "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    engine = None
    try:
        engine = _engine_child(proc.pid, deadline=time.monotonic() + 120)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        gone, _ = psutil.wait_procs([engine], timeout=30)
        assert engine in gone, "the engine process outlived the killed backfill"
    finally:
        if proc.poll() is None:
            proc.kill()
        if engine is not None and engine.is_running():
            engine.kill()


def _engine_child(pid: int, deadline: float) -> psutil.Process:
    parent = psutil.Process(pid)
    while time.monotonic() < deadline:
        for child in parent.children():
            if "spawn_main" in " ".join(child.cmdline()):
                return child
        time.sleep(0.2)
    raise AssertionError("the backfill started no engine process in time")
