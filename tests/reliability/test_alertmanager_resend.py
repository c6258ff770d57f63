"""A firing alert is re-sent to Alertmanager every evaluation, with ``endsAt`` a few
intervals ahead: it stays active past Alertmanager's resolve_timeout, and is back
right after Alertmanager restarts (it keeps no alerts across a restart)."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from alerts.cycle import run_cycle
from alerts.rules import write_rules
from monitoring.app.config import parse_config
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from tests.alerts.receiver import Receiver
from tests.reliability.helpers import alertmanager_config, rule
from tests.servers import AlertmanagerServer

RULE = rule("region_or_l2_down", "regions_up", "<", 3, for_s=0)
EVALUATE_S = 2.0
RESOLVE_TIMEOUT_S = 10.0


def _active(url: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts?active=true&silenced=false"
                                f"&inhibited=false", timeout=5) as resp:
        return [a for a in json.load(resp) if a["labels"]["alertname"] == RULE.id
                and a["status"]["state"] == "active"]


@pytest.mark.slow
def test_firing_alert_outlives_resolve_timeout_and_alertmanager_restart(tmp_path):
    write_rules(tmp_path / "rules.yaml", [RULE])
    with Receiver() as hook, AlertmanagerServer(
            alertmanager_config(hook.url + "/am", int(RESOLVE_TIMEOUT_S))) as am:
        config = parse_config({
            "store": {"path": str(tmp_path / "ionmon.db")},
            "alerts": {"rules_path": str(tmp_path / "rules.yaml"),
                       "state_path": str(tmp_path / "alerts.db"),
                       "channels": {"log": False, "alertmanager": {"url": am.url,
                                                                   "timeout": 1}}},
            "schedule": {"evaluate_interval": f"{EVALUATE_S:.0f}s"},
            "output_dir": str(tmp_path / "out"),
        })
        store = SQLiteStore(tmp_path / "ionmon.db")

        def evaluate() -> None:
            now = time.time()  # Alertmanager judges startsAt/endsAt by its wall clock
            store.write([Point("regions_up", now, 2)])
            result = run_cycle(config.alerting, store, now, deadline_s=2)
            assert result.states[RULE.id].state == "firing"

        try:
            began = time.monotonic()
            while time.monotonic() - began < RESOLVE_TIMEOUT_S + 2 * EVALUATE_S:
                evaluate()
                time.sleep(EVALUATE_S)
            active = _active(am.url)
            assert len(active) == 1, active  # past resolve_timeout: still firing
            am.stop()  # SIGKILL: Alertmanager keeps silences, not alerts
            am.start()
            assert _active(am.url) == []
            evaluate()  # the next evaluation tells it again
            assert len(_active(am.url)) == 1
        finally:
            store.close()
        statuses = [b["status"] for b in hook.json_bodies()]
    assert "resolved" not in statuses, statuses  # never resolved early
    assert statuses and statuses[0] == "firing"
