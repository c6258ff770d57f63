from pathlib import Path

from click.testing import CliRunner

from alerts.evaluator import AlertState, Transition
from alerts.notify.dispatch import notifications
from alerts.rules import RULE_SPECS
from alerts.runbooks import runbook_for, runbooks_markdown
from alerts.slo import default_slos
from alerts.slo_rules import slo_rules
from monitoring.app.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_every_rule_and_slo_has_a_runbook():
    ids = [s.id for s in RULE_SPECS] + [s.name for s in default_slos()]
    ids += [r.id for r in slo_rules(default_slos())]
    missing = [i for i in ids if runbook_for(i) is None]
    assert missing == []


def test_the_runbook_page_is_current():
    assert (ROOT / "docs" / "runbooks.md").read_text() == runbooks_markdown()


def test_notifications_carry_link_and_checks():
    alert = AlertState("slo_latency_eu_page", "firing", severity="critical", summary="s")
    [n] = notifications([Transition(alert.rule, 10.0, "pending", "firing", alert)],
                        "https://rb.example/p")
    assert n.runbook_url == "https://rb.example/p#slo-latency"
    assert n.checks and all(isinstance(c, str) for c in n.checks)


def test_silence_cli_add_list_expire(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("store: {path: s.db}\n")
    run = CliRunner().invoke
    out = run(main, ["--config", "config.yaml", "silence", "add", "alertname=low_availability",
                     "--duration", "1h", "--comment", "maintenance", "--author", "me"])
    assert out.exit_code == 0, out.output
    sid = out.output.split()[1].rstrip(":")
    out = run(main, ["--config", "config.yaml", "silence", "list"])
    assert sid in out.output and "active" in out.output
    out = run(main, ["--config", "config.yaml", "silence", "expire", sid])
    assert out.exit_code == 0, out.output
    out = run(main, ["--config", "config.yaml", "silence", "list"])
    assert sid not in out.output
    out = run(main, ["--config", "config.yaml", "silence", "list", "--all"])
    assert sid in out.output and "expired" in out.output
    assert run(main, ["--config", "config.yaml", "silence", "expire", "nope"]).exit_code == 1
    assert run(main, ["--config", "config.yaml", "silence", "add", "bad"]).exit_code == 2


def test_export_slo_rules_cli(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text("store: {path: s.db}\n")
    out = CliRunner().invoke(main, ["--config", "config.yaml", "export", "slo"])
    assert out.exit_code == 0 and "slo_availability_page" in out.output
