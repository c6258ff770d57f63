"""Receivers that fail for a while: every change is queued durably, retried with
backoff, and delivered exactly once when the receiver is back."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from alerts.evaluator import evaluate, store_query
from alerts.notify.alertmanager import DurableAlertmanagerNotifier
from alerts.notify.base import Notifier
from alerts.notify.dispatch import channels_from, notify_changes
from alerts.settings import AlertsSettings
from alerts.state import AlertStore
from monitoring.clock import VirtualClock
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from tests.alerts.receiver import Receiver
from tests.reliability.helpers import FlakyReceiver, alertmanager_config, rule
from tests.servers import AlertmanagerServer

RULE = rule("region_or_l2_down", "regions_up", "<", 3, for_s=60)
T0 = 1_800_000_000.0


class _Loop:
    """Evaluate → save state → notify, as the evaluate job does, on a virtual minute."""

    def __init__(self, tmp: Path, settings: AlertsSettings,
                 channels: Callable[[], list[Notifier]] | None = None,
                 t0: float = T0) -> None:
        self.store = SQLiteStore(tmp / "ionmon.db", clock=VirtualClock(t0 + 30 * 86400))
        self.alerts = AlertStore(tmp / "alerts.db")
        self.settings = settings
        self.tmp = tmp
        self.t = t0
        self.channels = channels or (lambda: channels_from(self.settings, self.tmp))

    def minute(self, regions_up: float) -> list[str]:
        self.t += 60
        self.store.write([Point("regions_up", self.t, regions_up)])
        states, changes = evaluate([RULE], self.t, store_query(self.store), self.alerts.load())
        self.alerts.save(states, changes)
        channels = self.channels()
        try:
            notify_changes(changes, channels, deadline_s=1)
        finally:
            for c in channels:
                getattr(c, "close", lambda: None)()
        return [c.new for c in changes]

    def close(self) -> None:
        self.store.close()
        self.alerts.close()


def _settings(channel: str, url: str) -> AlertsSettings:
    extra = {"deadline": 1.5} if channel == "webhook" else {}
    return AlertsSettings.model_validate(
        {"channels": {"log": False, channel: {"url": url, "timeout": 0.5, **extra}}})


def test_webhook_500_timeout_and_down_then_each_change_delivered_once(tmp_path):
    rx = FlakyReceiver(stall_s=1.0).start()
    loop = _Loop(tmp_path, _settings("webhook", rx.url))
    try:
        rx.mode = "error"
        assert loop.minute(2) == ["pending"]
        assert loop.minute(2) == ["firing"]  # 500s: retried with backoff, then queued
        assert rx.attempts >= 2 and not rx.accepted
        rx.mode = "stall"  # beyond the client's timeout
        loop.minute(2)
        rx.stop()  # down for several minutes; the alert resolves meanwhile
        assert loop.minute(3) == ["resolved"]
        for _ in range(3):
            loop.minute(3)
        rx.mode = "ok"
        rx.start()
        loop.minute(3)  # no new change: the outbox is flushed anyway
        for _ in range(3):
            loop.minute(3)
    finally:
        rx.stop()
        loop.close()
    states = [a["body"]["state"] for a in rx.accepted]
    assert states == ["firing", "resolved"], states  # in order, each exactly once
    assert all(n == 1 for n in Counter(a["key"] for a in rx.accepted).values())


def _am_alerts(url: str) -> list[dict]:
    with urllib.request.urlopen(f"{url}/api/v2/alerts?active=true&silenced=true&inhibited=true"
                                f"&unprocessed=true", timeout=5) as resp:
        return json.load(resp)


@pytest.mark.slow
def test_alertmanager_down_then_up_gets_each_change_once(tmp_path):
    with Receiver() as hook, AlertmanagerServer(
            alertmanager_config(hook.url + "/am")) as am:
        settings = _settings("alertmanager", am.url)
        (wired,) = channels_from(settings, tmp_path)
        assert isinstance(wired, DurableAlertmanagerNotifier)  # what serve uses
        wired.close()
        # The same channel with a short retry deadline; times near now, since
        # Alertmanager refuses an alert that starts in the future.
        loop = _Loop(tmp_path, settings, lambda: [DurableAlertmanagerNotifier(
            am.url, tmp_path / "am_outbox.db", timeout_s=0.5, deadline_s=1)],
            t0=time.time() - 3600)
        try:
            am.stop()  # a real crash (SIGKILL)
            loop.minute(2)
            assert loop.minute(2) == ["firing"]
            loop.minute(2)
            am.start()
            loop.minute(2)  # the queued firing goes out now
            firing = [a for a in _am_alerts(am.url)
                      if a["labels"]["alertname"] == RULE.id]
            assert len(firing) == 1 and firing[0]["status"]["state"] == "active"
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not hook.requests:
                time.sleep(0.2)
            # Unreachable but alive (a partition: SIGSTOP), so it keeps its alerts in
            # memory; the resolution is queued and goes out when it answers again.
            os.kill(am._proc.pid, signal.SIGSTOP)  # type: ignore[union-attr]
            try:
                assert loop.minute(3) == ["resolved"]
                loop.minute(3)
            finally:
                os.kill(am._proc.pid, signal.SIGCONT)  # type: ignore[union-attr]
            loop.minute(3)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and len(hook.requests) < 2:
                time.sleep(0.2)
            time.sleep(2.5)  # a repeat would arrive within two group intervals
        finally:
            loop.close()
        statuses = [b["status"] for b in hook.json_bodies()]
    assert statuses == ["firing", "resolved"], statuses
