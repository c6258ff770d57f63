import pytest

from monitoring.app.config import ConfigError, load_config, parse_config
from monitoring.durations import parse_duration


def test_default_config_file_loads():
    config = load_config("config.yaml")
    assert config.store.backend == "sqlite"
    assert len(config.backfill.faults) == 6


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"store": {"retention": "abc"}}, "store.retention: expected a duration"),
        ({"storee": {}}, "storee: unknown key"),
        ({"scrape": {"interval": "1m", "timeout": "2m"}}, "must not exceed interval"),
        ({"engine": {"cache": {"l1_max_items": "x"}}}, "engine.cache.l1_max_items"),
        ({"store": {"prometheus": {"url": "ftp://x"}}}, "store.prometheus.url"),
        ({"backfill": {"faults": [{"kind": "l2_down", "target": "mars", "at": "1h",
                                   "duration": "1m"}]}}, "unknown region 'mars'"),
        ({"backfill": {"faults": [{"kind": "l2_down", "target": "us", "at": "1h"}]}},
         "backfill.faults.0.duration: required key is missing"),
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
