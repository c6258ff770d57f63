from pathlib import Path

import pytest

from alerts.slo import default_slos
from monitoring.app.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[3]


def test_config_yaml_declares_the_default_slos():
    assert load_config(ROOT / "config.yaml").slos == default_slos()


@pytest.mark.parametrize("slo, message", [
    ({"name": "x", "objective": 99, "indicator": {"kind": "ratio", "metric": "latency_p95"}},
     "slos.0.indicator: metric: a ratio indicator needs a percentage"),
    ({"name": "x", "objective": 100, "indicator": {"kind": "ratio", "metric": "availability"}},
     "slos.0.objective"),
    ({"name": "x", "objective": 99, "indicator": {"kind": "threshold", "metric": "nope",
                                                 "op": "<", "value": 1}},
     "unknown metric 'nope'"),
    ({"name": "x", "objective": 99, "window": "2h",
      "indicator": {"kind": "ratio", "metric": "availability"}}, "window: at least 1d"),
    ({"name": "x", "objective": 99, "indicator": {"kind": "threshold", "metric": "latency_p95"}},
     "needs op and value"),
])
def test_bad_slos_name_the_key(slo, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"slos": [slo]}, "c.yaml")


def test_duplicate_slo_names_are_refused():
    s = {"name": "x", "objective": 99, "indicator": {"kind": "ratio", "metric": "availability"}}
    with pytest.raises(ConfigError, match="duplicate SLO name 'x'"):
        parse_config({"slos": [s, s]})
