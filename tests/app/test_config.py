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


def test_no_slos_means_no_slos_anywhere(tmp_path):
    """``slos: []`` declares none: the evaluator, the dashboards, the report and the
    Prometheus export all see none (no default burn-rate rules slip back in)."""
    import yaml

    from alerts.cycle import load_rules, run_cycle
    from alerts.slo_export import slo_rules_yaml
    from dashboards.definitions import DASHBOARDS
    from dashboards.loader import load_configured
    from monitoring.app.report import load_inputs
    from monitoring.store.sqlite import SQLiteStore

    config = parse_config({
        "slos": [],
        "store": {"path": str(tmp_path / "ionmon.db")},
        "alerts": {"rules_path": str(tmp_path / "rules.yaml"),
                   "state_path": str(tmp_path / "alerts.db")}})
    assert config.alerting.slos == ()
    assert load_rules(config.alerting) == ([], None)
    store = SQLiteStore(config.store.path)
    try:
        result = run_cycle(config.alerting, store, 1_700_000_000.0, channels=[])
        assert result.rules == 0 and result.states == {}
        data = load_configured(config.alerting, DASHBOARDS["overview"], store,
                               1_699_990_000.0, 1_700_000_000.0, 60.0)
        assert all(not p.budgets for p in data.panels)
        assert load_inputs(config, store, 1_699_400_000.0).slos == ()
    finally:
        store.close()
    assert yaml.safe_load(slo_rules_yaml(config.slos))["groups"][0]["rules"] == []
    # Left out, the key keeps the defaults.
    assert len(parse_config({}).alerting.slos) == 5
