"""Silences on the live page, over real HTTP on a loopback port: list, create, expire,
token-protected, size-limited, bad input answered with a reason."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from prometheus_client import CollectorRegistry

from alerts.silence import SilenceStore
from monitoring.app.config import Config, parse_config
from monitoring.app.live.routes import make_post_router, make_router
from monitoring.app.live.server import MAX_REQUEST_BODY, serve_http
from monitoring.app.scheduler import JobStateDB
from tests.servers import http_request

TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = 1_795_000_000.0
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Clock:
    def __init__(self, now: float) -> None:
        self.t = now

    def now(self) -> float:
        return self.t


def _config(tmp: Path, token: str | None) -> Config:
    return parse_config({
        "store": {"path": str(tmp / "ionmon.db")},
        "alerts": {"state_path": str(tmp / "alerts.db"), "rules_path": str(tmp / "rules.yaml")},
        "serve": {"token": token} if token else {},
    })


class Server:
    def __init__(self, config: Config, tmp: Path) -> None:
        self.clock = Clock(NOW)
        self.state = JobStateDB(tmp / "sched.db")
        route = make_router(config, None, self.state, CollectorRegistry(), self.clock)  # type: ignore[arg-type]
        self.httpd = serve_http(route, 0, token=config.serve.token,
                                post=make_post_router(config, self.clock))  # type: ignore[arg-type]
        self.port = self.httpd.server_port

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, str]:
        return http_request(self.port, method, path, body, headers)

    def form(self, path: str, fields: dict[str, Any], headers: dict[str, str] | None = None
             ) -> tuple[int, str]:
        return self.request("POST", path, urlencode(fields, doseq=True).encode(),
                            {**FORM, **(headers or {})})

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.state.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, Config]]:
    config = _config(tmp_path, TOKEN)
    s = Server(config, tmp_path)
    yield s, config
    s.close()


def _stored(config: Config) -> list:
    store = SilenceStore(config.alerting.silence_path)
    try:
        return store.all()
    finally:
        store.close()


def test_create_list_and_expire_with_the_token(server: tuple[Server, Config]) -> None:
    srv, config = server
    status, page = srv.request("GET", "/silences", headers=AUTH)
    assert status == 200 and "No active silences." in page
    status, page = srv.form("/silences", {
        "matchers": "alertname=slo_availability_page, severity=critical",
        "duration": "2h", "comment": "<b>deploy</b>", "token": TOKEN})
    assert status == 200, page
    [s] = _stored(config)
    assert dict(s.matchers) == {"alertname": "slo_availability_page", "severity": "critical"}
    assert (s.starts_at, s.ends_at, s.comment) == (NOW, NOW + 7200, "<b>deploy</b>")
    assert f"silence {s.id} created" in page
    # Listed, escaped, with an expire form naming it.
    status, page = srv.request("GET", "/silences", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert f"data-silence='{s.id}'" in page and "&lt;b&gt;deploy&lt;/b&gt;" in page
    assert "<b>deploy</b>" not in page
    assert re.search(rf"name='id' value='{s.id}'", page)
    srv.clock.t = NOW + 60
    status, page = srv.form("/silences/expire", {"id": s.id},
                            {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and f"silence {s.id} expired" in page
    [s] = _stored(config)
    assert s.ends_at == NOW + 60 and not s.active(NOW + 60)
    assert "No active silences." in srv.request("GET", "/silences", headers=AUTH)[1]


@pytest.mark.parametrize(("fields", "headers", "status", "reason"), [
    ({"matchers": "alertname=x"}, {}, 401, "unauthorized"),
    ({"matchers": "alertname=x", "token": "wrong-token-0123456"}, {}, 401, "unauthorized"),
    ({"matchers": "alertname=x"}, {"Authorization": "Bearer nope"}, 401, "unauthorized"),
    ({"matchers": "", "token": TOKEN}, {}, 400, "matchers: required"),
    ({"matchers": "no-equals-sign", "token": TOKEN}, {}, 400, "expected label=value"),
    ({"matchers": "alertname=x", "duration": "soon", "token": TOKEN}, {}, 400, "duration"),
    ({"matchers": "alertname=x", "duration": "90d", "token": TOKEN}, {}, 400,
     "between 1s and 30d"),
    ({"matchers": ["a=1", "b=2"], "token": TOKEN}, {}, 400, "given 2 times"),
    ({"matchers": "alertname=" + "x" * 600, "token": TOKEN}, {}, 400, "longer than"),
])
def test_refused_posts_say_why(server: tuple[Server, Config], fields: dict, headers: dict,
                               status: int, reason: str) -> None:
    srv, config = server
    got, body = srv.form("/silences", fields, headers)
    assert got == status and reason in body, body
    assert "Traceback" not in body
    assert _stored(config) == []


def test_malformed_requests(server: tuple[Server, Config]) -> None:
    srv, config = server
    auth = {"Authorization": f"Bearer {TOKEN}"}
    cases = [
        (b"x" * (MAX_REQUEST_BODY + 1), {**FORM, **auth}, 413, "exceeds"),
        (b"\xff\xfe\x00", {**FORM, **auth}, 400, "UTF-8"),
        (b'{"matchers": "a=b"}', {"Content-Type": "application/json", **auth}, 415, "send"),
        (b"&".join(b"f%d=1" % i for i in range(50)), {**FORM, **auth}, 400, "bad request"),
    ]
    for body, headers, status, reason in cases:
        got, text = srv.request("POST", "/silences", body, headers)
        assert (got, reason in text) == (status, True), (body[:20], text)
        assert "Traceback" not in text
    got, text = srv.form("/silences/expire", {"id": "missing"}, auth)
    assert got == 404 and "no silence 'missing'" in text
    got, text = srv.form("/silences/expire", {}, auth)
    assert got == 400 and "id: required" in text
    got, text = srv.form("/elsewhere", {"id": "x"}, auth)
    assert got == 404
    assert _stored(config) == []


def test_without_a_configured_token_changes_are_forbidden(tmp_path: Path) -> None:
    config = _config(tmp_path, None)
    srv = Server(config, tmp_path)
    try:
        status, page = srv.request("GET", "/silences")
        assert status == 200 and "<h1>Silences</h1>" in page
        got, text = srv.form("/silences", {"matchers": "alertname=x", "token": "anything"})
        assert got == 403 and "serve.token" in text
        assert _stored(config) == []
    finally:
        srv.close()
