"""Hostile label values and persona names stay inert in every renderer and notification."""

from __future__ import annotations

import json
import logging

import markdown_it
import pytest

from alerts.notify.alertmanager import to_alertmanager
from alerts.notify.base import Notification
from alerts.notify.log import LogNotifier
from alerts.notify.webhook import WebhookNotifier
from dashboards.data import DashboardData
from renderers.grafana import render_grafana
from renderers.html import render_html
from renderers.json import render_json
from renderers.markdown import render_markdown
from renderers.text import render_text
from tests.alerts.receiver import Receiver
from tests.renderers.conftest import EVIL, alerts, evil_data, store  # noqa: F401 (fixtures)

# Markup, quotes, a forged log line and Markdown table pipes in one value.
HOSTILE = ('<script>alert("x")</script> \'q\' "dq"\nFAKE alert resolved | a | b |'
           ' `code` **persona** ${x}\r\x1b[31m')


def test_every_renderer_keeps_hostile_labels_inert(evil_data: DashboardData):  # noqa: F811
    html = render_html(evil_data)
    assert "<script" not in html.lower() and "&lt;script&gt;" in html
    md = render_markdown(evil_data)
    md_html = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    assert "<script" not in md_html and "<a " not in md_html and "<code>" not in md_html
    for line in md.splitlines():  # an escaped pipe cannot open a new table cell
        if line.startswith("|") and "alert(1)" in line:
            assert "| `rm" not in line
    text = render_text(evil_data)
    assert "<script>alert(1)</script>" in text  # shown as typed
    doc = json.loads(render_json(evil_data))
    assert EVIL in json.dumps(doc, ensure_ascii=False)
    grafana = json.loads(render_grafana(evil_data))
    assert grafana["title"].endswith(EVIL)


@pytest.fixture
def note() -> Notification:
    return Notification(rule=f"persona {HOSTILE}", state="firing", severity="critical",
                        summary=f"summary {HOSTILE}", at=1000.0, active_since=900.0,
                        metric=f"latency {HOSTILE}", value=1.5, runbook=HOSTILE)


def test_webhook_payload_carries_hostile_values_verbatim_as_json(tmp_path, note):
    with Receiver() as rx:
        assert WebhookNotifier(rx.url, tmp_path / "o.db", deadline_s=0).send([note]).ok
        (body,) = rx.json_bodies()
        headers = rx.requests[0]["headers"]
    assert body["rule"] == note.rule and body["summary"] == note.summary
    assert body["runbook"] == HOSTILE
    assert "\n" not in headers["Idempotency-Key"]  # a header cannot be split


def test_alertmanager_payload_round_trips_hostile_values(note):
    wire = json.dumps([to_alertmanager(note)])
    (alert,) = json.loads(wire)
    assert alert["labels"]["alertname"] == note.rule
    assert alert["annotations"]["summary"] == note.summary


def test_log_channel_cannot_be_made_to_forge_lines(caplog, note):
    with caplog.at_level(logging.INFO, logger="ionmon.alerts"):
        assert LogNotifier().send([note]).ok
    (record,) = caplog.records
    message = record.getMessage()
    assert "\n" not in message and "\r" not in message and "\x1b" not in message
    assert "FAKE alert resolved" in message and "\\n" in message
