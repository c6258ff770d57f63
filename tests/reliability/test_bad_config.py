"""Broken config.yaml variants: each is refused naming the file, the key and what was
expected, and ``ionmon`` exits non-zero without starting anything."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitoring.app.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
BASE: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text())
DROP = object()  # as a value: remove the key

# (dotted path, new value, the key the message must name, what it must say was expected)
CASES: list[tuple[str, Any, str, str]] = [
    # unknown keys, at every level
    *[(f"{sec}.bogus_key" if sec else "bogus_key", 1, f"{sec}.bogus_key" if sec else "bogus_key",
       "unknown key")
      for sec in ("", "engine", "store", "scrape", "backfill", "alerts", "schedule", "serve",
                  "engine.cache", "engine.database", "engine.traffic", "engine.http",
                  "store.prometheus", "alerts.channels")],
    # wrong types and out-of-range values
    ("serve.port", "http", "serve.port", "valid integer"),
    ("serve.port", 70000, "serve.port", "less than or equal to 65535"),
    ("serve.port", -1, "serve.port", "greater than or equal to 0"),
    ("engine.seed", "x", "engine.seed", "valid integer"),
    ("engine.cache.l1_max_items", "many", "engine.cache.l1_max_items", "valid integer"),
    ("engine.cache.l1_max_items", 0, "engine.cache.l1_max_items", "greater than or equal to 1"),
    ("engine.database.pool_size", [5], "engine.database.pool_size", "valid integer"),
    ("engine.database.backend", "mysql", "engine.database.backend", "'sqlite' or 'postgres'"),
    ("engine.cache.l2", "memcached", "engine.cache.l2", "'memory' or 'redis'"),
    ("engine.metrics_enabled", "maybe", "engine.metrics_enabled", "valid boolean"),
    ("engine.traffic.weekend_factor", 2, "engine.traffic.weekend_factor", "less than or equal"),
    ("engine.traffic.peak_requests_per_minute", "lots", "engine.traffic.peak_requests_per_minute",
     "valid number"),
    ("store.backend", "mysql", "store.backend", "'sqlite' or 'prometheus'"),
    ("store.prometheus.retries", 99, "store.prometheus.retries", "less than or equal to 10"),
    ("backfill.days", 100, "backfill.days", "less than or equal to 56"),
    ("backfill.days", "week", "backfill.days", "valid integer"),
    ("alerts.k_grid", "3", "alerts.k_grid", "valid list"),
    ("alerts.k_grid", [], "alerts.k_grid", "at least 1 item"),
    ("alerts.max_false_alarms_per_day", -1, "alerts.max_false_alarms_per_day",
     "greater than or equal to 0"),
    ("scrape.targets", "all", "scrape.targets", "valid list"),
    ("schedule.coalesce", "sometimes", "schedule.coalesce", "valid boolean"),
    ("schedule.retune_cron", "every day", "schedule.retune_cron", "crontab line"),
    ("schedule.report_cron", "0 25 * * *", "schedule.report_cron", "crontab line"),
    ("engine.regions.us.role", "leader", "engine.regions.us.role", "'primary' or 'replica'"),
    ("store", ["sqlite"], "store", "valid dictionary"),
    # bad durations
    ("scrape.interval", "soon", "scrape.interval", "expected a duration"),
    ("scrape.interval", "5 minutes", "scrape.interval", "expected a duration"),
    ("scrape.interval", "10x", "scrape.interval", "expected a duration"),
    ("scrape.interval", "0s", "interval", "must be positive"),
    ("scrape.timeout", "fast", "scrape.timeout", "expected a duration"),
    ("scrape.timeout", "2m", "scrape.timeout", "must be shorter than scrape.interval"),
    ("scrape.timeout", "60s", "scrape.timeout", "must be shorter than scrape.interval"),
    ("scrape.rate_window", "5mm", "scrape.rate_window", "expected a duration"),
    ("scrape.rate_window", "10s", "rate_window", "at least one interval"),
    ("store.retention", "forever", "store.retention", "expected a duration"),
    ("alerts.baseline", "1week", "alerts.baseline", "expected a duration"),
    ("schedule.misfire_grace", "x", "schedule.misfire_grace", "expected a duration"),
    ("schedule.evaluate_interval", [60], "schedule.evaluate_interval", "duration"),
    ("backfill.faults", [{"kind": "l1_flush", "target": "us", "at": "tomorrow",
                          "duration": "1m"}], "backfill.faults.0.at", "expected a duration"),
    # bad URLs
    ("store.prometheus.url", "ftp://prom:9090", "store.prometheus.url", "http:// or https://"),
    ("store.prometheus.url", "localhost:9090", "store.prometheus.url", "http:// or https://"),
    ("alerts.channels.webhook", {"url": "hook"}, "alerts.channels.webhook.url", "^https?://"),
    ("alerts.channels.alertmanager", {"url": "127.0.0.1:9093"}, "alerts.channels.alertmanager.url",
     "^https?://"),
    ("alerts.channels.sentry", {"dsn": "key@sentry/1"}, "alerts.channels.sentry.dsn",
     "^https?://"),
    ("engine.cache.l2_url", "localhost:6379", "engine.cache.l2_url", "rediss?"),
    ("engine.database.postgres_dsn", "mysql://db/ion", "engine.database.postgres_dsn",
     "postgres(ql)?://"),
    ("scrape.targets", [{"name": "a", "kind": "exposition", "url": "localhost/metrics"}],
     "scrape.targets.0", "http(s) URL"),
    ("scrape.targets", [{"name": "r", "kind": "redis"}], "scrape.targets.0", "needs a url"),
    # missing keys and unknown names
    ("scrape.targets", [{"kind": "host"}], "scrape.targets.0.name", "required key is missing"),
    ("backfill.faults", [{"kind": "l1_flush", "target": "us", "at": "1h"}],
     "backfill.faults.0.duration", "required key is missing"),
    ("engine.regions", {"us": {"role": "primary"}}, "engine.regions.us.network_delay_ms",
     "required key is missing"),
    ("alerts.channels.webhook", {}, "alerts.channels.webhook.url", "required key is missing"),
    ("backfill.faults", [{"kind": "meteor", "target": "us", "at": "1h", "duration": "1m"}],
     "backfill.faults.0.kind", "Input should be"),
    ("backfill.faults", [{"kind": "l1_flush", "target": "mars", "at": "1h", "duration": "1m"}],
     "backfill.faults.0.target", "unknown region"),
    ("backfill.faults", [{"kind": "builder_errors", "target": "us/poet", "at": "1h",
                          "duration": "1m"}], "backfill.faults.0.target", "region/builder"),
    ("alerts.channels.webhook", {"url": "http://x", "timeout": "soon"},
     "alerts.channels.webhook.timeout", "expected a duration"),
]


def _variant(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    if value is DROP:
        del node[last]
    else:
        node[last] = value
    return data


def test_at_least_fifty_variants():
    assert len(CASES) >= 50


@pytest.mark.parametrize("path, value, key, expected", CASES,
                         ids=[f"{c[0]}={c[1]!r}"[:60] for c in CASES])
def test_broken_variant_is_refused_naming_file_key_and_expectation(tmp_path, path, value, key,
                                                                   expected):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(_variant(path, value)))
    with pytest.raises(ConfigError) as err:
        load_config(config)
    message = str(err.value)
    assert message.startswith(f"{config}: "), message
    assert key in message, message
    assert expected in message, message


@pytest.mark.parametrize("text, expected", [
    ("scrape: [interval: 60s\n", "not valid YAML at line"),
    ("- a list\n- of things\n", "expected a mapping of sections"),
    ("scrape:\n  interval: \xff\n", "not UTF-8 text"),
])
def test_unreadable_files_are_refused_naming_the_file(tmp_path, text, expected):
    config = tmp_path / "config.yaml"
    config.write_text(text, encoding="latin-1")
    with pytest.raises(ConfigError) as err:
        load_config(config)
    assert str(err.value).startswith(f"{config}: ") and expected in str(err.value)


@pytest.mark.parametrize("command", [["serve", "--duration", "30s", "--port", "0"],
                                     ["scrape", "--window", "1s"],
                                     ["backfill", "--days", "1", "--no-progress"]])
def test_ionmon_exits_nonzero_and_starts_nothing(tmp_path, command):
    store = tmp_path / "data" / "ionmon.db"
    data = _variant("scrape.interval", "soon")
    data["store"]["path"] = str(store)
    data["output_dir"] = str(tmp_path / "out")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(data))
    proc = subprocess.run([sys.executable, "-m", "monitoring", "--config", str(config),
                           *command], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: {config}: "), proc.stderr
    assert "scrape.interval" in proc.stderr and "Traceback" not in proc.stderr
    assert "serving" not in proc.stderr + proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.yaml"]  # nothing written
