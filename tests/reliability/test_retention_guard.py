"""A retention shorter than what reads the store is refused before anything starts.

Once, ``store.retention: 0s`` was accepted and the nightly retention job deleted
every sample (312,383 → 0).
"""

import subprocess
import sys

import pytest
import yaml

from monitoring.app.config import parse_config
from monitoring.config import ConfigError


@pytest.mark.parametrize("retention", ["0s", "1h", "1d", "27d"])
def test_short_retention_is_refused_naming_the_key_and_the_window(retention):
    with pytest.raises(ConfigError, match=r"store\.retention: .* still read by slos\.\d+\.window "
                                          r"\(28d\); set it to at least 28d"):
        parse_config({"store": {"retention": retention}}, "config.yaml")


def test_the_tune_baseline_counts_as_a_window():
    slos = [{**slo.model_dump(), "window": "7d"} for slo in parse_config({}).slos]
    assert parse_config({"store": {"retention": "10d"}, "slos": slos}).store.retention == 864000
    with pytest.raises(ConfigError, match=r"alerts\.baseline \(14d\)"):
        parse_config({"store": {"retention": "10d"}, "slos": slos,
                      "alerts": {"baseline": "14d"}})


def test_an_infinite_retention_is_refused():
    with pytest.raises(ConfigError, match=r"store\.retention: .*finite"):
        parse_config({"store": {"retention": float("inf")}})


def test_the_command_line_stops_with_one_error_and_deletes_nothing(tmp_path):
    db = tmp_path / "ionmon.db"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"store": {"path": str(db), "retention": "0s"}}))
    proc = subprocess.run([sys.executable, "-m", "monitoring", "--config", str(config),
                           "query", "availability"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "store.retention" in proc.stderr and "Traceback" not in proc.stderr
    assert not db.exists()
