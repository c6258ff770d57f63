"""A receiver that takes each POST but answers 200 only after the client's timeout:
it gets the same change a bounded number of times, each re-send after a timeout is
counted as duplicated, and the change then gives way to the next one."""

from __future__ import annotations

from collections import Counter

from alerts.notify.base import Notification
from alerts.notify.metrics import NotifyMetrics
from alerts.notify.webhook import MAX_TIMEOUTS, WebhookNotifier
from tests.reliability.helpers import LateReceiver

FIRING = Notification("high_error_rate", "firing", "critical", "errors", at=1000.0)
RESOLVED = Notification("high_error_rate", "resolved", "critical", "errors", at=1600.0)
EVALUATIONS = 8


def test_a_late_receiver_gets_a_change_a_bounded_number_of_times(tmp_path):
    metrics = NotifyMetrics()
    with LateReceiver(delay_s=0.6) as rx:
        hook = WebhookNotifier(rx.url, tmp_path / "outbox.db", timeout_s=0.2,
                               deadline_s=0.5, metrics=metrics)
        try:
            hook.enqueue([FIRING])
            for _ in range(EVALUATIONS):  # each evaluation flushes the outbox
                hook.flush()
            snap = metrics.snapshot()["webhook"]
            rx.delay_s = 0  # the receiver is fast again: the next change goes out once
            assert hook.send([RESOLVED]).ok
        finally:
            hook.close()
        received = Counter(rx.keys)
    assert received[FIRING.key] == MAX_TIMEOUTS, received
    assert snap["duplicated_by_timeout"] == MAX_TIMEOUTS - 1, snap
    assert snap["dropped"] == 1 and snap["queued"] == 0, snap
    assert snap["last_drop_reason"].startswith("unconfirmed"), snap
    assert received[RESOLVED.key] == 1
    assert metrics.snapshot()["webhook"]["delivered"] == 1
