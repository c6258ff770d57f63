import itertools

import pytest

from engine.faults import FAULT_KINDS
from monitoring.app.config import ConfigError, load_config, parse_config
from monitoring.durations import parse_duration


def test_default_config_file_loads():
    config = load_config("config.yaml")
    assert config.store.backend == "sqlite"
    faults = config.backfill.faults
    assert {f.kind for f in faults} == set(FAULT_KINDS)  # a fault of every kind in the week
    assert {f.params["severity"] for f in faults} == {"subtle", "loud"}
    for a, b in itertools.pairwise(faults):  # in order, apart, within the week
        assert a.at + a.duration + 3 * 3600 <= b.at
    assert faults[-1].at + faults[-1].duration <= config.backfill.days * 86400


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"store": {"retention": "abc"}}, "store.retention: expected a duration"),
        ({"storee": {}}, "storee: unknown key"),
        ({"scrape": {"interval": "1m", "timeout": "2m"}}, "must be shorter than scrape.interval"),
        ({"scrape": {"interval": "1m", "timeout": "1m"}}, "must be shorter than scrape.interval"),
        ({"engine": {"cache": {"l1_max_items": "x"}}}, "engine.cache.l1_max_items"),
        ({"store": {"prometheus": {"url": "ftp://x"}}}, "store.prometheus.url"),
        ({"backfill": {"faults": [{"kind": "l2_down", "target": "mars", "at": "1h",
                                   "duration": "1m"}]}}, "unknown region 'mars'"),
        ({"backfill": {"faults": [{"kind": "l2_down", "target": "us", "at": "1h"}]}},
         "backfill.faults.0.duration: required key is missing"),
        ({"backfill": {"faults": [{"kind": "meteor", "target": "us", "at": "1h",
                                   "duration": "1m"}]}}, "backfill.faults.0.kind"),
        ({"backfill": {"faults": [{"kind": "cpu_hog", "target": "us", "at": "1h",
                                   "duration": "1m", "params": {"severity": "mild"}}]}},
         "backfill.faults.0.params: cpu_hog: unknown severity 'mild' (expected subtle or loud)"),
        ({"backfill": {"faults": [{"kind": "replica_lag", "target": "us", "at": "1h",
                                   "duration": "1m"}]}},
         "backfill.faults.0.target: replica_lag needs a replica region"),
        ([1, 2], "expected a mapping"),
    ],
)
def test_bad_config_names_file_key_and_expectation(data, expected):
    with pytest.raises(ConfigError) as err:
        parse_config(data, "my.yaml")
    assert "my.yaml" in str(err.value)
    assert expected in str(err.value)


def test_yaml_syntax_error_gives_line(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("store:\n  path: [unclosed\n")
    with pytest.raises(ConfigError, match=r"c.yaml: not valid YAML at line \d+"):
        load_config(bad)


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_config("/nonexistent/config.yaml")


def test_durations():
    assert parse_duration("1h30m") == 5400
    assert parse_duration("7d") == 7 * 86400
    with pytest.raises(ValueError):
        parse_duration("5 minutes")


