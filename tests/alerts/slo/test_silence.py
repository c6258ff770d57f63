"""Silences: muted in every channel while active, recorded, delivered after expiry."""

from __future__ import annotations

import json
import logging
import time
import urllib.request

import numpy as np
import pytest

from alerts.cycle import run_cycle
from alerts.export import alertmanager_config
from alerts.notify.alertmanager import AlertmanagerNotifier
from alerts.notify.am_silences import AlertmanagerSilences
from alerts.notify.log import LogNotifier
from alerts.notify.sentry import SentryNotifier
from alerts.notify.webhook import WebhookNotifier
from alerts.silence import Silence, SilenceStore, parse_matchers
from monitoring.app.config import parse_config
from monitoring.store.base import Point
from monitoring.store.sqlite import SQLiteStore
from tests.alerts.receiver import Receiver
from tests.alerts.slo.synth import START
from tests.servers import AlertmanagerServer, require_binary

PAGE = "slo_availability_page"


def _config(tmp_path):
    return parse_config({
        "store": {"path": str(tmp_path / "ionmon.db")},
        "alerts": {"state_path": str(tmp_path / "alerts.db"),
                   "rules_path": str(tmp_path / "absent.yaml"),
                   "runbook_base_url": "https://runbooks.example/ionmon"},
    })


def _outage(store: SQLiteStore, start: float, hours: float, bad_from: float) -> None:
    """Availability at 90% (burn 200) from ``bad_from``; 100% before."""
    ts = start + 60.0 * np.arange(1, int(hours * 60) + 1)
    points = []
    for t in ts:
        points.append(Point("availability", float(t), 90.0 if t > bad_from else 100.0))
        points.append(Point("request_rate", float(t), 1.0))
    store.write(points)


class Channels:
    """One of each channel, each pointed at a loopback receiver or a log capture."""

    def __init__(self, tmp_path, rx: Receiver) -> None:
        self.log = LogNotifier(logging.getLogger("ionmon.test.silence"))
        self.webhook = WebhookNotifier(f"{rx.url}/hook", tmp_path / "outbox.db", deadline_s=1)
        self.alertmanager = AlertmanagerNotifier(rx.url)
        self.sentry = SentryNotifier(f"http://publickey@127.0.0.1:{rx.port}/1")
        self.all = [self.log, self.webhook, self.alertmanager, self.sentry]


@pytest.fixture
def setup(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="ionmon.test.silence")
    config = _config(tmp_path)
    store = SQLiteStore(config.store.path)
    with Receiver() as rx:
        yield config, store, Channels(tmp_path, rx), rx, caplog
    store.close()


def _sent_to(rx: Receiver, caplog) -> dict[str, int]:
    paths = [r["path"] for r in rx.requests]
    return {"webhook": paths.count("/hook"),
            "alertmanager": paths.count("/api/v2/alerts"),
            "sentry": sum("/api/1/" in p for p in paths),
            "log": sum(PAGE in r.getMessage() for r in caplog.records)}


def test_silenced_alert_is_recorded_not_sent_then_sent_after_expiry(setup):
    config, store, channels, rx, caplog = setup
    bad_from = START + 3 * 3600
    _outage(store, START, 5, bad_from)
    silences = SilenceStore(config.alerting.silence_path)
    s = silences.add({"alertname": PAGE}, bad_from, bad_from + 3600, "oncall", "maintenance")

    fired_at = None
    for minute in range(1, 40):
        now = bad_from + 60 * minute
        result = run_cycle(config.alerting, store, now, channels.all, deadline_s=1)
        if any(c.rule == PAGE and c.new == "firing" for c in result.changes):
            fired_at = now
            assert [n.rule for n in result.muted] == [PAGE]
    assert fired_at is not None
    # Recorded: the state change is in the history and the suppression is logged.
    from alerts.state import AlertStore
    history = AlertStore(config.alerts.state_path).history(PAGE)
    assert "firing" in [h["new"] for h in history]
    assert [r["rule"] for r in silences.suppressed()] == [PAGE]
    assert _sent_to(rx, caplog) == {"webhook": 0, "alertmanager": 0, "sentry": 0, "log": 0}

    # Expired, the alert still firing: the held firing goes to every channel once.
    now = bad_from + 45 * 60
    silences.expire(s.id, now)
    result = run_cycle(config.alerting, store, now, channels.all, deadline_s=1)
    assert [n.rule for n in result.sent] == [PAGE]
    sent = _sent_to(rx, caplog)
    assert sent["webhook"] == 1 and sent["alertmanager"] == 1 and sent["log"] == 1
    assert sent["sentry"] >= 1
    body = next(json.loads(r["body"]) for r in rx.requests if r["path"] == "/hook")
    assert body["runbook_url"] == "https://runbooks.example/ionmon#slo-availability"
    assert body["checks"] and body["state"] == "firing"
    am = next(json.loads(r["body"]) for r in rx.requests if r["path"] == "/api/v2/alerts")
    assert am[0]["annotations"]["runbook_url"].endswith("#slo-availability")
    # Not sent twice.
    result = run_cycle(config.alerting, store, now + 60, channels.all, deadline_s=1)
    assert result.sent == ()
    silences.close()


def test_fired_and_resolved_under_a_silence_notifies_nothing(tmp_path):
    from alerts.notify.base import Notification
    from alerts.silence import released, split_silenced

    store = SilenceStore(tmp_path / "s.db")
    store.add({"alertname": "x"}, 0, 100)
    fire = Notification("x", "firing", "critical", "s", at=10)
    done = Notification("x", "resolved", "critical", "s", at=20)
    assert split_silenced([fire], store, 10) == ([], [fire])
    assert split_silenced([done], store, 20) == ([], [done])
    assert released(store, set(), 200) == []
    assert len(store.suppressed()) == 2


def test_silence_validation():
    with pytest.raises(ValueError):
        Silence("a", {}, 0, 10)
    with pytest.raises(ValueError):
        Silence("a", {"alertname": "x"}, 10, 10)
    with pytest.raises(ValueError):
        parse_matchers(["novalue"])
    assert parse_matchers(["alertname=x", "severity = critical"]) == {
        "alertname": "x", "severity": "critical"}


def test_silences_sync_to_a_real_alertmanager(tmp_path):
    require_binary("prometheus-alertmanager")
    with AlertmanagerServer(alertmanager_config("http://127.0.0.1:9/hook")) as am:
        store = SilenceStore(tmp_path / "s.db")
        now = time.time()
        s = store.add({"alertname": PAGE}, now, now + 3600, "oncall", "db maintenance")
        remote = AlertmanagerSilences(am.url)
        rid = remote.create(s)
        store.set_remote(s.id, rid)
        got = {x["id"]: x for x in remote.list()}
        assert got[rid]["status"]["state"] == "active"
        assert got[rid]["matchers"][0]["name"] == "alertname"
        assert got[rid]["matchers"][0]["value"] == PAGE
        # An alert sent to Alertmanager is muted there too.
        from alerts.notify.base import Notification
        AlertmanagerNotifier(am.url).send([Notification(PAGE, "firing", "critical", "s",
                                                        at=now)])
        with urllib.request.urlopen(f"{am.url}/api/v2/alerts", timeout=5) as resp:
            alerts = json.loads(resp.read())
        assert alerts and alerts[0]["status"]["silencedBy"] == [rid]
        store.expire(s.id, time.time())
        remote.expire(store.get(s.id).remote_id)  # type: ignore[arg-type]
        got = {x["id"]: x for x in remote.list()}
        assert got[rid]["status"]["state"] == "expired"
        store.close()
