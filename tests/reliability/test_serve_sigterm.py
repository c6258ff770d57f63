"""SIGTERM stops ``ionmon serve`` cleanly: the running job finishes or is abandoned, the
outbox is kept, "stopped" is logged, the exit is 0 and the engine's directory is gone.
Once, SIGTERM had no handler: the process died where it stood."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from alerts.rules import write_rules
from tests.reliability.helpers import rule

ROOT = Path(__file__).resolve().parents[2]
RULE = rule("region_or_l2_down", "regions_up", "<", 99, for_s=0)  # always firing


def test_sigterm_stops_serve_cleanly(tmp_path):
    write_rules(tmp_path / "rules.yaml", [RULE])
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "store": {"path": str(tmp_path / "ionmon.db")},
        "scrape": {"interval": "1s", "timeout": "500ms", "rate_window": "3s"},
        "engine": {"database": {"seed_rows": 500, "seed_users": 50},
                   "traffic": {"peak_requests_per_minute": 600}},
        "alerts": {"rules_path": str(tmp_path / "rules.yaml"),
                   "state_path": str(tmp_path / "alerts.db"),
                   # Nothing listens there: the change stays in the outbox.
                   "channels": {"log": False, "webhook": {"url": "http://127.0.0.1:9/hook",
                                                          "timeout": 1, "deadline": 2}}},
        "schedule": {"evaluate_interval": "1s", "dashboards_interval": "1s"},
        "output_dir": str(tmp_path / "out"),
    }))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "monitoring", "--config", str(config),
                             "serve", "--port", "0"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=tmp_path, env=env)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and b"serving" not in proc.stderr.peek(4096):
            time.sleep(0.1)
        time.sleep(3.0)  # a few evaluations: the firing alert is queued for the webhook
        assert proc.poll() is None, proc.stderr.read().decode()
        assert list(tmp.glob("ion-engine-*")), "the engine is not running"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = err.decode()
    assert proc.returncode == 0, text
    assert "Traceback" not in text
    assert "terminated: stopping" in text and "INFO stopped" in text, text
    assert "stopped:" in text.splitlines()[-1], text
    outboxes = list(tmp_path.rglob("*outbox*.db"))
    assert outboxes, sorted(p.name for p in tmp_path.rglob("*"))
    assert not list(tmp.glob("ion-engine-*")), "the engine's directory was left behind"
