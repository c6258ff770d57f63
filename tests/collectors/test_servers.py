"""Each test server starts, answers, survives a kill and restarts on the same port."""

from __future__ import annotations

import json
import urllib.request

import psycopg
import pytest
import redis

from tests.servers import AlertmanagerServer, PrometheusServer, RedisServer, require_binary

PROMETHEUS_CONFIG = """\
global:
  scrape_interval: 15s
scrape_configs: []
"""

ALERTMANAGER_CONFIG = """\
route:
  receiver: blackhole
receivers:
  - name: blackhole
"""


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


def test_redis_starts_stops_and_restarts(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    assert client.ping()
    port = redis_server.port
    redis_server.stop()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(redis_server.url, socket_timeout=1).ping()
    redis_server.start()
    assert redis_server.port == port
    assert redis.Redis.from_url(redis_server.url, socket_timeout=2).ping()


def test_postgres_starts_stops_and_restarts(postgres_server) -> None:
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v int)")
        conn.execute("INSERT INTO kept VALUES (42)")
    postgres_server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres_server.dsn, connect_timeout=1)
    postgres_server.start()  # crash recovery on the same data dir
    with psycopg.connect(postgres_server.dsn) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone() == (42,)
        assert conn.execute("SELECT current_database()").fetchone() == ("ion",)


def test_prometheus_starts_stops_and_restarts() -> None:
    with PrometheusServer(PROMETHEUS_CONFIG) as prom:
        assert _get_json(f"{prom.url}/api/v1/query?query=1")["status"] == "success"
        prom.stop()
        prom.start()
        assert _get_json(f"{prom.url}/api/v1/status/buildinfo")["status"] == "success"


def test_alertmanager_starts_stops_and_restarts() -> None:
    with AlertmanagerServer(ALERTMANAGER_CONFIG) as am:
        assert _get_json(f"{am.url}/api/v2/status")["cluster"]["status"] == "disabled"
        am.stop()
        am.start()
        assert _get_json(f"{am.url}/api/v2/alerts") == []


def test_require_binary_skips_locally_and_fails_in_ci(monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_binary("/nonexistent/ion-binary")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require_binary("ion-binary-that-does-not-exist")
    assert require_binary("sh").endswith("/sh")
