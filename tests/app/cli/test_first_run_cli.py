"""The first run's commands on a synthetic week: tune --apply logs its changes and why,
alerts --replay leaves an alert history the report reads."""

import json

from click.testing import CliRunner

from alerts.state import AlertStore
from monitoring.app.cli import main


def test_tune_apply_appends_each_change_with_its_reason(workdir, monkeypatch):
    d, _ = workdir
    monkeypatch.chdir(d)
    out = CliRunner().invoke(main, ["--config", "config.yaml", "tune", "--apply"])
    assert out.exit_code == 0, out.output
    rows = [json.loads(line) for line in
            (d / "data" / "tuning.jsonl").read_text().splitlines()]
    assert len(rows) == 9 and all(r["applied"] and r["old"] == "—" for r in rows)
    assert all(r["reason"] and r["baseline_start"] == r["at"] - 7 * 86400 for r in rows)
    again = CliRunner().invoke(main, ["--config", "config.yaml", "tune", "--apply"])
    assert again.exit_code == 0, again.output
    assert len((d / "data" / "tuning.jsonl").read_text().splitlines()) == 9  # nothing changed


def test_replay_records_the_history_once(workdir, monkeypatch):
    d, ts = workdir
    monkeypatch.chdir(d)
    run = CliRunner().invoke
    assert run(main, ["--config", "config.yaml", "tune", "--apply"]).exit_code == 0
    out = run(main, ["--config", "config.yaml", "alerts", "--replay",
                     "--since", str(float(ts[0]))])
    assert out.exit_code == 0, out.output
    assert "replayed" in out.output and "(log)" in out.output
    states = AlertStore(d / "data" / "alerts.db")
    history = states.history(limit=100_000)
    states.close()
    assert any(r["new"] == "firing" and r["rule"] == "replication_lag" for r in history)
    out = run(main, ["--config", "config.yaml", "alerts", "--replay",
                     "--since", str(float(ts[0]))])
    assert out.exit_code == 0 and "nothing to replay" in out.output
    states = AlertStore(d / "data" / "alerts.db")
    assert len(states.history(limit=100_000)) == len(history)
    states.close()
