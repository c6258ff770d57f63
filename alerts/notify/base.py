"""What every channel shares: the notification, the send result and the retry loop."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("ionmon.alerts.notify")


@dataclass(frozen=True)
class Notification:
    rule: str
    state: str  # "firing" | "resolved"
    severity: str
    summary: str
    at: float  # when the state changed
    active_since: float | None = None
    metric: str | None = None
    value: float | None = None
    runbook: str = ""
    runbook_url: str = ""
    checks: tuple[str, ...] = ()  # what to look at first, from the runbook
    # The rule's own labels besides alertname and severity (an SLO's slo, policy and
    # region): the exported Prometheus rules carry the same ones, so Alertmanager sees
    # one alert whichever of the two sends it.
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """One key per change: the same change is never delivered twice under two keys."""
        return f"{self.rule}:{self.state}:{self.at:.0f}"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    retry: bool = False  # only meaningful when not ok
    reason: str = ""  # "client", "server", "rate limited", "network", ...
    # The request went out but no answer came in time: the receiver may have taken it,
    # so sending it again may deliver it twice.
    timed_out: bool = False

    @classmethod
    def success(cls) -> SendResult:
        return cls(True)


def classify_status(code: int) -> SendResult:
    """2xx delivered; 5xx and 429 retried; other codes final (a retry would fail alike)."""
    if 200 <= code < 300:
        return SendResult.success()
    if code == 429:
        return SendResult(False, True, "rate limited")
    if 500 <= code < 600:
        return SendResult(False, True, f"server: HTTP {code}")
    return SendResult(False, False, f"client: HTTP {code}")


class Notifier(Protocol):
    name: str

    def send(self, notes: Sequence[Notification]) -> SendResult: ...


@dataclass(frozen=True)
class RetryOutcome:
    result: SendResult
    attempts: int


def send_with_retry(send: Callable[[], SendResult], deadline_s: float = 60.0,
                    first_backoff_s: float = 0.5, max_backoff_s: float = 30.0,
                    sleep: Callable[[float], None] = time.sleep,
                    clock: Callable[[], float] = time.monotonic, what: str = "send"
                    ) -> RetryOutcome:
    """Call ``send`` until it succeeds, says "final", or the deadline passes.

    Backoff doubles from ``first_backoff_s`` up to ``max_backoff_s``; a failure is
    logged only when its reason changes, so a long outage is one line, not hundreds.
    """
    start = clock()
    backoff = first_backoff_s
    attempts = 0
    last_reason = None
    while True:
        attempts += 1
        try:
            result = send()
        except Exception as exc:  # a channel's own bug or a network error: retryable
            result = SendResult(False, True, f"network: {type(exc).__name__}: {exc}")
        if result.ok or not result.retry:
            if not result.ok:
                log.warning("%s failed (final, %s) after %d attempt(s)", what, result.reason,
                            attempts)
            return RetryOutcome(result, attempts)
        if result.reason != last_reason:
            log.warning("%s failed (%s), retrying", what, result.reason)
            last_reason = result.reason
        if clock() - start + backoff > deadline_s:
            return RetryOutcome(result, attempts)
        sleep(backoff)
        backoff = min(backoff * 2, max_backoff_s)
