"""Every HTML dashboard, loaded in headless Chromium: panels drawn, no errors, screenshots."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboards.data import DashboardData
from renderers.html import render_html
from tests.renderers.cdp import chromium_or_skip

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"

PANEL_CHECK = """
Array.from(document.querySelectorAll('article.panel')).map(a => {
  const kind = a.dataset.kind;
  const title = a.querySelector('.panel-title').textContent.trim();
  let ok = false;
  if (kind === 'stat') {
    ok = a.querySelector('.stat-value').textContent.trim() !== '—'
      && a.querySelector('.spark path').getBBox().width > 50;
  } else if (kind === 'timeseries') {
    const paths = Array.from(a.querySelectorAll('path.series'));
    ok = paths.length > 0 && paths.every(p => p.getBBox().width > 50)
      && a.querySelectorAll('svg.chart text').length >= 6;
  } else if (kind === 'table') {
    const cells = Array.from(a.querySelectorAll('td.now'));
    ok = cells.length > 0 && cells.every(td => td.textContent.trim() !== '—');
  } else if (kind === 'budget') {
    const cells = Array.from(a.querySelectorAll('td.left .now'));
    ok = cells.length > 0 && cells.every(td => td.textContent.trim() !== '—')
      && a.querySelectorAll('a.runbook').length === cells.length;
  } else {
    ok = a.querySelectorAll('.alerts li, .empty').length > 0;
  }
  const box = a.getBoundingClientRect();
  return {title, kind, ok, visible: box.width > 100 && box.height > 50};
})
"""


@pytest.fixture(scope="module")
def site(all_data: dict[str, DashboardData], evil_data: DashboardData,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    for name, data in all_data.items():
        (root / f"{name}.html").write_text(render_html(data), encoding="utf-8")
    (root / "evil.html").write_text(render_html(evil_data), encoding="utf-8")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    path = chromium_or_skip()
    from tests.renderers.cdp import Browser
    with Browser(path) as b:
        yield b


def _requests(browser) -> list[str]:
    return [e["params"]["request"]["url"] for e in browser.events
            if e["method"] == "Network.requestWillBeSent"]


@pytest.mark.timeout(60)
def test_every_dashboard_renders_in_chromium(browser, site: str,
                                             all_data: dict[str, DashboardData]) -> None:
    for name, data in all_data.items():
        url = f"{site}/{name}.html"
        browser.load(url)
        panels = browser.evaluate(PANEL_CHECK)
        assert len(panels) == len(data.panels)
        bad = [p for p in panels if not (p["ok"] and p["visible"])]
        assert not bad, f"{name}: panels without data: {bad}"
        assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert browser.errors() == [], name
        assert _requests(browser) == [url], "the page must fetch nothing"
        browser.screenshot(SCREENSHOTS / f"{name}.png")
        assert (SCREENSHOTS / f"{name}.png").stat().st_size > 10_000


@pytest.mark.timeout(60)
def test_hostile_labels_do_not_execute(browser, site: str) -> None:
    browser.load(f"{site}/evil.html")
    assert browser.evaluate("document.querySelectorAll('script').length") == 0
    assert browser.evaluate("document.body.textContent.includes('<script>alert(1)</script>')")
    assert browser.errors() == []
    assert browser.evaluate("document.querySelectorAll('article.panel').length") == 4
