"""A process killed between saving alert state and queueing the notification: after the
restart the notification is delivered, exactly once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from alerts.cycle import run_cycle
from alerts.state import AlertStore
from monitoring.app.config import load_config
from monitoring.clock import VirtualClock
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from tests.alerts.receiver import Receiver
from tests.reliability.helpers import alerts_config, rule

RULE = rule("region_or_l2_down", "regions_up", "<", 3, for_s=0)
T0 = 1_800_000_000.0

# One evaluation in a child process that SIGKILLs itself at ``point``: right after the
# state is saved (before any outbox holds the firing), or after the outboxes hold it
# but before that is recorded.
_CHILD = textwrap.dedent("""
    import os, signal, sys
    import alerts.cycle as cycle
    from alerts.state import AlertStore
    from monitoring.app.config import load_config
    from monitoring.clock import VirtualClock
    from monitoring.store.sqlite import SQLiteStore

    config_path, point, now = sys.argv[1], sys.argv[2], float(sys.argv[3])
    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)
    if point == "after_save":
        save = AlertStore.save
        def save_then_die(self, *args, **kwargs):
            save(self, *args, **kwargs)
            die()
        AlertStore.save = save_then_die
    else:
        AlertStore.mark_queued = die
    config = load_config(config_path)
    store = SQLiteStore(config.store.path, clock=VirtualClock(now + 3600))
    cycle.run_cycle(config.alerting, store, now, deadline_s=1)
    sys.exit("not killed")
""")


def _config(tmp: Path, hook_url: str) -> Path:
    return alerts_config(tmp, [RULE], {
        "log": False, "webhook": {"url": hook_url, "timeout": 1, "deadline": 1}})


@pytest.mark.parametrize("point", ["after_save", "after_enqueue"])
def test_kill_between_state_save_and_outbox_delivers_once(tmp_path, point):
    with Receiver() as hook:
        config_path = _config(tmp_path, hook.url + "/hook")
        config = load_config(config_path)
        store = SQLiteStore(config.store.path, clock=VirtualClock(T0 + 3600))
        try:
            for t in (T0, T0 + 60, T0 + 120):
                store.write([Point("regions_up", t, 2)])
            store.close()  # the child opens the store itself
            res = subprocess.run([sys.executable, "-c", _CHILD, str(config_path), point,
                                  str(T0)], capture_output=True, timeout=60, cwd=tmp_path)
            assert res.returncode == -9, res.stderr.decode()[-2000:]
            assert not hook.requests  # killed before anything was sent
            states = AlertStore(tmp_path / "alerts.db")
            try:
                assert states.load()[RULE.id].state == "firing"  # the save was committed
            finally:
                states.close()
            store = SQLiteStore(config.store.path, clock=VirtualClock(T0 + 3600))
            for now in (T0 + 60, T0 + 120):  # the restarted process, two evaluations
                result = run_cycle(config.alerting, store, now, deadline_s=1)
                assert result.states[RULE.id].state == "firing"
                assert not result.changes  # resumed: no new transition
        finally:
            store.close()
        bodies = hook.json_bodies()
        keys = Counter(r["headers"].get("Idempotency-Key") for r in hook.requests)
    assert [b["state"] for b in bodies] == ["firing"], bodies
    assert bodies[0]["at"] == T0 and list(keys.values()) == [1], keys
