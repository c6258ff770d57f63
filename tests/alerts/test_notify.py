import json
import logging
import threading

import pytest
from prometheus_client import generate_latest

from alerts.notify.alertmanager import AlertmanagerNotifier
from alerts.notify.base import Notification, SendResult, classify_status, send_with_retry
from alerts.notify.dispatch import Dispatcher
from alerts.notify.log import LogNotifier
from alerts.notify.metrics import NotifyMetrics
from alerts.notify.sentry import SentryNotifier
from alerts.notify.webhook import WebhookNotifier
from tests.alerts.receiver import Receiver
from tests.servers import free_port

NOTE = Notification("high_error_rate", "firing", "critical", "errors above normal", at=1000.0,
                    active_since=880.0, metric="error_rate", value=6.0, runbook="roll back")


def no_sleep(_s: float) -> None:
    pass


# One status-code table for every HTTP channel: 2xx ok, 5xx and 429 retried, 4xx final.
STATUS_TABLE = [(200, True, False), (202, True, False), (204, True, False),
                (400, False, False), (401, False, False), (404, False, False),
                (429, False, True), (500, False, True), (503, False, True)]


@pytest.mark.parametrize("code, ok, retry", STATUS_TABLE)
def test_status_code_table(code, ok, retry):
    r = classify_status(code)
    assert r.ok == ok and (r.ok or r.retry == retry)


@pytest.mark.parametrize("code, ok, retry", STATUS_TABLE)
def test_every_http_channel_follows_the_table(tmp_path, code, ok, retry):
    with Receiver() as rx:
        rx.default_status = code
        am = AlertmanagerNotifier(rx.url).send([NOTE])
        hook = WebhookNotifier(rx.url, tmp_path / "outbox.db", deadline_s=0)
        wh = hook.send([NOTE])
    for r in (am, wh):
        assert r.ok == ok and (r.ok or r.retry == retry)
    # A refused (4xx) or delivered notification leaves the outbox; a retryable one stays.
    assert hook.pending == (1 if retry else 0)


def test_retry_backs_off_exponentially_until_success_or_final():
    sleeps: list[float] = []
    answers = [SendResult(False, True, "server: HTTP 503")] * 4 + [SendResult.success()]
    out = send_with_retry(lambda: answers.pop(0), deadline_s=100, first_backoff_s=1,
                          sleep=sleeps.append, clock=lambda: sum(sleeps))
    assert out.result.ok and out.attempts == 5 and sleeps == [1, 2, 4, 8]
    out = send_with_retry(lambda: SendResult(False, False, "client: HTTP 400"),
                          sleep=sleeps.append)
    assert not out.result.ok and out.attempts == 1
    sleeps.clear()
    out = send_with_retry(lambda: SendResult(False, True, "server"), deadline_s=10,
                          first_backoff_s=1, sleep=sleeps.append, clock=lambda: sum(sleeps))
    assert not out.result.ok and sum(sleeps) <= 10 and out.attempts == 4


def test_network_errors_do_not_leak_credentials(tmp_path):
    url = f"http://user:s3cret@127.0.0.1:{free_port()}/hook"
    r = AlertmanagerNotifier(url).send([NOTE])
    assert not r.ok and r.retry and "s3cret" not in r.reason


def test_webhook_queues_while_down_and_delivers_each_change_once(tmp_path):
    port = free_port()
    outbox = tmp_path / "outbox.db"
    hook = WebhookNotifier(f"http://127.0.0.1:{port}/hook", outbox, deadline_s=0)
    resolved = Notification(**{**NOTE.__dict__, "state": "resolved", "at": 1600.0})
    assert not hook.send([NOTE]).ok  # receiver down
    assert not hook.send([resolved]).ok
    assert hook.send([NOTE]).retry and hook.pending == 2  # same change: queued once
    hook.close()
    with Receiver(port) as rx:
        hook = WebhookNotifier(f"http://127.0.0.1:{port}/hook", outbox)  # after a restart
        assert hook.flush().ok and hook.pending == 0
        assert hook.send([NOTE]).ok  # already delivered: not sent again
        bodies = rx.json_bodies()
        keys = [r["headers"]["Idempotency-Key"] for r in rx.requests]
    assert [(b["rule"], b["state"]) for b in bodies] == [("high_error_rate", "firing"),
                                                         ("high_error_rate", "resolved")]
    assert keys == [NOTE.key, resolved.key]


def test_webhook_retries_a_5xx_then_delivers(tmp_path):
    with Receiver() as rx:
        rx.statuses = [503, 502]
        hook = WebhookNotifier(rx.url, tmp_path / "o.db", deadline_s=60, sleep=no_sleep)
        assert hook.send([NOTE]).ok
        assert len(rx.requests) == 3 and hook.pending == 0


def test_webhook_outbox_is_bounded_and_counts_drops(tmp_path):
    hook = WebhookNotifier(f"http://127.0.0.1:{free_port()}", tmp_path / "o.db", max_queue=3)
    notes = [Notification("r", "firing", "info", "s", at=float(i)) for i in range(5)]
    hook.enqueue(notes)
    assert hook.pending == 3 and hook.dropped == 2


def test_log_channel_writes_one_line_per_change(caplog):
    with caplog.at_level(logging.INFO, logger="ionmon.alerts"):
        assert LogNotifier().send([NOTE]).ok
    assert "high_error_rate FIRING [critical] error_rate=6" in caplog.text


def test_sentry_sends_real_envelopes_with_tags_and_fingerprint():
    with Receiver() as rx:
        notifier = SentryNotifier(f"http://publickey@127.0.0.1:{rx.port}/1")
        assert notifier.send([NOTE]).ok
        notifier.close()
        envelopes = [r for r in rx.requests if r["path"].startswith("/api/1/envelope")]
    events = []
    for env in envelopes:
        lines = env["body"].split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(payload))
    assert len(events) == 1
    ev = events[0]
    assert ev["fingerprint"] == ["ionmon-alert", "high_error_rate"]
    assert ev["tags"]["rule"] == "high_error_rate" and ev["tags"]["severity"] == "critical"
    assert ev["level"] == "error" and "high_error_rate" in ev["message"]


class _Blocked:
    """A channel whose send waits until released: a receiver that hangs."""

    name = "blocked"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.sent: list[Notification] = []

    def send(self, notes):
        self.entered.set()
        self.release.wait(30)
        self.sent += notes
        return SendResult.success()


class _Recorder:
    name = "recorder"

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notes):
        self.sent += notes
        return SendResult.success()


def test_a_hung_channel_does_not_hold_up_another():
    blocked, recorder = _Blocked(), _Recorder()
    dispatcher = Dispatcher([blocked, recorder])
    try:
        dispatcher.submit([NOTE])  # returns at once although ``blocked`` hangs
        assert blocked.entered.wait(10)
        recorder_worker = dispatcher.workers[1]
        assert recorder_worker.wait_idle(10) and recorder.sent == [NOTE]
        assert not dispatcher.wait_idle(0)  # the hung one is still busy
        blocked.release.set()
        assert dispatcher.wait_idle(10) and blocked.sent == [NOTE]
        snap = dispatcher.metrics.snapshot()
    finally:
        dispatcher.close()
    assert snap["recorder"]["delivered"] == 1 and snap["blocked"]["delivered"] == 1


def test_a_memory_queue_is_bounded_and_counts_drops():
    blocked = _Blocked()
    dispatcher = Dispatcher([blocked], queue_size=2)
    try:
        notes = [Notification("r", "firing", "info", "s", at=float(i)) for i in range(5)]
        dispatcher.submit(notes[:1])
        assert blocked.entered.wait(10)  # the first batch is being sent
        for n in notes[1:]:
            dispatcher.submit([n])
        snap = dispatcher.metrics.snapshot()["blocked"]
        blocked.release.set()
        assert dispatcher.wait_idle(10)
    finally:
        dispatcher.close()
    assert snap["dropped"] == 2 and snap["queued"] == 2 and snap["last_drop_reason"] == (
        "queue full")
    assert blocked.sent == [notes[0], notes[3], notes[4]]  # the oldest waiting were dropped


def test_a_refused_notification_is_counted_as_dropped(tmp_path):
    metrics = NotifyMetrics()
    with Receiver() as rx:
        rx.default_status = 400
        hook = WebhookNotifier(rx.url, tmp_path / "o.db", deadline_s=0, metrics=metrics)
        assert not hook.send([NOTE]).ok
        hook.close()
    snap = metrics.snapshot()["webhook"]
    assert snap["dropped"] == 1 and snap["last_drop_reason"] == "client: HTTP 400"
    text = generate_latest(metrics.registry).decode()
    assert 'ionmon_notifications_dropped_total{channel="webhook",reason="client"} 1.0' in text


def test_a_retried_then_delivered_notification_is_counted_once_each(tmp_path):
    metrics = NotifyMetrics()
    with Receiver() as rx:
        rx.statuses = [503, 502]
        hook = WebhookNotifier(rx.url, tmp_path / "o.db", deadline_s=60, sleep=no_sleep,
                               metrics=metrics)
        assert hook.send([NOTE]).ok
        hook.close()
    snap = metrics.snapshot()["webhook"]
    assert (snap["delivered"], snap["retried"], snap["dropped"]) == (1, 2, 0), snap


def test_an_unknown_outcome_is_refused_by_name():
    with pytest.raises(ValueError, match=r"'lost'.*delivered"):
        NotifyMetrics().count("webhook", "lost")
