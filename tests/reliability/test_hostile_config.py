"""Hostile config files and start-up conditions: each is one ``error:`` line naming the
file and the key, a non-zero exit, no traceback, and nothing started or written.

Once, 3,000 nested maps raised a RecursionError traceback, ``--config /dev/zero`` read
until memory ran out, a 200 MB file was still parsing at 40 s, ``scrape.interval: .inf``
was accepted and crashed ``serve``, a NUL in a path was a traceback, and a port in use
was a traceback after the engine and the scheduler had started.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = {"store": {"path": "data/ionmon.db"}, "output_dir": "out"}


def _ionmon(tmp: Path, config: str | Path, *args: str, timeout: float = 60
            ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}
    return subprocess.run([sys.executable, "-m", "monitoring", "--config", str(config), *args],
                          capture_output=True, text=True, timeout=timeout, cwd=tmp, env=env)


def _assert_refused(proc: subprocess.CompletedProcess[str], source: str, key: str) -> None:
    assert proc.returncode != 0, proc.stderr
    assert proc.stderr.startswith(f"error: {source}: "), proc.stderr
    assert key in proc.stderr.splitlines()[0] or key in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "serving" not in proc.stderr + proc.stdout


def _nothing_started(tmp: Path, *keep: str) -> None:
    left = sorted(p.name for p in tmp.iterdir() if p.name not in keep)
    assert left == [], left  # no store, no output, no engine directory


def _write(tmp: Path, text: str) -> Path:
    path = tmp / "config.yaml"
    path.write_text(text)
    return path


def test_three_thousand_nested_maps(tmp_path):
    config = _write(tmp_path, "store: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n")
    proc = _ionmon(tmp_path, config, "serve", "--port", "0", "--duration", "30s")
    _assert_refused(proc, str(config), "store.a.a.a")
    assert "nested more than 32 levels deep at line 1" in proc.stderr
    _nothing_started(tmp_path, "config.yaml")


def test_dev_zero(tmp_path):
    proc = _ionmon(tmp_path, "/dev/zero", "serve", "--port", "0", "--duration", "30s")
    _assert_refused(proc, "/dev/zero", "not a regular file")
    _nothing_started(tmp_path)


def test_a_200_mb_file(tmp_path):
    config = tmp_path / "config.yaml"
    with config.open("wb") as f:
        f.truncate(200 * 2**20)  # sparse: costs no disk
    proc = _ionmon(tmp_path, config, "query", "request_rate")
    _assert_refused(proc, str(config), "byte limit for a configuration file")
    _nothing_started(tmp_path, "config.yaml")


@pytest.mark.parametrize("key, text, says", [
    ("scrape.interval", "scrape:\n  interval: .inf\n", "must be finite"),
    ("scrape.interval", "scrape:\n  interval: .nan\n", "must be finite"),
    ("scrape.timeout", "scrape:\n  interval: 10s\n  timeout: 10s\n",
     "shorter than scrape.interval"),
    ("schedule.misfire_grace", "schedule:\n  misfire_grace: " + "9" * 400 + "s\n",
     "must be finite"),
    ("store.path", 'store:\n  path: "data/a\\0b.db"\n', "NUL byte"),
    ("alerts.rules_path", 'alerts:\n  rules_path: "r\\0.yaml"\n', "NUL byte"),
])
def test_bad_values(tmp_path, key, text, says):
    config = _write(tmp_path, text)
    proc = _ionmon(tmp_path, config, "serve", "--port", "0", "--duration", "30s")
    _assert_refused(proc, str(config), key)
    assert says in proc.stderr
    _nothing_started(tmp_path, "config.yaml")


def test_port_in_use_is_refused_before_anything_starts(tmp_path):
    config = _write(tmp_path, yaml.safe_dump(BASE))
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        proc = _ionmon(tmp_path, config, "serve", "--port", str(port), "--duration", "30s")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"error: serve.port: 127.0.0.1:{port} is in use"), proc.stderr
    assert "Traceback" not in proc.stderr and "serving" not in proc.stderr
    _nothing_started(tmp_path, "config.yaml")  # no engine directory, no store
