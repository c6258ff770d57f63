"""HTTP surfaces: loopback by default, an optional dashboard token, bounded request
bodies, and bad requests answered 4xx with a reason, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from engine.cluster import EDGE, Cluster
from engine.config import EngineConfig
from monitoring.app.config import Config, ConfigError, parse_config
from monitoring.app.live.server import Page, serve_http
from tests.servers import http_request

TOKEN = "s3cret-dashboard-token"


def test_defaults_bind_loopback_only():
    config = Config()
    assert config.serve.host == "127.0.0.1" and config.engine.http.host == "127.0.0.1"
    assert config.serve.token is None
    with pytest.raises(ConfigError, match=r"serve\.token"):
        parse_config({"serve": {"token": "short"}}, "c.yaml")  # a guessable token is refused


@pytest.fixture(scope="module")
def engine_port() -> Iterator[int]:
    with Cluster(EngineConfig(database={"seed_rows": 500, "seed_users": 50})) as cluster:
        urls = cluster.start_http()
        assert all(u.startswith("http://127.0.0.1:") for u in urls.values())
        yield int(urls[EDGE].rsplit(":", 1)[1])


@pytest.mark.parametrize("method, path, body, headers, status", [
    ("POST", "/us/v2/route", b"{not json", {}, 400),
    ("POST", "/us/v2/route", b'{"message": 5}', {}, 422),
    ("POST", "/us/v2/route", b"[]", {}, 422),
    ("GET", "/us/v2/nothing-here", None, {}, 404),
    ("GET", "/mars/v2/health", None, {}, 404),
    ("DELETE", "/us/v2/personas", None, {}, 405),
    ("POST", "/us/v2/route", b"x" * (65 * 1024), {}, 413),
    ("POST", "/us/v2/route", b"{}", {"Content-Length": "banana"}, 400),
    ("GET", "/us/v2/users/%00%ff/preferences", None, {}, 400),
])
def test_engine_api_answers_bad_requests_with_a_reason(engine_port, method, path, body,
                                                       headers, status):
    got, text = http_request(engine_port, method, path, body, headers)
    assert got == status, text
    doc = json.loads(text)
    assert doc["status"] == status and doc["error"]
    assert "Traceback" not in text and 'File "' not in text


def _route(path: str) -> Page:
    if path.startswith("/boom"):
        raise RuntimeError("secret internals /etc/passwd")
    return Page(200, "text/plain", b"dashboards")


@pytest.fixture(scope="module")
def dashboard_port() -> Iterator[int]:
    server = serve_http(_route, 0, token=TOKEN)
    assert server.server_address[0] == "127.0.0.1"
    yield server.server_port
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("method, path, body, headers, status", [
    ("GET", "/", None, {}, 401),
    ("GET", "/", None, {"Authorization": "Bearer wrong"}, 401),
    ("GET", "/?token=wrong", None, {}, 400),  # a token in the URL is refused outright
    ("GET", "/", None, {"Authorization": f"Bearer {TOKEN}"}, 200),
    ("GET", f"/d/x?token={TOKEN}", None, {}, 400),
    ("POST", f"/?token={TOKEN}", b"a=1", {"Authorization": f"Bearer {TOKEN}"}, 400),
    ("POST", "/", b"{}", {"Authorization": f"Bearer {TOKEN}"}, 405),
    ("PUT", "/", b"x" * 10, {}, 405),
    ("GET", "/", b"x" * (65 * 1024), {"Authorization": f"Bearer {TOKEN}"}, 413),
    ("GET", "/", None, {"Authorization": f"Bearer {TOKEN}", "Content-Length": "x"}, 400),
    ("GET", "/boom", None, {"Authorization": f"Bearer {TOKEN}"}, 500),
])
def test_dashboard_token_limits_and_reasons(dashboard_port, method, path, body, headers,
                                            status):
    got, text = http_request(dashboard_port, method, path, body, headers)
    assert got == status, text
    if status != 200:
        assert text.strip() and "Traceback" not in text and "secret internals" not in text
