"""The report as HTML in headless Chromium: tables and charts render, no errors, screenshot."""

from __future__ import annotations

from pathlib import Path

from monitoring.app.report import generate
from monitoring.store.sqlite import SQLiteStore
from renderers.report.render import markdown_to_html
from tests.app.report.conftest import Built
from tests.renderers.cdp import chromium_or_skip

SCREENSHOT = Path(__file__).resolve().parents[3] / "out" / "screenshots" / "report.png"

PAGE_CHECK = """({
  tables: document.querySelectorAll('table').length,
  images: Array.from(document.images).map(i => ({src: i.getAttribute('src'),
                                                  w: i.naturalWidth})),
  h1: document.querySelector('h1').textContent,
  width: document.documentElement.scrollWidth,
})"""


def test_report_reads_well_in_chromium(two_weeks: Built, tmp_path: Path) -> None:
    executable = chromium_or_skip()
    from tests.renderers.cdp import Browser

    store = SQLiteStore(two_weeks.store_path)
    report, written = generate(two_weeks.config, store, two_weeks.week_start, tmp_path)
    store.close()
    page = tmp_path / "report.html"
    page.write_text(markdown_to_html(written.markdown.read_text(encoding="utf-8"),
                                     f"ION Mentoring weekly report {report.week}"),
                    encoding="utf-8")
    with Browser(executable) as browser:
        browser.load(page.as_uri(), width=1280, height=900)
        info = browser.evaluate(PAGE_CHECK)
        assert browser.errors() == []
        browser.screenshot(SCREENSHOT)
    assert info["h1"] == "ION Mentoring Weekly Status Report"
    assert info["tables"] >= 9
    assert len(info["images"]) == len(report.charts) > 0
    assert all(img["w"] == 900 for img in info["images"]), info["images"]
    assert info["width"] <= 1280  # no sideways scrolling
    assert SCREENSHOT.stat().st_size > 50_000
