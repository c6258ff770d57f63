
import numpy as np
from click.testing import CliRunner

from alerts.rules import read_rules
from monitoring.app.cli import main
from monitoring.store.sqlite import SQLiteStore
from tests.app.cli.conftest import write_week


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


def test_tune_scores_the_picked_thresholds_on_a_held_out_week(workdir, tmp_path, monkeypatch):
    d, _ = workdir
    monkeypatch.chdir(d)
    # Another seed's week, two weeks later, in a store of its own.
    held = tmp_path / "heldout.db"
    write_week(held, seed=8, shift=14 * 86400)
    config = tmp_path / "config.yaml"
    config.write_text(f"store: {{path: {d / 'data' / 'ionmon.db'}}}\n"
                      f"alerts: {{rules_path: {tmp_path / 'rules.yaml'}}}\n")
    out = CliRunner().invoke(main, ["--config", str(config), "tune", "--apply",
                                    "--no-tradeoff", "--heldout", str(held)])
    assert out.exit_code == 0, out.output
    assert "held out (" in out.output and "6 recorded fault(s)" in out.output
    rules = read_rules(tmp_path / "rules.yaml")
    assert len(rules) == 9
    for r in rules:
        ins, ho = r.backtest["in_sample"], r.backtest["held_out"]
        assert abs(ins["days"] - 7) < 0.01 and abs(ho["days"] - 7) < 0.01
        assert r.backtest["status"] in ("chosen", "tail", "widened", "target", "disabled")
    by_id = {r.id: r for r in rules}
    # The synthetic weeks inject the same faults: each is caught on both.
    lag = by_id["replication_lag"].backtest
    assert lag["in_sample"]["loud"] == lag["held_out"]["loud"] == {
        "faults": 1, "caught": 1, "mean_ttd_s": lag["held_out"]["loud"]["mean_ttd_s"]}
    assert lag["held_out"]["false_alarms"] == 0


def test_tune_heldout_must_be_a_store_and_not_the_baseline(workdir, tmp_path, monkeypatch):
    d, _ = workdir
    monkeypatch.chdir(d)
    run = CliRunner().invoke
    out = run(main, ["--config", "config.yaml", "tune", "--heldout", str(tmp_path / "no.db")])
    assert out.exit_code == 2 and "--heldout: no store at" in out.output
    out = run(main, ["--config", "config.yaml", "tune", "--heldout",
                     str(d / "data" / "ionmon.db")])
    assert out.exit_code == 2 and "overlap the baseline" in out.output
