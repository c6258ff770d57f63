"""Engine scratch directories: a killed run's are removed by the next engine to start,
a live run's are never touched, and an engine left unclosed removes its own at exit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from engine.workdir import PREFIX, remove_stale

ROOT = Path(__file__).resolve().parents[2]
START = """
import sys, time
from engine.cluster import Cluster
from engine.config import DatabaseConfig, EngineConfig
c = Cluster(EngineConfig(database=DatabaseConfig(seed_rows=200, seed_users=50)))
print(c._tmp_dir, flush=True)
if sys.argv[1] == "close":
    c.close()
elif sys.argv[1] == "wait":
    time.sleep(120)
"""


def _engine(tmp: Path, mode: str) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", START, mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


def _dirs(tmp: Path) -> list[Path]:
    return sorted(tmp.glob(f"{PREFIX}*"))


def test_a_killed_run_leaves_a_dir_the_next_start_removes(tmp_path):
    killed = _engine(tmp_path, "wait")
    left = Path(killed.stdout.readline().strip())
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    assert left.is_dir() and _dirs(tmp_path) == [left]

    live = _engine(tmp_path, "wait")  # starting removes the dead run's directory
    try:
        mine = Path(live.stdout.readline().strip())
        assert _dirs(tmp_path) == [mine], "the killed run's directory is still there"
        assert remove_stale(tmp_path) == []  # a live engine's directory is kept
        assert mine.is_dir()
    finally:
        live.kill()
        live.wait(timeout=30)
    assert remove_stale(tmp_path) == [mine]
    assert _dirs(tmp_path) == []


def test_closed_and_unclosed_engines_leave_nothing(tmp_path):
    for mode in ("close", "exit"):  # "exit": the interpreter ends with the engine open
        proc = _engine(tmp_path, mode)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert not Path(out.strip()).exists(), mode
    assert _dirs(tmp_path) == []


def test_directories_without_a_lock_are_not_ours_to_remove(tmp_path):
    foreign = tmp_path / f"{PREFIX}foreign"
    foreign.mkdir()
    assert remove_stale(tmp_path) == []
    assert foreign.is_dir()
