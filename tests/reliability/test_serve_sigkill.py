"""SIGKILL ``ionmon serve`` at staggered moments (mid-scrape, mid-evaluation, mid-render):
on restart the store opens with every committed sample, alert state resumes, and no
notification is sent twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from alerts.rules import write_rules
from alerts.state import AlertStore
from monitoring.store.sqlite import SQLiteStore
from tests.alerts.receiver import Receiver
from tests.reliability.helpers import rule

# Always breached while the engine runs: fires at the first evaluation, stays firing.
RULE = rule("region_or_l2_down", "regions_up", "<", 99, for_s=0)
KILLS_AFTER_S = (2.3, 3.1, 3.9)  # staggered against 1 s jobs: lands in different jobs


def _samples(db: Path) -> dict[tuple[str, float], float]:
    store = SQLiteStore(db)
    try:
        data = store.read_many(store.series_ids(), 0, 4e9)
        return {(k, t): v for k, s in data.items()
                for t, v in zip(s.ts.tolist(), s.values.tolist(), strict=True)}
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_serve_loses_nothing_and_sends_nothing_twice(tmp_path):
    db = tmp_path / "ionmon.db"
    write_rules(tmp_path / "rules.yaml", [RULE])
    with Receiver() as hook:
        config = tmp_path / "config.yaml"
        config.write_text(yaml.safe_dump({
            "store": {"path": str(db)},
            "scrape": {"interval": "1s", "timeout": "500ms", "rate_window": "3s"},
            "engine": {"database": {"seed_rows": 500, "seed_users": 50},
                       "traffic": {"peak_requests_per_minute": 600}},
            "alerts": {"rules_path": str(tmp_path / "rules.yaml"),
                       "state_path": str(tmp_path / "alerts.db"),
                       "channels": {"log": False, "webhook": {"url": hook.url + "/hook",
                                                              "timeout": 1, "deadline": 2}}},
            "schedule": {"evaluate_interval": "1s", "dashboards_interval": "1s"},
            "output_dir": str(tmp_path / "out"),
        }))
        committed: dict = {}
        for kill_after in KILLS_AFTER_S:
            proc = subprocess.Popen(
                [sys.executable, "-m", "monitoring", "--config", str(config), "serve",
                 "--port", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                cwd=tmp_path)
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and b"serving" not in proc.stderr.peek(4096):
                    time.sleep(0.1)  # peek: wait for the startup line without consuming
                time.sleep(kill_after)
                assert proc.poll() is None, proc.stderr.read().decode()
                before = _samples(db) if db.exists() else {}
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            finally:
                if proc.poll() is None:
                    proc.kill()
            after = _samples(db)  # the store opens after the crash
            lost = [k for k in {**committed, **before} if k not in after]
            assert not lost, f"{len(lost)} committed samples lost"
            assert len(after) >= len(committed)
            committed = after
        time.sleep(0.5)
        keys = Counter(r["headers"].get("Idempotency-Key") for r in hook.requests)
    assert committed, "nothing was ever committed"
    history = AlertStore(tmp_path / "alerts.db").history(RULE.id)
    assert [h["new"] for h in history] == ["firing"], history  # resumed, not restarted
    assert list(keys.values()) == [1], keys  # the firing, delivered exactly once
