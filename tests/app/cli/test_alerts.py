import numpy as np
from click.testing import CliRunner

from alerts.rules import read_rules
from monitoring.app.cli import main
from monitoring.store.sqlite import SQLiteStore


def test_tune_apply_then_evaluate_then_export(workdir, monkeypatch):
    d, ts = workdir
    monkeypatch.chdir(d)
    run = CliRunner().invoke
    out = run(main, ["--config", "config.yaml", "tune", "--apply"])
    assert out.exit_code == 0, out.output
    assert "region_or_l2_down" in out.output and "chosen" in out.output
    rules = read_rules(d / "data" / "rules.yaml")
    assert len(rules) == 9
    # During the recorded replica lag: the rule is pending at its first evaluation.
    lag_start = ts[0] + 4 * 86400 + 15 * 3600
    for at in (lag_start + 60, lag_start + 240):
        out = run(main, ["--config", "config.yaml", "alerts", "--evaluate", "--at",
                         str(at), "--history", "5"])
        assert out.exit_code == 0, out.output
    assert "replication_lag" in out.output and "firing" in out.output
    out = run(main, ["--config", "config.yaml", "export", "prometheus"])
    assert out.exit_code == 0 and "alert: replication_lag" in out.output


def test_tune_without_data_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("store: {path: empty.db}\n")
    out = CliRunner().invoke(main, ["--config", "config.yaml", "tune"])
    assert out.exit_code == 1 and "no samples" in out.output


def test_alerts_evaluate_without_rules_names_the_file(tmp_path, monkeypatch):
    # Without tuned rules the SLO burn-rate rules still run; the missing file is named.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("store: {path: empty.db}\n")
    out = CliRunner().invoke(main, ["--config", "config.yaml", "alerts", "--evaluate"])
    assert out.exit_code == 0, out.output
    assert "data/rules.yaml" in out.output and "no data" in out.output


def test_store_grid_matches_the_synthetic_week(workdir):
    d, ts = workdir
    store = SQLiteStore(d / "data" / "ionmon.db")
    s = store.read("regions_up", ts[0], ts[-1], 60)
    assert np.nanmin(s.values) == 2.0
