"""Alertmanager's silences API (v2): mirror our silences so Prometheus-routed alerts mute too."""

from __future__ import annotations

from datetime import UTC, datetime

import requests

from alerts.silence import Silence


class SilenceSyncError(RuntimeError):
    """Alertmanager refused or could not be reached; the message holds no credentials."""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def to_alertmanager(s: Silence) -> dict:
    return {
        "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True}
                     for k, v in sorted(s.matchers.items())],
        "startsAt": _iso(s.starts_at), "endsAt": _iso(s.ends_at),
        "createdBy": s.created_by, "comment": s.comment or f"ionmon silence {s.id}",
    }


class AlertmanagerSilences:
    def __init__(self, url: str, timeout_s: float = 5.0) -> None:
        self.base = url.rstrip("/") + "/api/v2"
        self.timeout_s = timeout_s
        self._session = requests.Session()

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        try:
            resp = self._session.request(method, self.base + path, timeout=self.timeout_s,
                                         **kwargs)
        except requests.RequestException as exc:
            raise SilenceSyncError(f"alertmanager: {type(exc).__name__}") from None
        if not 200 <= resp.status_code < 300:
            raise SilenceSyncError(f"alertmanager: HTTP {resp.status_code}: "
                                   f"{resp.text[:200]}")
        return resp

    def create(self, s: Silence) -> str:
        """Post the silence; returns Alertmanager's id for it."""
        return str(self._call("POST", "/silences", json=to_alertmanager(s)).json()["silenceID"])

    def expire(self, remote_id: str) -> None:
        self._call("DELETE", f"/silence/{remote_id}")

    def list(self) -> list[dict]:
        return list(self._call("GET", "/silences").json())
