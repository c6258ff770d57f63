from __future__ import annotations

import re
from html.parser import HTMLParser

from dashboards.data import DashboardData
from renderers.html import render_html


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    c = _Collector()
    c.feed(html)
    return c.tags


def test_self_contained_page(all_data: dict[str, DashboardData]) -> None:
    for data in all_data.values():
        html = render_html(data)
        tags = _tags(html)
        names = [t for t, _ in tags]
        assert "script" not in names and "link" not in names and "img" not in names
        assert not any(a.get("src") for _, a in tags)
        hrefs = [a["href"] for t, a in tags if t == "a"]
        # Links stay on the page's own site, but for the runbook, which notifications
        # and pages link to by its absolute URL (alerts.runbook_base_url).
        assert hrefs and all(h and (not h.startswith(("http:", "https:", "//"))
                                    or "/docs/runbooks.md#" in h) for h in hrefs)
        metas = {a.get("http-equiv"): a.get("content") for t, a in tags if t == "meta"}
        assert metas["refresh"] == "60"
        assert "default-src 'none'" in (metas["Content-Security-Policy"] or "")
        assert names.count("article") == len(data.panels)


def test_charts_have_axes_thresholds_and_units(all_data: dict[str, DashboardData]) -> None:
    html = render_html(all_data["latency"])
    chart = html[html.index('data-kind="timeseries"'):]
    chart = chart[:chart.index("</article>")]
    assert 'class="series c0"' in chart and re.search(r'd="M[\d.]+,[\d.]+L', chart)
    assert 'class="threshold"' in chart and "&lt; 50 ms" in chart
    assert ">ms</text>" in chart and ">12:00</text>" in chart


def test_no_refresh_for_servers_that_want_none(all_data: dict[str, DashboardData]) -> None:
    html = render_html(all_data["cache"], refresh_s=None, link_pattern="/d/{name}")
    assert 'http-equiv="refresh"' not in html and 'href="/d/overview"' in html


def test_hostile_labels_are_escaped(evil_data: DashboardData) -> None:
    html = render_html(evil_data)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    tags = _tags(html)
    assert not any(t == "a" and (a.get("href") or "").startswith("http") for t, a in tags)
    assert [t for t, _ in tags].count("article") == len(evil_data.panels)
