"""A webhook receiver that accepts the connection and never answers: the page still
reaches Alertmanager (real) and the log within one evaluation interval, and an
evaluation does not wait for the webhook."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from pathlib import Path

from alerts.cycle import open_dispatcher, run_cycle
from monitoring.app.config import load_config
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from tests.alerts.receiver import Receiver
from tests.reliability.helpers import HungReceiver, alertmanager_config, alerts_config, rule
from tests.servers import AlertmanagerServer

RULE = rule("region_or_l2_down", "regions_up", "<", 3, for_s=0)
HUNG_TIMEOUT_S = 10  # the webhook's client timeout and retry deadline: both > interval


class _LogTimes(logging.Handler):
    """When each line reached the log channel."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[tuple[float, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((time.monotonic(), record.getMessage()))

    def first(self, text: str) -> float | None:
        return next((at for at, line in self.lines if text in line), None)


def _config(tmp: Path, hook_url: str, am_url: str) -> Path:
    return alerts_config(tmp, [RULE], {
        "log": True,
        "webhook": {"url": hook_url, "timeout": HUNG_TIMEOUT_S, "deadline": HUNG_TIMEOUT_S},
        "alertmanager": {"url": am_url, "timeout": 2}}, schedule={"evaluate_interval": "5s"})


def _am_has(url: str, alertname: str) -> bool:
    with urllib.request.urlopen(f"{url}/api/v2/alerts?active=true", timeout=5) as resp:
        return any(a["labels"].get("alertname") == alertname for a in json.load(resp))


def _wait_for_am(url: str, alertname: str, until: float) -> float | None:
    while time.monotonic() < until:
        if _am_has(url, alertname):
            return time.monotonic()
        time.sleep(0.05)
    return None


def _store(tmp: Path, now: float) -> SQLiteStore:
    store = SQLiteStore(tmp / "ionmon.db")
    store.write([Point("regions_up", now - 60 * i, 2) for i in (2, 1, 0)])
    return store


def _logged() -> _LogTimes:
    handler = _LogTimes()
    logger = logging.getLogger("ionmon.alerts")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return handler


def test_a_hung_webhook_delays_neither_alertmanager_nor_the_log(tmp_path):
    with HungReceiver() as hung, Receiver() as hook, \
            AlertmanagerServer(alertmanager_config(hook.url + "/am")) as am:
        config = load_config(_config(tmp_path, hung.url + "/hook", am.url))
        interval = config.schedule.evaluate_interval
        now = time.time()  # Alertmanager refuses an alert that starts in the future
        store = _store(tmp_path, now)
        log = _logged()
        try:
            start = time.monotonic()
            evaluation = threading.Thread(target=run_cycle, args=(config.alerting, store, now),
                                          daemon=True)
            evaluation.start()
            am_at = _wait_for_am(am.url, RULE.id, start + interval)
            log_at = log.first(f"{RULE.id} FIRING")
            # The webhook's own worker may connect after Alertmanager already has the page
            # (that independence is the point); give it time on a loaded machine.
            tried_by = time.monotonic() + 10
            while not hung.connections and time.monotonic() < tried_by:
                time.sleep(0.05)
            assert hung.connections, "the webhook was never tried"
            hung.stop()  # the webhook's worker may now give up
            evaluation.join(4 * HUNG_TIMEOUT_S)
        finally:
            logging.getLogger("ionmon.alerts").removeHandler(log)
            store.close()
    assert am_at is not None, f"Alertmanager had no page within {interval:.0f} s"
    assert log_at is not None and log_at - start < interval
    assert not evaluation.is_alive()


def test_an_evaluation_never_waits_on_a_hung_webhook(tmp_path):
    with HungReceiver() as hung, Receiver() as hook, \
            AlertmanagerServer(alertmanager_config(hook.url + "/am")) as am:
        config = load_config(_config(tmp_path, hung.url + "/hook", am.url))
        interval = config.schedule.evaluate_interval
        now = time.time()
        store = _store(tmp_path, now)
        log = _logged()
        dispatcher = open_dispatcher(config.alerting)  # one per process, as serve keeps it
        try:
            took = []
            start = time.monotonic()
            for i in range(3):  # evaluations go on while the webhook hangs
                began = time.monotonic()
                result = run_cycle(config.alerting, store, now + i, dispatcher=dispatcher)
                took.append(time.monotonic() - began)
                assert result.states[RULE.id].state == "firing"
            am_at = _wait_for_am(am.url, RULE.id, start + interval)
            log_at = log.first(f"{RULE.id} FIRING")
            dispatcher.wait_idle(1.0)
            snap = dispatcher.metrics.snapshot()
        finally:
            logging.getLogger("ionmon.alerts").removeHandler(log)
            hung.stop()
            dispatcher.close()
            store.close()
    assert max(took) < interval, took
    assert am_at is not None and am_at - start < interval
    assert log_at is not None and log_at - start < interval
    assert snap["log"]["delivered"] == 1 and snap["alertmanager"]["delivered"] == 1, snap
    assert snap["webhook"]["queued"] == 1 and snap["webhook"]["delivered"] == 0, snap
