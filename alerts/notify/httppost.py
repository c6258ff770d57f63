"""One JSON POST, its outcome as a SendResult (never an exception)."""

from __future__ import annotations

from typing import Any

import requests

from alerts.notify.base import SendResult, classify_status


def post_json(session: requests.Session, url: str, body: Any, timeout_s: float,
              headers: dict[str, str] | None = None) -> SendResult:
    try:
        resp = session.post(url, json=body, timeout=timeout_s, headers=headers or {})
    except requests.ConnectTimeout:
        return SendResult(False, True, "network: connect timeout")  # nothing was sent
    except requests.Timeout:
        return SendResult(False, True, "network: timeout", timed_out=True)
    except requests.RequestException as exc:
        # The exception text can hold the URL with credentials: keep only its type.
        return SendResult(False, True, f"network: {type(exc).__name__}")
    return classify_status(resp.status_code)
