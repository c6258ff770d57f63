"""The live page's markup: one script allowed by its hash, hostile labels inert, bands."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import replace

from dashboards.data import DashboardData
from dashboards.markers import Marker
from renderers.html import LiveView, render_html
from tests.renderers.conftest import END, EVIL, START


def _live(data: DashboardData) -> str:
    return render_html(data, link_pattern="/d/{name}",
                       live=LiveView((("range", "24h"), ("note", EVIL)), "24h"))


def test_only_the_pages_own_script_runs(evil_data: DashboardData):
    page = _live(evil_data)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1 and page.lower().count("<script") == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    csp = html.unescape(re.search(r'Content-Security-Policy" content="([^"]+)"', page)[1])
    assert f"script-src 'sha256-{digest}'" in csp and "unsafe-inline'; img" in csp
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # A hostile value in the range's query is URL-encoded in every link.
    assert "note=%3Cscript%3Ealert%281%29" in page
    assert "note=<script>" not in page


def test_hostile_marker_names_stay_text(evil_data: DashboardData):
    bad = Marker("fault", f"kind {EVIL}", f"target {EVIL}", START + 3600, START + 7200,
                 ("latency_p95",))
    page = _live(replace(evil_data, markers=(bad,)))
    (title,) = re.findall(r'<rect class="band fault"[^>]*><title>([^<]*)</title>', page)
    assert title.startswith("fault kind &lt;script&gt;alert(1)&lt;/script&gt;")


def test_the_static_page_stays_script_free_and_shades_markers(evil_data: DashboardData):
    mk = Marker("alert", "high_latency_p95", "latency_p95", END - 7200, None,
                ("latency_p95",))
    page = render_html(replace(evil_data, markers=(mk,)))
    assert "<script" not in page.lower() and "data-ts=" not in page
    assert page.count('class="band alert"') == 1
    assert "alert high_latency_p95 (latency_p95): " in page and "– now</title>" in page
