"""A webhook answering 500 while changes keep coming: the outbox drops its oldest at
``max_queue``, and every drop is counted per channel, exposed in the notifier's registry
and raises an alert of its own through the normal alert path."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from alerts.cycle import open_dispatcher, run_cycle
from alerts.notify.base import Notification
from alerts.notify.metrics import DROPPED_RULE, DROPPED_WINDOW_S
from monitoring.app.config import load_config
from monitoring.app.live.routes import make_router
from monitoring.app.live.serve import notification_workers
from monitoring.app.scheduler import JobStateDB
from monitoring.clock import WallClock
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from tests.alerts.receiver import Receiver
from tests.reliability.helpers import alerts_config, rule

RULE = rule("region_or_l2_down", "regions_up", "<", 3, for_s=0)
MAX_QUEUE = 5
BURST = 20


def _config(tmp: Path, hook_url: str) -> Path:
    return alerts_config(tmp, [RULE], {
        "log": True,
        "webhook": {"url": hook_url, "timeout": 1, "deadline": 0, "max_queue": MAX_QUEUE}})


def test_outbox_drops_are_counted_and_raise_an_alert(tmp_path, caplog):
    with Receiver() as rx:
        rx.default_status = 500
        config = load_config(_config(tmp_path, rx.url + "/hook"))
        store = SQLiteStore(tmp_path / "ionmon.db")
        dispatcher = open_dispatcher(config.alerting)
        try:
            t0 = time.time()
            dispatcher.submit([Notification(f"rule_{i}", "firing", "warning", "s",
                                            at=t0 - BURST + i) for i in range(BURST)])
            assert dispatcher.wait_idle(30)
            snap = dispatcher.metrics.snapshot()["webhook"]
            text = generate_latest(dispatcher.metrics.registry).decode()
            now = time.time()  # the evaluation after the drops
            store.write([Point("regions_up", now, 3)])  # healthy: only the drop alert
            with caplog.at_level(logging.INFO, logger="ionmon.alerts"):
                result = run_cycle(config.alerting, store, now, dispatcher=dispatcher)
                assert dispatcher.wait_idle(30)
            later = run_cycle(config.alerting, store, now + DROPPED_WINDOW_S + 60,
                              dispatcher=dispatcher)
        finally:
            dispatcher.close()
            store.close()
    assert rx.requests  # the receiver was tried, and answered 500
    assert snap["dropped"] == BURST - MAX_QUEUE and snap["queued"] == MAX_QUEUE, snap
    assert snap["last_drop_reason"] == "outbox full" and snap["delivered"] == 0, snap
    assert ('ionmon_notifications_dropped_total{channel="webhook",reason="outbox full"} '
            f'{float(BURST - MAX_QUEUE)}') in text
    assert [(c.rule, c.new) for c in result.changes] == [(DROPPED_RULE.id, "firing")]
    assert result.states[DROPPED_RULE.id].value >= BURST - MAX_QUEUE
    assert f"{DROPPED_RULE.id} FIRING" in caplog.text  # the log channel carried it
    assert later.states[DROPPED_RULE.id].state == "resolved"  # no drops in the window


def test_serve_shows_the_drops_on_metrics_and_status(tmp_path):
    with Receiver() as rx:
        rx.default_status = 500
        config = load_config(_config(tmp_path, rx.url + "/hook"))
        registry = CollectorRegistry()
        dispatcher = notification_workers(config, registry)  # as serve wires it
        state = JobStateDB(tmp_path / "scheduler.db")
        try:
            route = make_router(config, None, state, registry, WallClock(),
                                dispatcher.metrics.snapshot)
            dispatcher.submit([Notification(f"rule_{i}", "firing", "warning", "s", at=i)
                               for i in range(BURST)])
            assert dispatcher.wait_idle(30)
            metrics = route("/metrics").body.decode()
            status = route("/status").body.decode()
        finally:
            dispatcher.close()
            state.close()
    dropped = float(BURST - MAX_QUEUE)
    assert (f'ionmon_notifications_dropped_total{{channel="webhook",reason="outbox full"}} '
            f'{dropped}') in metrics
    assert 'ionmon_notifications_delivered_total{channel="log"} 20.0' in metrics
    assert f'ionmon_notifications_queued{{channel="webhook"}} {float(MAX_QUEUE)}' in metrics
    assert (f"<tr><td>webhook</td><td>0</td><td>0</td><td>0</td><td class='error'>"
            f"{BURST - MAX_QUEUE}</td><td>{MAX_QUEUE}</td><td>outbox full</td></tr>") in status
